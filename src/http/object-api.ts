import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { InvalidObjectKeyError } from '../storage/object-store.js';
import { errors, OssError } from './errors.js';

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * "bytes=a-b", "bytes=a-", "bytes=-n" as OSS reads them: a malformed or multi-range
 * header means the whole object (undefined); a start past the end is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export function cacheControlFor(key: string): string {
  // Playlists change every segment; segments never change once written.
  if (key.endsWith('.m3u8')) return 'no-cache';
  if (key.endsWith('.ts')) return 'max-age=31536000, immutable';
  return 'no-cache';
}

export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'ETag, Content-Length, Content-Range, Accept-Ranges, x-oss-request-id',
};

export interface ObjectResponse {
  status: number;
  headers: Record<string, string>;
  body?: NodeJS.ReadableStream;
}

function notModified(info: ObjectInfo, headers: Record<string, string | string[] | undefined>): 304 | 412 | undefined {
  const one = (n: string) => {
    const v = headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const ifMatch = one('if-match');
  if (ifMatch && ifMatch !== info.etag && ifMatch !== '*') return 412;
  const ifUnmodified = one('if-unmodified-since');
  if (ifUnmodified && !Number.isNaN(Date.parse(ifUnmodified)) && Math.floor(info.lastModified / 1000) * 1000 > Date.parse(ifUnmodified)) return 412;
  const ifNoneMatch = one('if-none-match');
  if (ifNoneMatch) return ifNoneMatch === info.etag || ifNoneMatch === '*' ? 304 : undefined;
  const ifModified = one('if-modified-since');
  if (ifModified && !Number.isNaN(Date.parse(ifModified)) && Math.floor(info.lastModified / 1000) * 1000 <= Date.parse(ifModified)) return 304;
  return undefined;
}

/** GetObject / HeadObject. */
export async function getObject(
  store: ObjectStore,
  key: string,
  method: 'GET' | 'HEAD',
  requestHeaders: Record<string, string | string[] | undefined>,
  overrides: ReadonlyMap<string, string>,
): Promise<ObjectResponse> {
  let info: ObjectInfo | undefined;
  try {
    info = await store.head(key);
  } catch (err) {
    if (err instanceof InvalidObjectKeyError) throw errors.invalidArgument(`Invalid object name "${key}".`, 'ObjectName', key);
    throw err;
  }
  if (!info) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
  const headers: Record<string, string> = {
    'content-type': info.contentType,
    etag: info.etag,
    'last-modified': new Date(info.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': cacheControlFor(key),
    'x-oss-object-type': 'Normal',
  };
  const conditional = notModified(info, requestHeaders);
  if (conditional === 412) throw new OssError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.');
  if (conditional === 304) return { status: 304, headers };
  for (const [param, header] of [
    ['response-content-type', 'content-type'],
    ['response-content-language', 'content-language'],
    ['response-expires', 'expires'],
    ['response-cache-control', 'cache-control'],
    ['response-content-disposition', 'content-disposition'],
    ['response-content-encoding', 'content-encoding'],
  ] as const) {
    const v = overrides.get(param);
    if (v !== undefined) headers[header] = v;
  }
  const rangeHeader = requestHeaders.range;
  const range = parseRange(Array.isArray(rangeHeader) ? rangeHeader[0] : rangeHeader, info.size);
  if (range === 'unsatisfiable') {
    throw new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied.', { RangeRequested: String(rangeHeader), ActualObjectSize: String(info.size) });
  }
  const length = range ? range.end - range.start + 1 : info.size;
  headers['content-length'] = String(length);
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${info.size}`;
  if (method === 'HEAD') return { status: range ? 206 : 200, headers };
  const got = await store.get(key, range);
  if (!got) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
  return { status: range ? 206 : 200, headers, body: got.body };
}
