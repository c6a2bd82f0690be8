import { createHmac, timingSafeEqual } from 'node:crypto';

/** Query parameters that are part of the signed resource (OSS API reference, 4.2). */
export const SUB_RESOURCES = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append',
  'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName',
  'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live',
  'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'restore', 'versionId', 'versioning', 'versions', 'encryption', 'policy',
  'requestPayment', 'stat', 'inventory', 'inventoryId', 'continuation-token', 'worm', 'wormId', 'wormExtend',
]);

export type HeaderBag = Record<string, string | string[] | undefined>;

export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** "/bucket/key?sub1&sub2=v" with sub-resources sorted; "/bucket/" when there is no key. */
export function canonicalizedResource(bucket: string | undefined, key: string, query: ReadonlyArray<[string, string]>): string {
  let resource = bucket ? `/${bucket}/${key}` : '/';
  const subs = query.filter(([k]) => SUB_RESOURCES.has(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (subs.length > 0) resource += '?' + subs.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&');
  return resource;
}

/** x-oss-* headers, lower-cased, sorted, "name:value\n" each. */
export function canonicalizedOssHeaders(headers: HeaderBag): string {
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n.startsWith('x-oss-'))
    .sort();
  return names.map((n) => `${n}:${(headerValue(headers, n) ?? '').trim()}\n`).join('');
}

export interface StringToSignParts {
  method: string;
  contentMd5: string;
  contentType: string;
  /** The Date header (or x-oss-date), or Expires for signed URLs. */
  date: string;
  ossHeaders: string;
  resource: string;
}

export function stringToSign(p: StringToSignParts): string {
  return `${p.method.toUpperCase()}\n${p.contentMd5}\n${p.contentType}\n${p.date}\n${p.ossHeaders}${p.resource}`;
}

export function hmacSha1(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

/**
 * The query of a URL signed for a GET of /bucket/key (OSS V1 in the query string): the
 * sub-resources first, then OSSAccessKeyId, Expires (Unix seconds, as given) and Signature.
 */
export function signedGetQuery(bucket: string, key: string, subResources: [string, string][], accessKeyId: string, accessKeySecret: string, expires: number | string): [string, string][] {
  const toSign = stringToSign({ method: 'GET', contentMd5: '', contentType: '', date: String(expires), ossHeaders: '', resource: canonicalizedResource(bucket, key, subResources) });
  return [...subResources, ['OSSAccessKeyId', accessKeyId], ['Expires', String(expires)], ['Signature', hmacSha1(accessKeySecret, toSign)]];
}

export function signaturesEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * RTMP push URL signature (OSS LiveChannel 10.2):
 * base64(hmac-sha1(secret, Expires + "\n" + CanonicalizedParams + "/" + bucket + "/" + channel)),
 * CanonicalizedParams = "key:value\n" for every other parameter, sorted by key.
 */
export const UNSIGNED_PUSH_PARAMS = new Set(['OSSAccessKeyId', 'Expires', 'Signature', 'SecurityToken']);

export function pushStringToSign(bucket: string, channel: string, expires: string, params: ReadonlyArray<[string, string]>): string {
  const canonical = params
    .filter(([k]) => !UNSIGNED_PUSH_PARAMS.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}:${v}\n`)
    .join('');
  return `${expires}\n${canonical}/${bucket}/${channel}`;
}
