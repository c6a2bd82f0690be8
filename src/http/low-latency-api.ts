import type { LowLatencyStream, LowLatencyStreams } from '../live/low-latency.js';
import { errors, OssError } from '../oss/errors.js';
import { md5ETag } from '../storage/object-store.js';
import { cacheControlFor, getInMemory, type ObjectRead, type ObjectResponse } from './object-api.js';

/** ETags of in-memory parts and segments, computed once each. */
const etags = new WeakMap<Uint8Array, string>();

function etagOf(data: Uint8Array): string {
  let etag = etags.get(data);
  if (!etag) etags.set(data, (etag = md5ETag(data)));
  return etag;
}

function sequenceParam(query: ReadonlyMap<string, string>, name: string): number | undefined {
  const v = query.get(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw errors.invalidArgument(`${name} must be a non-negative integer.`, name, v);
  return Number(v);
}

/**
 * GetObject of what an LL-HLS publish on this process holds: its playlist (blocking until
 * `_HLS_msn`/`_HLS_part` when asked), its parts (blocking for the preload-hinted one), and
 * its newest segments and init segments before they reach storage. Undefined: not here,
 * storage answers.
 */
export async function getLowLatency(streams: LowLatencyStreams, bucket: string, key: string, query: ReadonlyMap<string, string>, read: ObjectRead, now: number): Promise<ObjectResponse | undefined> {
  const stream = streams.playlist(bucket, key);
  if (stream) return playlist(stream, key, query, read, now);
  const owner = streams.objectOwner(bucket, key);
  if (!owner) return undefined;
  // a player asks for the hinted part as soon as it reads the playlist: hold it until the part is cut
  const data = await owner.stream.waitForObject(owner.uri, 3000 + 3 * owner.stream.partTarget * 1000);
  if (!data) return undefined;
  const body = Buffer.from(data.buffer, data.byteOffset, data.length);
  return getInMemory(key, body, etagOf(data), now, read, cacheControlFor(key, read.publicRead));
}

async function playlist(stream: LowLatencyStream, key: string, query: ReadonlyMap<string, string>, read: ObjectRead, now: number): Promise<ObjectResponse> {
  const msn = sequenceParam(query, '_HLS_msn');
  const part = sequenceParam(query, '_HLS_part');
  if (part !== undefined && msn === undefined) throw errors.invalidArgument('_HLS_part needs _HLS_msn.', '_HLS_part', String(part));
  if (msn !== undefined) {
    // RFC 8216bis 6.2.5.2: wait at most three target durations
    const answer = await stream.waitForPlaylist(msn, part, 3 * stream.targetDuration * 1000);
    if (answer === 'too-far') throw errors.invalidArgument(`_HLS_msn ${msn} is more than two segments past the playlist's last (${stream.lastSequence()}).`, '_HLS_msn', String(msn));
    if (answer === 'timeout') throw new OssError(503, 'ServiceUnavailable', `Segment ${msn}${part === undefined ? '' : ` part ${part}`} did not appear in time.`);
  }
  const { body, etag } = stream.playlistBody();
  return getInMemory(key, body, etag, now, read, 'no-cache');
}
