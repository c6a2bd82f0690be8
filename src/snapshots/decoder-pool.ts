import type { Metrics } from '../metrics.js';
import type { VideoCodec } from '../media/packager.js';
import { JpegDecoder } from './jpeg-decoder.js';

export interface DecoderPoolOptions {
  ffmpeg: string;
  /** ffmpeg processes at most, all resolutions together. */
  size: number;
  quality: number;
  timeoutMs: number;
  /** The ffmpeg has the zscale filter (JpegDecoderOptions.zscale). */
  zscale: boolean;
  /** A decoder idle this long exits. */
  idleMs: number;
  /** Pictures that may wait for a decoder (keyframes of many channels come in bursts); past it, refused. */
  maxQueued: number;
  metrics: Metrics;
}

interface Waiting {
  picture: Buffer;
  codec: VideoCodec;
  /** Codec and resolution: what a decoder serves. */
  kind: string;
  resolve: (jpeg: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * The gateway's bounded set of JPEG decoders, kept per codec and resolution (a decoder reads
 * one codec, and its output keeps its first picture's size). A picture goes to an idle decoder
 * of its kind, else to a new one while there is room, else to one that replaces the
 * longest-idle decoder of another kind. When none is free it waits in a bounded queue, first come first served; when
 * the queue is full it is refused.
 */
export class DecoderPool {
  private readonly decoders = new Map<JpegDecoder, string>();
  private readonly queue: Waiting[] = [];
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly o: DecoderPoolOptions) {
    this.sweep = setInterval(() => this.closeIdle(), Math.min(o.idleMs, 10_000)).unref();
  }

  /** The JPEG, or undefined when the pool is too far behind to take it (the caller skips this snapshot). */
  tryDecode(picture: Buffer, width: number, height: number, codec: VideoCodec): Promise<Buffer> | undefined {
    const kind = `${codec} ${width}x${height}`;
    const free = this.queue.length === 0 ? this.decoderFor(kind, codec) : undefined;
    if (!free && this.queue.length >= this.o.maxQueued) return undefined;
    const started = performance.now();
    const jpeg = free ? free.decode(picture).finally(() => this.pump()) : new Promise<Buffer>((resolve, reject) => this.queue.push({ picture, codec, kind, resolve, reject }));
    return jpeg.then((j) => {
      this.o.metrics.snapshotDecodeSeconds.observe((performance.now() - started) / 1000);
      return j;
    });
  }

  /** Pictures waiting for a decoder. */
  get queued(): number {
    return this.queue.length;
  }

  /** Hands waiting pictures, in order, to decoders that can take them. */
  private pump(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      const decoder = this.decoderFor(next.kind, next.codec);
      if (!decoder) return;
      this.queue.shift();
      decoder.decode(next.picture).then(next.resolve, next.reject).finally(() => this.pump());
    }
  }

  get running(): number {
    return this.decoders.size;
  }

  close(): void {
    clearInterval(this.sweep);
    for (const w of this.queue.splice(0)) w.reject(new Error('decoders closed'));
    for (const d of [...this.decoders.keys()]) d.close();
  }

  private decoderFor(kind: string, codec: VideoCodec): JpegDecoder | undefined {
    let oldestIdle: JpegDecoder | undefined;
    for (const [d, k] of this.decoders) {
      if (d.busy) continue;
      if (k === kind) return d;
      if (!oldestIdle || d.idleSince < oldestIdle.idleSince) oldestIdle = d;
    }
    if (this.decoders.size >= this.o.size) {
      if (!oldestIdle) return undefined;
      oldestIdle.close();
    }
    const decoder = new JpegDecoder({ ffmpeg: this.o.ffmpeg, codec, quality: this.o.quality, timeoutMs: this.o.timeoutMs, zscale: this.o.zscale }, (d) => this.exited(d));
    this.decoders.set(decoder, kind);
    this.o.metrics.snapshotDecoders.set(this.decoders.size);
    return decoder;
  }

  private exited(decoder: JpegDecoder): void {
    if (!this.decoders.delete(decoder)) return;
    this.o.metrics.snapshotDecoders.set(this.decoders.size);
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.o.idleMs;
    for (const d of [...this.decoders.keys()]) if (!d.busy && d.idleSince < cutoff) d.close();
  }
}
