import { createHash } from 'node:crypto';

/** Where segments and playlists live. The filesystem store is the embedded default. */

export interface ObjectInfo {
  key: string;
  size: number;
  /** Quoted, upper-case hex MD5 of the content, as OSS reports it for PutObject. */
  etag: string;
  contentType: string;
  /** Epoch ms. */
  lastModified: number;
}

export type ObjectData = Uint8Array | string | readonly Uint8Array[];

/** The data as one buffer. */
export function joinData(data: ObjectData): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  return Buffer.concat(data as Uint8Array[]);
}

/** An object's ETag as OSS gives it for a simple upload: its MD5, upper-case hex, quoted. */
export function md5ETag(data: Uint8Array | string): string {
  return `"${createHash('md5').update(data).digest('hex').toUpperCase()}"`;
}

export function dataLength(data: ObjectData): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof Uint8Array) return data.length;
  return (data as Uint8Array[]).reduce((n, c) => n + c.length, 0);
}

export interface ListQuery {
  prefix: string;
  marker: string;
  maxKeys: number;
  delimiter: string;
}

export interface ListResult {
  objects: ObjectInfo[];
  commonPrefixes: string[];
  truncated: boolean;
  nextMarker?: string;
}

/** An object written but not yet visible. */
export interface StagedObject {
  /** Makes it visible, atomically (replacing any object of that key). */
  commit(): Promise<ObjectInfo>;
  /** Drops it unpublished. */
  discard(): Promise<void>;
}

export interface ObjectStore {
  /**
   * Writes an object atomically: readers see the old content or the new, never part of it.
   * `data` may be a list of chunks (written in order, without concatenating where possible).
   */
  put(key: string, data: ObjectData, contentType?: string): Promise<ObjectInfo>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Reads bytes [start, end] inclusive (whole object when no range). */
  get(key: string, range?: { start: number; end: number }): Promise<{ info: ObjectInfo; body: NodeJS.ReadableStream } | undefined>;
  delete(key: string): Promise<boolean>;
  /** Keys in byte order, OSS ListObjects (v1) semantics. */
  list(query: ListQuery): Promise<ListResult>;
  /**
   * Optional: writes an object now and publishes it on commit(). Lets a caller write a
   * segment and the playlist naming it at the same time, then publish them in order.
   */
  stage?(key: string, data: ObjectData, contentType?: string): Promise<StagedObject>;
  /** Optional: deletes many objects in one request (OSS DeleteMultipleObjects, up to 1000 keys). */
  deleteMany?(keys: readonly string[]): Promise<void>;
  /** Optional: bytes free where the objects are kept (a filesystem root). */
  freeBytes?(): Promise<number>;
  /** Removes leftovers of writes a crash interrupted. */
  cleanUp?(): Promise<void>;
  /** Releases what the store keeps open between writes. */
  close?(): Promise<void>;
}

export class InvalidObjectKeyError extends Error {}

const TYPES: Record<string, string> = {
  m3u8: 'application/x-mpegURL',
  ts: 'video/MP2T',
  flv: 'video/x-flv',
  mp4: 'video/mp4',
  m4s: 'video/iso.segment',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  json: 'application/json',
  xml: 'application/xml',
  txt: 'text/plain',
  html: 'text/html',
};

export function contentTypeFor(key: string): string {
  const dot = key.lastIndexOf('.');
  return (dot >= 0 && TYPES[key.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** Applies ListObjects v1 semantics (prefix, marker, delimiter, max-keys) to sorted keys. */
export function listSorted(sortedKeys: readonly string[], q: ListQuery): { keys: string[]; commonPrefixes: string[]; truncated: boolean; nextMarker?: string } {
  const keys: string[] = [];
  const commonPrefixes: string[] = [];
  let last: string | undefined;
  for (const key of sortedKeys) {
    if (key <= q.marker || !key.startsWith(q.prefix)) continue;
    let entry = key;
    let isPrefix = false;
    if (q.delimiter) {
      const at = key.indexOf(q.delimiter, q.prefix.length);
      if (at >= 0) {
        entry = key.slice(0, at + q.delimiter.length);
        isPrefix = true;
      }
    }
    if (isPrefix && commonPrefixes.at(-1) === entry) continue;
    if (keys.length + commonPrefixes.length === q.maxKeys) return { keys, commonPrefixes, truncated: true, nextMarker: last };
    if (isPrefix) commonPrefixes.push(entry);
    else keys.push(entry);
    last = isPrefix ? entry : key;
  }
  return { keys, commonPrefixes, truncated: false };
}
