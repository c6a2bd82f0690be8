import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { contentTypeFor, InvalidObjectKeyError } from '../storage/object-store.js';
import type { LivePlaylist } from '../live/live-playlists.js';
import { errors, OssError } from '../oss/errors.js';
import type { CachedSegment, SegmentCache } from './segment-cache.js';

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

/** How long players and CDNs may keep an object: segments never change once written. */
export function cacheControlFor(key: string, publicRead: boolean, liveTargetDuration?: number): string {
  const scope = publicRead ? 'public' : 'private';
  if (key.endsWith('.ts')) return `${scope}, max-age=31536000, immutable`;
  // a live playlist changes every segment: half a target duration at most (RFC 8216 6.2.1)
  if (key.endsWith('.m3u8') && liveTargetDuration) return `${scope}, max-age=${Math.max(1, Math.floor(liveTargetDuration / 2))}`;
  return 'no-cache';
}

export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'ETag, Content-Length, Content-Range, Accept-Ranges, x-oss-request-id',
};

export interface ObjectResponse {
  status: number;
  headers: Record<string, string>;
  body?: NodeJS.ReadableStream | Buffer;
}

export function notModified(info: Pick<ObjectInfo, 'etag' | 'lastModified'>, headers: Record<string, string | string[] | undefined>): 304 | 412 | undefined {
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

export interface ObjectRead {
  method: 'GET' | 'HEAD';
  requestHeaders: Record<string, string | string[] | undefined>;
  /** response-* parameters (honoured on signed requests only). */
  overrides: ReadonlyMap<string, string>;
  publicRead: boolean;
}

/** GetObject / HeadObject from storage. */
export async function getObject(store: ObjectStore, key: string, read: ObjectRead): Promise<ObjectResponse> {
  let info: ObjectInfo | undefined;
  try {
    info = await store.head(key);
  } catch (err) {
    if (err instanceof InvalidObjectKeyError) throw errors.invalidArgument(`Invalid object name "${key}".`, 'ObjectName', key);
    throw err;
  }
  if (!info) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
  return respond(info, read, cacheControlFor(key, read.publicRead), async (range) => {
    const got = await store.get(key, range);
    if (!got) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    return got.body;
  });
}

/** GetObject / HeadObject of a segment through the cache of recently read segments. */
export async function getCachedSegment(store: ObjectStore, bucket: string, key: string, read: ObjectRead, cache: SegmentCache): Promise<ObjectResponse> {
  let hit: CachedSegment | undefined;
  try {
    hit = await cache.get(bucket, key, async () => {
      // one storage request: the read says the size before the body is read
      const got = await store.get(key);
      if (!got) return undefined;
      if (got.info.size > cache.maxObjectBytes) {
        (got.body as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        return undefined;
      }
      const chunks: Buffer[] = [];
      for await (const c of got.body) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      return { info: { ...got.info, size: body.length }, body };
    });
  } catch (err) {
    if (err instanceof InvalidObjectKeyError) throw errors.invalidArgument(`Invalid object name "${key}".`, 'ObjectName', key);
    throw err;
  }
  // missing or too large: the usual way (a 404, or streamed from storage)
  if (!hit) return getObject(store, key, read);
  const { body } = hit;
  return respond(hit.info, read, cacheControlFor(key, read.publicRead), async (range) => (range ? body.subarray(range.start, range.end + 1) : body));
}

/** GetObject / HeadObject of a live playlist this process is writing: from memory. */
export function getLivePlaylist(key: string, playlist: LivePlaylist, read: ObjectRead): Promise<ObjectResponse> {
  return getInMemory(key, playlist.body, playlist.etag, playlist.lastModified, read, cacheControlFor(key, read.publicRead, playlist.targetDuration));
}

/** GetObject / HeadObject of bytes this process holds (a live playlist, an LL-HLS part). */
export function getInMemory(key: string, body: Buffer, etag: string, lastModified: number, read: ObjectRead, cacheControl: string): Promise<ObjectResponse> {
  const info: ObjectInfo = { key, size: body.length, etag, contentType: contentTypeFor(key), lastModified };
  return respond(info, read, cacheControl, async (range) => (range ? body.subarray(range.start, range.end + 1) : body));
}

/** The headers every GetObject/HeadObject answer carries, before length and overrides. */
export function objectHeaders(info: Pick<ObjectInfo, 'contentType' | 'etag' | 'lastModified'>, cacheControl: string): Record<string, string> {
  return {
    'content-type': info.contentType,
    etag: info.etag,
    'last-modified': new Date(info.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': cacheControl,
    'x-oss-object-type': 'Normal',
  };
}

async function respond(
  info: ObjectInfo,
  read: ObjectRead,
  cacheControl: string,
  body: (range: ByteRange | undefined) => Promise<NodeJS.ReadableStream | Buffer>,
): Promise<ObjectResponse> {
  const { requestHeaders, overrides } = read;
  const headers = objectHeaders(info, cacheControl);
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
  if (read.method === 'HEAD') return { status: range ? 206 : 200, headers };
  return { status: range ? 206 : 200, headers, body: await body(range) };
}
