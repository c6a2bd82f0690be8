import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SUB_RESOURCES } from '../auth/oss-signature.js';
import type { BucketConfig } from '../config.js';
import { authenticate, type Identity } from './authenticate.js';
import { errors, OssError } from './errors.js';
import * as api from './livechannel-api.js';
import { registerConsole } from './console-routes.js';
import { signPlaylistUris } from './hls-sign.js';
import { CORS_HEADERS, getObject } from './object-api.js';
import { parseRequestUrl } from './oss-request.js';
import { resolveBucket } from './resolve-bucket.js';
import { toXml } from './xml.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpServerOptions extends api.ApiDeps {
  buckets: BucketConfig[];
  defaultBucket: string;
  publicHost: string;
  credentials: { accessKeyId: string; accessKeySecret: string }[];
  logLevel: string;
  /** Clock, for tests of signature expiry and skew. */
  now?: () => number;
}

type Access = 'read' | 'write';
type Handler = (deps: api.ApiDeps, req: api.ApiRequest) => Promise<api.ApiResponse>;

interface Operation {
  name: string;
  access: Access;
  handler: Handler;
}

/** Picks the LiveChannel operation from the method and sub-resources, as OSS does. */
function selectOperation(method: string, key: string, query: ReadonlyMap<string, string>): Operation {
  if (query.has('live')) {
    if (key === '') {
      if (method === 'GET') return { name: 'ListLiveChannel', access: 'read', handler: api.listLiveChannel };
      throw errors.methodNotAllowed(method);
    }
    switch (method) {
      case 'PUT':
        return query.has('status')
          ? { name: 'PutLiveChannelStatus', access: 'write', handler: api.putLiveChannelStatus }
          : { name: 'PutLiveChannel', access: 'write', handler: api.putLiveChannel };
      case 'GET': {
        const comp = query.get('comp');
        if (comp === 'stat') return { name: 'GetLiveChannelStat', access: 'read', handler: api.getLiveChannelStat };
        if (comp === 'history') return { name: 'GetLiveChannelHistory', access: 'read', handler: api.getLiveChannelHistory };
        if (comp !== undefined) throw errors.invalidArgument('comp must be "stat" or "history".', 'comp', comp);
        return { name: 'GetLiveChannelInfo', access: 'read', handler: api.getLiveChannelInfo };
      }
      case 'DELETE':
        return { name: 'DeleteLiveChannel', access: 'write', handler: api.deleteLiveChannel };
      default:
        throw errors.methodNotAllowed(method);
    }
  }
  if (query.has('vod')) {
    if (method === 'GET') return { name: 'GetVodPlaylist', access: 'read', handler: api.getVodPlaylist };
    if (method === 'POST') return { name: 'PostVodPlaylist', access: 'write', handler: api.postVodPlaylist };
    throw errors.methodNotAllowed(method);
  }
  // any other sub-resource (?acl, ?tagging, …) names an operation we do not offer
  const unsupported = [...query.keys()].find((k) => SUB_RESOURCES.has(k) && !k.startsWith('response-') && k !== 'security-token' && k !== 'x-oss-process');
  if (unsupported) throw errors.notImplemented(`The ?${unsupported} operation`);
  const process = query.get('x-oss-process');
  if (process !== undefined && process !== 'hls/sign') throw errors.notImplemented(`x-oss-process=${process}`);
  if (key !== '' && (method === 'GET' || method === 'HEAD')) return { name: method === 'GET' ? 'GetObject' : 'HeadObject', access: 'read', handler: OBJECT_READ };
  throw errors.notImplemented(`${method} ${key === '' ? 'on a bucket' : 'on an object'} without ?live or ?vod`);
}

/** Marker: object reads stream their body, so the dispatcher handles them itself. */
const OBJECT_READ: Handler = async () => {
  throw new Error('object reads are dispatched directly');
};

/** GET playlist?x-oss-process=hls/sign: the playlist with its segment URIs signed alike. */
async function signedPlaylist(
  opts: HttpServerOptions,
  bucket: string,
  key: string,
  identity: Identity,
  query: ReadonlyMap<string, string>,
  secrets: ReadonlyMap<string, string>,
  now: number,
): Promise<{ headers: Record<string, string>; body: string }> {
  if (!key.endsWith('.m3u8')) throw errors.invalidArgument('hls/sign applies to .m3u8 playlists only.', 'x-oss-process', 'hls/sign');
  const got = await opts.storeFor(bucket).get(key).catch(() => undefined);
  if (!got) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
  let text = '';
  for await (const chunk of got.body) text += chunk.toString();
  const headers = { 'content-type': 'application/x-mpegURL', 'cache-control': 'no-cache' };
  if (!identity.accessKeyId) return { headers, body: text }; // public bucket: nothing to sign
  // segments expire with the playlist URL (or in an hour when the request was header-signed)
  const expires = query.get('Expires') ?? String(Math.floor(now / 1000) + 3600);
  const key2 = { accessKeyId: identity.accessKeyId, accessKeySecret: secrets.get(identity.accessKeyId)! };
  return { headers, body: signPlaylistUris(text, key, bucket, key2, expires) };
}

function authorize(identity: Identity, access: Access, bucket: BucketConfig): void {
  if (identity.accessKeyId) return;
  if (access === 'read' && bucket.acl !== 'private') return;
  if (access === 'write' && bucket.acl === 'public-read-write') return;
  throw errors.accessDenied('You have no right to access this resource because of the bucket acl; sign the request.');
}

function sendError(reply: FastifyReply, err: OssError): FastifyReply {
  const requestId = String(reply.request.id);
  reply.header('x-oss-request-id', requestId);
  const body = toXml({
    Error: { Code: err.code, Message: err.message, RequestId: requestId, HostId: reply.request.hostname, ...err.extra },
  });
  return reply.code(err.status).header('content-type', 'application/xml').send(reply.request.method === 'HEAD' ? undefined : body);
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const buckets = new Map(opts.buckets.map((b) => [b.name, b]));
  const bucketNames = new Set(buckets.keys());
  const secrets = new Map(opts.credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));
  const now = opts.now ?? Date.now;

  const app = Fastify({
    logger: { level: opts.logLevel },
    bodyLimit: MAX_BODY_BYTES,
    genReqId: () => randomBytes(12).toString('hex').toUpperCase(),
    // Errors Fastify raises before routing (a URL it cannot decode) get OSS XML too.
    frameworkErrors: (err, _req, reply) =>
      sendError(reply, err.code === 'FST_ERR_BAD_URL' ? errors.invalidUri('The request URI is not valid.') : new OssError(400, 'InvalidRequest', err.message)),
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-oss-request-id', req.id);
    reply.header('server', 'livechannel');
    reply.headers(CORS_HEADERS);
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    if (err instanceof OssError) return sendError(reply, err);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, errors.entityTooLarge(MAX_BODY_BYTES));
    if (err.statusCode && err.statusCode < 500) return sendError(reply, new OssError(err.statusCode, 'InvalidRequest', err.message));
    req.log.error({ err }, 'request failed');
    return sendError(reply, new OssError(500, 'InternalError', 'We encountered an internal error. Please try again.'));
  });

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const { path, query } = parseRequestUrl(req.url);
    const target = resolveBucket({ buckets: bucketNames, defaultBucket: opts.defaultBucket, publicHost: opts.publicHost }, req.headers.host, path);
    const bucket = buckets.get(target.bucket)!;
    const identity = authenticate({ method: req.method, headers: req.headers, query, bucket: target.bucket, key: target.key }, secrets, now());
    const queryMap = new Map<string, string>();
    for (const [k, v] of query) if (!queryMap.has(k)) queryMap.set(k, v);
    const op = selectOperation(req.method, target.key, queryMap);
    authorize(identity, op.access, bucket);
    req.log.debug({ op: op.name, bucket: target.bucket, key: target.key, accessKeyId: identity.accessKeyId }, 'operation');
    if (op.handler === OBJECT_READ) {
      if (queryMap.get('x-oss-process') === 'hls/sign') {
        const res = await signedPlaylist(opts, target.bucket, target.key, identity, queryMap, secrets, now());
        reply.code(200).headers(res.headers);
        return reply.send(req.method === 'HEAD' ? '' : res.body);
      }
      // OSS honours response-* overrides on signed requests only
      const overrides = identity.accessKeyId ? queryMap : new Map<string, string>();
      const obj = await getObject(opts.storeFor(target.bucket), target.key, req.method as 'GET' | 'HEAD', req.headers, overrides);
      reply.code(obj.status).headers(obj.headers);
      return reply.send(obj.body ?? '');
    }
    const res = await op.handler(opts, { bucket: target.bucket, key: target.key, query: queryMap, body: req.body as Buffer | undefined });
    reply.code(res.status).headers(res.headers ?? {});
    return reply.send(res.body ?? '');
  };

  // CORS preflight, so that browser players can fetch playlists and segments (with Range)
  const preflight = async (_req: FastifyRequest, reply: FastifyReply) =>
    reply
      .code(200)
      .headers({
        ...CORS_HEADERS,
        'access-control-allow-methods': 'GET, HEAD, PUT, POST, DELETE',
        'access-control-allow-headers': 'Range, Authorization, Content-Type, Content-MD5, Date, x-oss-date, x-oss-security-token, x-oss-user-agent',
        'access-control-max-age': '86400',
      })
      .send();
  registerConsole(app, opts.buckets, opts.defaultBucket, opts.urls);
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/', handler: handle });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/*', handler: handle });
  app.route({ method: 'OPTIONS', url: '/', handler: preflight });
  app.route({ method: 'OPTIONS', url: '/*', handler: preflight });
  return app;
}
