import { hmacSha1, pushStringToSign, signaturesEqual, UNSIGNED_PUSH_PARAMS } from '../auth/oss-signature.js';
import type { Catalog, Channel } from '../catalog/catalog.js';
import type { BucketConfig } from '../config.js';
import { validateChannelName, validatePlaylistName } from '../oss/channel-rules.js';
import { OssError } from '../oss/errors.js';
import { resolveBucket } from '../oss/resolve-bucket.js';
import { decodePushComponent, parsePushQuery } from './push-query.js';
import type { PublishRequest } from './rtmp-connection.js';

export interface PushAuthDeps {
  catalog: Catalog;
  buckets: BucketConfig[];
  defaultBucket: string;
  publicHost: string;
  secrets: ReadonlyMap<string, string>;
  /** Keys limited to some buckets. */
  keyBuckets?: ReadonlyMap<string, ReadonlySet<string>>;
  now(): number;
}

export type PushGrant = {
  ok: true;
  bucket: string;
  channel: Channel;
  playlistName: string;
  /** The push URL's parameters, Signature left out. */
  query: Record<string, string>;
};
export type PushRefusal = { ok: false; code: string; description: string };

const denied = (description: string): PushRefusal => ({ ok: false, code: 'NetStream.Publish.Denied', description });
const badName = (description: string): PushRefusal => ({ ok: false, code: 'NetStream.Publish.BadName', description });

function hostOf(tcUrl: string): string | undefined {
  const m = /^rtmp[st]?e?:\/\/([^/?#]+)/i.exec(tcUrl);
  return m?.[1];
}

/** Query parameters from the app part and the stream part; each key at most once. */
function pushParams(app: string, stream: string): [string, string][] | string {
  const out: [string, string][] = [];
  for (const raw of [app.split('?')[1], stream.split('?')[1]]) {
    if (!raw) continue;
    for (const [k, v] of parsePushQuery(raw)) {
      if (out.some(([seen]) => seen === k)) return `parameter "${k}" appears more than once`;
      out.push([k, v]);
    }
  }
  return out;
}

/**
 * The OSS push rules: app "live"; bucket from the tcUrl host (or the default bucket);
 * a valid, unexpired signature unless the bucket is public-read-write; the channel must
 * exist and be enabled. Whether it already has a publisher is the ingest's question.
 */
export async function authorizePush(deps: PushAuthDeps, req: PublishRequest): Promise<PushGrant | PushRefusal> {
  const rawName = req.streamName.split('?')[0]!;
  const channelName = decodePushComponent(rawName);
  let bucketName: string;
  try {
    bucketName = resolveBucket({ buckets: new Set(deps.buckets.map((b) => b.name)), defaultBucket: deps.defaultBucket, publicHost: deps.publicHost }, hostOf(req.tcUrl), '/').bucket;
  } catch (err) {
    return badName((err as OssError).message.replace('The specified bucket', `Bucket "${hostOf(req.tcUrl)?.split('.')[0]}"`));
  }
  const bucket = deps.buckets.find((b) => b.name === bucketName)!;
  try {
    validateChannelName(channelName);
  } catch (err) {
    return badName(`Invalid live channel name: ${(err as OssError).message}`);
  }
  const params = pushParams(req.app, req.streamName);
  if (typeof params === 'string') return denied(`Invalid push URL: ${params}.`);
  const param = (k: string) => params.find(([key]) => key === k)?.[1];

  const id = param('OSSAccessKeyId');
  const expires = param('Expires');
  const signature = param('Signature');
  const signed = id !== undefined || expires !== undefined || signature !== undefined;
  if (bucket.acl !== 'public-read-write' && !signed) {
    return denied(`Bucket "${bucketName}" is ${bucket.acl}: the push URL must be signed (OSSAccessKeyId, Expires, Signature).`);
  }
  if (signed) {
    if (!id || !expires || !signature) return denied('A signed push URL needs all of OSSAccessKeyId, Expires and Signature.');
    if (!/^\d+$/.test(expires)) return denied(`Expires must be a Unix time in seconds, not "${expires}".`);
    const secret = deps.secrets.get(id);
    if (secret === undefined) return denied(`The OSSAccessKeyId "${id}" does not exist.`);
    const allowed = deps.keyBuckets?.get(id);
    if (allowed && !allowed.has(bucketName)) return denied(`The OSSAccessKeyId "${id}" has no rights on bucket "${bucketName}".`);
    if (Number(expires) * 1000 < deps.now()) {
      return denied(`The push URL expired at ${new Date(Number(expires) * 1000).toISOString()}; sign a new one.`);
    }
    const toSign = pushStringToSign(bucketName, channelName, expires, params.filter(([k]) => !UNSIGNED_PUSH_PARAMS.has(k)));
    if (!signaturesEqual(hmacSha1(secret, toSign), signature)) {
      return denied(`The push URL signature does not match (we signed ${JSON.stringify(toSign)}); check the key and parameters.`);
    }
  }

  const channel = await deps.catalog.getChannel(bucketName, channelName);
  if (!channel) return badName(`No live channel "${channelName}" in bucket "${bucketName}"; create it with PutLiveChannel first.`);
  if (channel.status === 'disabled') return denied(`Live channel "${channelName}" is disabled.`);
  const playlistName = param('playlistName') ?? channel.playlistName;
  try {
    validatePlaylistName(playlistName, 'playlistName');
  } catch (err) {
    return badName((err as OssError).message);
  }
  return { ok: true, bucket: bucketName, channel, playlistName, query: Object.fromEntries(params.filter(([k]) => k !== 'Signature')) };
}
