import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BucketConfig } from '../config.js';
import type { LivePlaylist, LivePlaylists } from '../live/live-playlists.js';
import type { LowLatencyStreams } from '../live/low-latency.js';
import { contentTypeFor } from '../storage/object-store.js';
import { CORS_HEADERS, cacheControlFor, notModified, objectHeaders } from './object-api.js';
import { resolveBucket, type BucketResolverOptions } from '../oss/resolve-bucket.js';

export interface FastPathOptions {
  playlists: LivePlaylists;
  /** LL-HLS playlists are answered by GetObject (parts, blocking reload), not here. */
  lowLatency?: LowLatencyStreams;
  buckets: ReadonlyMap<string, BucketConfig>;
  resolver: BucketResolverOptions;
  requestId: () => string;
  /** Counts a request answered here (GetObject, by status). */
  count(status: number): void;
}

/**
 * The hottest request of an origin: an anonymous GET of a live playlist of a public bucket,
 * polled by every viewer every target duration. It is answered here, before the framework's
 * routing, hooks and reply objects, from the bytes and headers prepared once per playlist
 * version. Anything else (a query string, a signature, a Range, a private bucket, a playlist
 * not live on this process) returns false and takes the usual way, with the same answer.
 */
export function liveFastPath(o: FastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const prepared = new WeakMap<LivePlaylist, Record<string, string>>();
  const headersOf = (key: string, playlist: LivePlaylist): Record<string, string> => {
    let h = prepared.get(playlist);
    if (!h) {
      h = {
        server: 'livechannel',
        ...CORS_HEADERS,
        ...objectHeaders({ contentType: contentTypeFor(key), ...playlist }, cacheControlFor(key, true, playlist.targetDuration)),
        'content-length': String(playlist.body.length),
      };
      prepared.set(playlist, h);
    }
    return h;
  };

  return (req, res) => {
    const method = req.method;
    const url = req.url;
    if ((method !== 'GET' && method !== 'HEAD') || !url || url.includes('?') || !url.endsWith('.m3u8')) return false;
    const headers = req.headers;
    if (headers.authorization !== undefined || headers.range !== undefined || headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined) return false;
    let path: string;
    try {
      path = decodeURIComponent(url);
    } catch {
      return false;
    }
    let target;
    try {
      target = resolveBucket(o.resolver, headers.host, path);
    } catch {
      return false;
    }
    if (o.buckets.get(target.bucket)?.acl === 'private') return false;
    const playlist = o.playlists.get(target.bucket, target.key);
    if (!playlist || o.lowLatency?.playlist(target.bucket, target.key)) return false;
    const ready = headersOf(target.key, playlist);
    if (notModified(playlist, headers) === 304) {
      const { 'content-length': _length, ...unchanged } = ready;
      res.writeHead(304, { ...unchanged, 'x-oss-request-id': o.requestId() });
      res.end();
      o.count(304);
      return true;
    }
    res.writeHead(200, { ...ready, 'x-oss-request-id': o.requestId() });
    res.end(method === 'GET' ? playlist.body : undefined);
    o.count(200);
    return true;
  };
}
