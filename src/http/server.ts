import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SUB_RESOURCES } from '../auth/oss-signature.js';
import type { BucketConfig } from '../config.js';
import { authenticate, type Identity } from './authenticate.js';
import { errors, OssError } from '../oss/errors.js';
import * as api from './livechannel-api.js';
import { registerConsole } from './console-routes.js';
import { signPlaylistUris } from './hls-sign.js';
import type { LivePlaylists } from '../live/live-playlists.js';
import type { LowLatencyStreams } from '../live/low-latency.js';
import type { LowLatencyPeers } from '../cluster/low-latency-peers.js';
import { getLowLatency } from './low-latency-api.js';
import { liveFastPath } from './live-playlist-fast-path.js';
import { CORS_HEADERS, getCachedSegment, getInMemory, getLivePlaylist, getObject, type ObjectRead, type ObjectResponse } from './object-api.js';
import type { SegmentCache } from './segment-cache.js';
import { deleteMultipleObjects, deleteObject, listObjects, putObject } from './object-write-api.js';
import { parseRequestUrl } from './oss-request.js';
import { resolveBucket } from '../oss/resolve-bucket.js';
import type { Metrics } from '../metrics.js';
import { toXml } from './xml.js';
import type { SigningKey } from '../events/signing-key.js';
import { parseUploadCallback, type UploadCallbacks } from '../events/upload-callback.js';
import { contentTypeFor } from '../storage/object-store.js';
import { getLiveChannelHealth } from './health-api.js';

/** XML request documents (LiveChannel configurations) are small. */
export const MAX_XML_BYTES = 64 * 1024;
/** PutObject bodies (segments, playlists) may be large. */
export const MAX_OBJECT_BYTES = 64 * 1024 * 1024;

export interface HttpServerOptions extends api.ApiDeps {
  metrics: Metrics;
  /** Management requests per key (or per IP for anonymous ones); throws SlowDown past the rate. */
  limiter?: { check(who: string, peer: string): void };
  /** Live playlists this process is writing, served from memory. */
  playlists?: LivePlaylists;
  /** LL-HLS channels this process is publishing: playlists with parts, parts, newest segments. */
  lowLatency?: LowLatencyStreams;
  /** LL-HLS channels another process publishes: their requests are forwarded there. */
  lowLatencyPeers?: LowLatencyPeers;
  /** Recently read segments, served from memory. */
  segments?: SegmentCache;
  /** Object reads per client address, whoever signed them; throws SlowDown past the rate. */
  readLimiter?: { check(who: string, peer: string): void };
  /** Keys limited to some buckets (keys absent here may use every bucket). */
  keyBuckets?: ReadonlyMap<string, ReadonlySet<string>>;
  maxBodyBytes?: number;
  onLimit?: (limit: string, peer: string) => void;
  /** Ready to take work (catalog open and answering, listening, not overloaded): true, or why not. */
  ready: () => true | string | Promise<true | string>;
  /** This gateway's node id, on every log line. */
  nodeId?: string;
  /** /metrics text when it is not just this process's registry (the workers of one `serve`, summed). */
  metricsText?: () => Promise<{ text: string; contentType: string }>;
  buckets: BucketConfig[];
  defaultBucket: string;
  publicHost: string;
  credentials: { accessKeyId: string; accessKeySecret: string }[];
  /** Where the demo key is kept, when the gateway runs on one (the console's sign-in says so). */
  demoCredentialsFile?: string;
  logLevel: string;
  /** Clock, for tests of signature expiry and skew. */
  now?: () => number;
  /** PutObject's x-oss-callback (refused as not implemented when absent). */
  uploadCallbacks?: UploadCallbacks;
  /** The key that signs callbacks and notifications, served at /_livechannel/events-key/<id>.pem. */
  signingKey?: () => Promise<SigningKey>;
}

type Access = 'read' | 'write';

/** Everything an operation sees of its request. */
interface OpContext {
  deps: HttpServerOptions;
  bucket: string;
  key: string;
  method: string;
  query: ReadonlyMap<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | undefined;
  identity: Identity;
  secrets: ReadonlyMap<string, string>;
  now: number;
  /** Anybody may read the bucket (caches may share what it serves). */
  publicRead: boolean;
  acl: BucketConfig['acl'];
  log: FastifyBaseLogger;
}

interface OpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer | NodeJS.ReadableStream;
}

interface Operation {
  name: string;
  access: Access;
  /** Largest body this operation reads (XML documents are small). */
  maxBody?: number;
  run(ctx: OpContext): Promise<OpResponse>;
}

const NO_OVERRIDES: ReadonlyMap<string, string> = new Map();

/** An object written or deleted through the API: memory must not answer for it any more. */
function forgetCached(ctx: OpContext): void {
  ctx.deps.playlists?.withdraw(ctx.bucket, ctx.key);
  ctx.deps.segments?.forget(ctx.bucket, ctx.key);
}

const header = (ctx: OpContext, name: string) => {
  const v = ctx.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

const api$ = (name: string, access: Access, handler: (deps: api.ApiDeps, req: api.ApiRequest) => Promise<api.ApiResponse>, maxBody?: number): Operation => ({
  name,
  access,
  maxBody,
  run: (ctx) =>
    handler(ctx.deps, {
      bucket: ctx.bucket,
      key: ctx.key,
      query: ctx.query,
      body: ctx.body,
      accept: header(ctx, 'accept'),
      authorizeWrite: (name) => {
        const target = ctx.deps.buckets.find((b) => b.name === name);
        if (!target) throw errors.noSuchBucket(name);
        authorize(ctx.identity, 'write', target, ctx.deps.keyBuckets);
      },
    }),
});

const OPS = {
  list: api$('ListLiveChannel', 'read', api.listLiveChannel),
  put: api$('PutLiveChannel', 'write', api.putLiveChannel, MAX_XML_BYTES),
  putStatus: api$('PutLiveChannelStatus', 'write', api.putLiveChannelStatus),
  info: api$('GetLiveChannelInfo', 'read', api.getLiveChannelInfo),
  stat: api$('GetLiveChannelStat', 'read', api.getLiveChannelStat),
  history: api$('GetLiveChannelHistory', 'read', api.getLiveChannelHistory),
  health: api$('GetLiveChannelHealth', 'read', getLiveChannelHealth),
  remove: api$('DeleteLiveChannel', 'write', api.deleteLiveChannel),
  getVod: api$('GetVodPlaylist', 'read', api.getVodPlaylist),
  postVod: api$('PostVodPlaylist', 'write', api.postVodPlaylist),
  getObject: {
    name: 'GetObject',
    access: 'read',
    run: async (ctx) => {
      if (ctx.query.get('x-oss-process') === 'hls/sign') return signedPlaylist(ctx);
      const read = {
        method: ctx.method as 'GET' | 'HEAD',
        requestHeaders: ctx.headers,
        // OSS honours response-* overrides on signed requests only
        overrides: ctx.identity.accessKeyId ? ctx.query : NO_OVERRIDES,
        publicRead: ctx.publicRead,
      };
      const lowLatency = await lowLatencyObject(ctx, read);
      if (lowLatency) return lowLatency;
      const live = ctx.deps.playlists?.get(ctx.bucket, ctx.key);
      if (live) return getLivePlaylist(ctx.key, live, read);
      const store = ctx.deps.storeFor(ctx.bucket);
      if (ctx.deps.segments && ctx.key.endsWith('.ts')) return getCachedSegment(store, ctx.bucket, ctx.key, read, ctx.deps.segments);
      return getObject(store, ctx.key, read);
    },
  },
  putObject: {
    name: 'PutObject',
    access: 'write',
    run: async (ctx) => {
      forgetCached(ctx);
      // a bad callback is refused before anything is stored
      const callbackHeader = header(ctx, 'x-oss-callback');
      const callback = callbackHeader ? parseUploadCallback(callbackHeader, header(ctx, 'x-oss-callback-var')) : undefined;
      if (callback && !ctx.deps.uploadCallbacks) throw errors.notImplemented('Upload callbacks');
      const checked = callback && (await ctx.deps.uploadCallbacks!.check(ctx.log, callback, { bucket: ctx.bucket, accessKeyId: ctx.identity.accessKeyId }));
      const stored = await putObject(ctx.deps.storeFor(ctx.bucket), ctx.key, ctx.body, header(ctx, 'content-md5'), header(ctx, 'content-type'));
      if (!checked || !ctx.deps.uploadCallbacks) return stored;
      return ctx.deps.uploadCallbacks.run(ctx.log, checked, {
        bucket: ctx.bucket,
        object: ctx.key,
        etag: stored.headers.etag,
        size: ctx.body?.length ?? 0,
        mimeType: header(ctx, 'content-type') ?? contentTypeFor(ctx.key),
      });
    },
  },
  deleteObject: {
    name: 'DeleteObject',
    access: 'write',
    run: (ctx) => {
      forgetCached(ctx);
      return deleteObject(ctx.deps.storeFor(ctx.bucket), ctx.key);
    },
  },
  deleteObjects: {
    name: 'DeleteMultipleObjects',
    access: 'write',
    maxBody: 2 * 1024 * 1024,
    run: (ctx) => {
      // the live ones are put back with their next segment
      ctx.deps.playlists?.withdrawBucket(ctx.bucket);
      ctx.deps.segments?.forgetBucket(ctx.bucket);
      return deleteMultipleObjects(ctx.deps.storeFor(ctx.bucket), ctx.body, header(ctx, 'content-md5'));
    },
  },
  listObjects: { name: 'GetBucket', access: 'read', run: (ctx) => listObjects(ctx.deps.storeFor(ctx.bucket), ctx.bucket, ctx.query) },
  // what clients (the CLI among them) ask to know whether URLs must be signed
  getBucketAcl: {
    name: 'GetBucketAcl',
    access: 'write',
    run: async (ctx) => ({
      status: 200,
      headers: { 'content-type': 'application/xml' },
      body: toXml({
        AccessControlPolicy: {
          Owner: { ID: ctx.identity.accessKeyId ?? 'anonymous', DisplayName: ctx.identity.accessKeyId ?? 'anonymous' },
          AccessControlList: { Grant: ctx.acl },
        },
      }),
    }),
  },
} satisfies Record<string, Operation>;

/** Picks the operation from the method and sub-resources, as OSS does. */
function selectOperation(method: string, key: string, query: ReadonlyMap<string, string>): Operation {
  if (query.has('live')) {
    if (key === '') {
      if (method === 'GET') return OPS.list;
      throw errors.methodNotAllowed(method);
    }
    switch (method) {
      case 'PUT':
        return query.has('status') ? OPS.putStatus : OPS.put;
      case 'GET': {
        const comp = query.get('comp');
        if (comp === 'stat') return OPS.stat;
        if (comp === 'history') return OPS.history;
        if (comp === 'health') return OPS.health;
        if (comp !== undefined) throw errors.invalidArgument('comp must be "stat", "history" or "health".', 'comp', comp);
        return OPS.info;
      }
      case 'DELETE':
        return OPS.remove;
      default:
        throw errors.methodNotAllowed(method);
    }
  }
  if (query.has('vod')) {
    if (method === 'GET') return OPS.getVod;
    if (method === 'POST') return OPS.postVod;
    throw errors.methodNotAllowed(method);
  }
  if (key === '' && method === 'POST' && query.has('delete')) return OPS.deleteObjects;
  if (key === '' && method === 'GET' && query.has('acl')) return OPS.getBucketAcl;
  // any other sub-resource (?acl, ?tagging, …) names an operation we do not offer
  const unsupported = [...query.keys()].find((k) => SUB_RESOURCES.has(k) && !k.startsWith('response-') && k !== 'security-token' && k !== 'x-oss-process');
  if (unsupported) throw errors.notImplemented(`The ?${unsupported} operation`);
  const process = query.get('x-oss-process');
  if (process !== undefined && process !== 'hls/sign') throw errors.notImplemented(`x-oss-process=${process}`);
  if (key === '') {
    if (method === 'GET' || method === 'HEAD') return OPS.listObjects;
    throw errors.methodNotAllowed(method);
  }
  if (method === 'GET' || method === 'HEAD') return OPS.getObject;
  if (method === 'PUT') return OPS.putObject;
  if (method === 'DELETE') return OPS.deleteObject;
  throw errors.methodNotAllowed(method);
}

/** GET playlist?x-oss-process=hls/sign: the playlist with its segment URIs signed alike. */
async function signedPlaylist(ctx: OpContext): Promise<OpResponse> {
  if (!ctx.key.endsWith('.m3u8')) throw errors.invalidArgument('hls/sign applies to .m3u8 playlists only.', 'x-oss-process', 'hls/sign');
  const text = await playlistText(ctx);
  const headers = { 'content-type': 'application/x-mpegURL', 'cache-control': 'no-cache' };
  const id = ctx.identity.accessKeyId;
  if (!id) return { status: 200, headers, body: text }; // public bucket: nothing to sign
  // segments expire with the playlist URL (or in an hour when the request was header-signed)
  const expires = ctx.query.get('Expires') ?? String(Math.floor(ctx.now / 1000) + 3600);
  return { status: 200, headers, body: signPlaylistUris(text, ctx.key, ctx.bucket, { accessKeyId: id, accessKeySecret: ctx.secrets.get(id)! }, expires) };
}

/**
 * What an LL-HLS publish holds (a playlist, blocking reloads, parts, the newest segments): from
 * this process, or forwarded to the process publishing it. Undefined: storage answers.
 */
async function lowLatencyObject(ctx: OpContext, read: ObjectRead): Promise<ObjectResponse | undefined> {
  const here = ctx.deps.lowLatency && (await getLowLatency(ctx.deps.lowLatency, ctx.bucket, ctx.key, ctx.query, read, ctx.now));
  if (here) return here;
  const forwarded = ctx.deps.lowLatencyPeers && (await ctx.deps.lowLatencyPeers.forward(ctx.bucket, ctx.key, ctx.query));
  if (!forwarded) return undefined;
  if (!forwarded.ok) throw new OssError(forwarded.status, forwarded.code, forwarded.message, forwarded.extra);
  const { headers, body } = forwarded;
  return getInMemory(ctx.key, body, headers.etag ?? '', Date.parse(headers['last-modified'] ?? '') || ctx.now, read, headers['cache-control'] ?? 'no-cache');
}

async function playlistText(ctx: OpContext): Promise<string> {
  const lowLatency = await lowLatencyObject(ctx, { method: 'GET', requestHeaders: {}, overrides: NO_OVERRIDES, publicRead: ctx.publicRead });
  if (lowLatency?.body) return lowLatency.body.toString();
  const live = ctx.deps.playlists?.get(ctx.bucket, ctx.key);
  if (live) return live.body.toString();
  const got = await ctx.deps.storeFor(ctx.bucket).get(ctx.key).catch(() => undefined);
  if (!got) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: ctx.key });
  let text = '';
  for await (const chunk of got.body) text += chunk.toString();
  return text;
}

function authorize(identity: Identity, access: Access, bucket: BucketConfig, keyBuckets?: ReadonlyMap<string, ReadonlySet<string>>): void {
  if (identity.accessKeyId) {
    // a key limited to some buckets is a stranger everywhere else
    const allowed = keyBuckets?.get(identity.accessKeyId);
    if (!allowed || allowed.has(bucket.name)) return;
    throw errors.accessDenied(`The access key "${identity.accessKeyId}" has no rights on bucket "${bucket.name}".`);
  }
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

/**
 * OSS-style request ids (24 upper-case hex digits): a random prefix per server, then a
 * counter. Unique without drawing random bytes for every request of a busy origin.
 */
function requestIds(): () => string {
  const prefix = randomBytes(6).toString('hex').toUpperCase();
  let n = 0;
  return () => prefix + (n++ % 0x1_0000_0000_0000).toString(16).toUpperCase().padStart(12, '0');
}

/** Fastify's HTTP server, with live playlists of public buckets answered before its routing. */
/** The Fastify instance, and its request listener for other servers (HTTPS) to run. */
export type HttpApp = FastifyInstance & { handleRequest(req: IncomingMessage, res: ServerResponse): void };

/**
 * Fastify's server, made here so that its request listener (with the live playlist fast path
 * in front, when on) can serve HTTPS too.
 */
function serverFactory(fast: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined, keep: (listener: (req: IncomingMessage, res: ServerResponse) => void) => void) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void, fastifyOptions: Record<string, unknown>) => {
    const o = fastifyOptions as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
    const listener = fast
      ? (req: IncomingMessage, res: ServerResponse) => {
          if (!fast(req, res)) handler(req, res);
        }
      : handler;
    keep(listener);
    const server = createServer(listener);
    // what Fastify sets on a server it makes itself
    server.keepAliveTimeout = o.keepAliveTimeout;
    server.requestTimeout = o.requestTimeout;
    server.setTimeout(o.connectionTimeout);
    return server;
  };
}

function liveFastPathFor(opts: HttpServerOptions, buckets: ReadonlyMap<string, BucketConfig>, bucketNames: ReadonlySet<string>, requestId: () => string) {
  return liveFastPath({
    playlists: opts.playlists!,
    lowLatency: opts.lowLatency,
    buckets,
    resolver: { buckets: bucketNames, defaultBucket: opts.defaultBucket, publicHost: opts.publicHost },
    requestId,
    count: (status) => opts.metrics.apiRequests.inc({ op: 'GetObject', status: String(status) }),
  });
}

export function buildHttpServer(opts: HttpServerOptions): HttpApp {
  const buckets = new Map(opts.buckets.map((b) => [b.name, b]));
  const bucketNames = new Set(buckets.keys());
  const secrets = new Map(opts.credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));
  const now = opts.now ?? Date.now;

  const requestId = requestIds();
  /** A request answered slower than this is logged at info. */
  const SLOW_REQUEST_MS = 1000;
  let listener: (req: IncomingMessage, res: ServerResponse) => void = () => {
    throw new Error('the HTTP server is not built yet');
  };
  const app = Fastify({
    // with per-address read limits on, every read goes through them (the usual way)
    serverFactory: serverFactory(opts.playlists && !opts.readLimiter ? liveFastPathFor(opts, buckets, bucketNames, requestId) : undefined, (l) => (listener = l)),
    logger: { level: opts.logLevel, ...(opts.nodeId ? { base: { pid: process.pid, node: opts.nodeId } } : {}) },
    bodyLimit: opts.maxBodyBytes ?? MAX_OBJECT_BYTES,
    genReqId: requestId,
    // one line per request, written below at debug (errors and slow requests higher): at
    // info, players' segment fetches and the console's polls drowned everything else
    logController: new LogController({ disableRequestLogging: true }),
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
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      opts.onLimit?.('http_body', req.ip);
      return sendError(reply, errors.entityTooLarge(opts.maxBodyBytes ?? MAX_OBJECT_BYTES));
    }
    if (err.statusCode && err.statusCode < 500) return sendError(reply, new OssError(err.statusCode, 'InvalidRequest', err.message));
    req.log.error({ err }, 'request failed');
    return sendError(reply, new OssError(500, 'InternalError', 'We encountered an internal error. Please try again.'));
  });

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const tagged = req as FastifyRequest & { ossOp?: string };
    tagged.ossOp = 'Unknown';
    const { path, query } = parseRequestUrl(req.url);
    const target = resolveBucket({ buckets: bucketNames, defaultBucket: opts.defaultBucket, publicHost: opts.publicHost }, req.headers.host, path);
    const bucket = buckets.get(target.bucket)!;
    const queryMap = new Map<string, string>();
    for (const [k, v] of query) if (!queryMap.has(k)) queryMap.set(k, v);
    const op = selectOperation(req.method, target.key, queryMap);
    tagged.ossOp = op.name;
    const identity = authenticate({ method: req.method, headers: req.headers, query, bucket: target.bucket, key: target.key }, secrets, now());
    // viewers of one channel share a signing key: object reads are never limited per key
    if (op === OPS.getObject) opts.readLimiter?.check(`ip:${req.ip}`, req.ip);
    else opts.limiter?.check(identity.accessKeyId ?? `ip:${req.ip}`, req.ip);
    authorize(identity, op.access, bucket, opts.keyBuckets);
    const body = req.body as Buffer | undefined;
    if (op.maxBody !== undefined && body && body.length > op.maxBody) throw errors.entityTooLarge(op.maxBody);
    req.log.debug({ op: op.name, bucket: target.bucket, key: target.key, accessKeyId: identity.accessKeyId }, 'operation');
    const res = await op.run({
      deps: opts,
      bucket: target.bucket,
      key: target.key,
      method: req.method,
      query: queryMap,
      headers: req.headers,
      body,
      identity,
      secrets,
      now: now(),
      publicRead: bucket.acl !== 'private',
      acl: bucket.acl,
      log: req.log,
    });
    reply.code(res.status).headers(res.headers ?? {});
    if (req.method !== 'HEAD') return reply.send(res.body ?? '');
    // HEAD answers with the length GET would send (an object's is in its headers already)
    if (reply.getHeader('content-length') === undefined && (typeof res.body === 'string' || Buffer.isBuffer(res.body))) reply.header('content-length', Buffer.byteLength(res.body));
    return reply.send('');
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
  registerConsole(app, opts.buckets, opts.defaultBucket, opts.urls, opts.demoCredentialsFile);
  // Operations. These names shadow objects of the same name in the default bucket.
  app.get<{ Params: { file: string } }>('/_livechannel/events-key/:file', async (req, reply) => {
    const key = await opts.signingKey?.().catch(() => undefined);
    if (!key || req.params.file !== `${key.keyId}.pem`) return reply.code(404).type('text/plain').send('no such key on this node\n');
    return reply.type('application/x-pem-file').header('cache-control', 'public, max-age=86400').send(key.publicKeyPem);
  });
  app.get('/healthz', async (_req, reply) => reply.type('application/json').send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = await opts.ready();
    return ready === true
      ? reply.type('application/json').send({ status: 'ready' })
      : reply.code(503).type('application/json').send({ status: 'unavailable', reason: ready });
  },
  );
  app.get('/metrics', async (_req, reply) => {
    if (opts.metricsText) {
      const { text, contentType } = await opts.metricsText();
      return reply.type(contentType).send(text);
    }
    return reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics());
  });
  app.addHook('onResponse', async (req, reply) => {
    const op = (req as FastifyRequest & { ossOp?: string }).ossOp;
    if (op) opts.metrics.apiRequests.inc({ op, status: String(reply.statusCode) });
    const ms = Math.round(reply.elapsedTime);
    const line = { method: req.method, path: req.url.split('?')[0], op, status: reply.statusCode, ms, remote: req.ip };
    if (reply.statusCode >= 500) req.log.warn(line, 'request failed');
    else if (ms >= SLOW_REQUEST_MS) req.log.info(line, 'slow request');
    else req.log.debug(line, 'request');
  });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/', handler: handle });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/*', handler: handle });
  // every path is routed for the methods OSS uses: what reaches here is another method
  app.setNotFoundHandler((req, reply) => sendError(reply, errors.methodNotAllowed(req.method)));
  app.route({ method: 'OPTIONS', url: '/', handler: preflight });
  app.route({ method: 'OPTIONS', url: '/*', handler: preflight });
  return Object.assign(app, { handleRequest: (req: IncomingMessage, res: ServerResponse) => listener(req, res) });
}
