/**
 * A load generator: many RTMP publishers in one process, each replaying an FLV at real-time
 * pace with continuous timestamps (the file loops). The file is chunk-encoded once, with
 * delta timestamps, so every stream and every loop sends the same prebuilt bytes.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseFlv, TAG_AUDIO, TAG_VIDEO } from '../../src/media/flv.js';
import { parseVideoTag } from '../../src/media/flv-tags.js';
import { c0c1, message, publishCommands, setChunkSize } from './rtmp-wire.js';

/** Publishers chunk like ffmpeg and OBS do. */
const CHUNK = 4096;

interface Prepared {
  /** Sequence headers with absolute timestamp 0 (fmt 0), sent once per stream. */
  preamble: Buffer;
  /** Per tag: due time (ms since stream start, first loop) and its delta-encoded chunks. */
  tags: { due: number; bytes: Buffer; keyframe: boolean }[];
  /** Media span of one loop, ms. */
  span: number;
  bytesPerLoop: number;
}

export function prepare(file: Buffer): Prepared {
  const all = parseFlv(file).filter((t) => t.type === TAG_AUDIO || t.type === TAG_VIDEO);
  const isHeader = (t: (typeof all)[number]) => t.data[1] === 0;
  const headers = all.filter(isHeader);
  const media = all.filter((t) => !isHeader(t));
  // audio may start a little before the first video tag in file order (encoder priming)
  const first = Math.min(...media.map((t) => t.timestamp));
  const last = Math.max(...media.map((t) => t.timestamp));
  const span = last - first + 33;
  const cid = (type: number) => (type === TAG_VIDEO ? 6 : 4);
  const preamble = Buffer.concat(headers.map((t) => message({ cid: cid(t.type), type: t.type, streamId: 1, payload: Buffer.from(t.data), timestamp: 0, chunkSize: CHUNK })));
  // each chunk stream's first media message carries its absolute time (0): send it fmt 0 in
  // the preamble position, so that every message in the loop can be a delta
  const prev = new Map<number, number>([[TAG_AUDIO, first], [TAG_VIDEO, first]]);
  const tags = media.map((t) => {
    const delta = t.timestamp - prev.get(t.type)!;
    prev.set(t.type, t.timestamp);
    const v = t.type === TAG_VIDEO ? parseVideoTag(t.data) : undefined;
    return {
      due: t.timestamp - first,
      bytes: message({ cid: cid(t.type), type: t.type, streamId: 1, payload: Buffer.from(t.data), delta, chunkSize: CHUNK }),
      keyframe: v?.kind === 'avc-frame' && v.keyframe,
    };
  });
  // the wrap-around deltas: from each track's last timestamp to its first in the next loop
  const lastOf = (type: number) => media.filter((t) => t.type === type).at(-1)!.timestamp;
  const firstOf = (type: number) => media.find((t) => t.type === type)!.timestamp;
  const wrapDelta = new Map([TAG_AUDIO, TAG_VIDEO].map((type) => [type, firstOf(type) + span - lastOf(type)]));
  const loopTags = tags.map((t, i) => {
    const tag = media[i]!;
    const isFirstOfTrack = media.findIndex((m) => m.type === tag.type) === i;
    if (!isFirstOfTrack) return t;
    return { ...t, loopBytes: message({ cid: cid(tag.type), type: tag.type, streamId: 1, payload: Buffer.from(tag.data), delta: wrapDelta.get(tag.type)!, chunkSize: CHUNK }) };
  });
  return {
    preamble,
    tags: loopTags.map((t) => ({ due: t.due, bytes: t.bytes, keyframe: t.keyframe, ...('loopBytes' in t ? { loopBytes: t.loopBytes } : {}) })) as Prepared['tags'],
    span,
    bytesPerLoop: tags.reduce((s, t) => s + t.bytes.length, 0),
  };
}

export interface PublisherStats {
  /** Largest lateness of a message against its real-time due time, ms. */
  maxLagMs: number;
  bytesSent: number;
  /** Wall time each keyframe was written, in order (for segment latency). */
  keyframeSentAt: number[];
  published: boolean;
  /** performance.now() when start() was called and when Publish.Start came. */
  startedAt?: number;
  publishedAt?: number;
  error?: string;
}

/** One publisher. `url` is rtmp://host:port/live/<stream>. */
export class Publisher {
  readonly stats: PublisherStats = { maxLagMs: 0, bytesSent: 0, keyframeSentAt: [], published: false };
  private socket: Socket | undefined;
  private startedAt = 0;
  private index = 0;
  private loop = 0;
  private blocked = false;
  private stopped = false;
  /** Resolves when the connection closes (whoever closed it). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(
    private readonly p: Prepared & { tags: (Prepared['tags'][number] & { loopBytes?: Buffer })[] },
    private readonly host: string,
    private readonly port: number,
    private readonly stream: string,
    /** RTMPS: TLS (the test certificate is not verified). */
    private readonly secure = false,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  start(): Promise<void> {
    this.stats.startedAt = performance.now();
    return new Promise((resolve, reject) => {
      const socket = this.secure ? tlsConnect({ port: this.port, host: this.host, rejectUnauthorized: false }) : connect(this.port, this.host);
      this.socket = socket;
      socket.on('close', () => {
        this.markClosed();
        if (!this.stats.published) reject(new Error('connection closed before the publish started'));
      });
      socket.setNoDelay(true);
      let received = Buffer.alloc(0);
      let handshaken = false;
      socket.on('error', (err) => {
        this.stats.error = err.message;
        reject(err);
      });
      socket.on('drain', () => {
        this.blocked = false;
      });
      socket.on('data', (data) => {
        if (handshaken) {
          if (!this.stats.published && data.includes('NetStream.Publish.Start')) {
            this.stats.published = true;
            this.startedAt = performance.now();
            this.stats.publishedAt = this.startedAt;
            this.write(this.p.preamble);
            resolve();
          } else if (!this.stats.published && data.includes('NetStream.Publish.')) {
            // the onStatus description is the last AMF0 string: a 2-byte length, then the text
            const text = data.toString('latin1');
            const at = text.lastIndexOf('description');
            const why = at < 0 ? text : text.slice(at + 'description'.length + 3);
            reject(new Error(`publish refused: ${why.replace(/[^\x20-\x7e]/g, ' ').trim()}`));
          }
          return;
        }
        received = Buffer.concat([received, data]);
        if (received.length >= 3073) {
          handshaken = true;
          socket.write(Buffer.concat([received.subarray(1, 1537), setChunkSize(CHUNK), publishCommands(`${this.secure ? 'rtmps' : 'rtmp'}://${this.host}:${this.port}/live`, this.stream)]));
          // a later chunk of the same read may already hold the status
          if (received.length > 3073) socket.emit('data', received.subarray(3073));
        }
      });
      socket.on(this.secure ? 'secureConnect' : 'connect', () => socket.write(c0c1()));
    });
  }

  /** Sends every message that is due; call often. */
  pump(now: number): void {
    if (!this.stats.published || this.stopped || this.blocked) return;
    const elapsed = now - this.startedAt;
    for (;;) {
      const tag = this.p.tags[this.index]!;
      const due = tag.due + this.loop * this.p.span;
      if (due > elapsed) return;
      this.stats.maxLagMs = Math.max(this.stats.maxLagMs, elapsed - due);
      const bytes = this.loop > 0 && tag.loopBytes ? tag.loopBytes : tag.bytes;
      if (tag.keyframe) this.stats.keyframeSentAt.push(Date.now());
      this.write(bytes);
      if (++this.index === this.p.tags.length) {
        this.index = 0;
        this.loop++;
      }
      if (this.blocked) return;
    }
  }

  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
  }

  private write(bytes: Buffer): void {
    this.stats.bytesSent += bytes.length;
    if (!this.socket!.write(bytes)) this.blocked = true;
  }
}
