import type { Metrics } from '../metrics.js';
import { JpegDecoder } from './jpeg-decoder.js';

export interface DecoderPoolOptions {
  ffmpeg: string;
  /** ffmpeg processes at most, all resolutions together. */
  size: number;
  quality: number;
  timeoutMs: number;
  /** A decoder idle this long exits. */
  idleMs: number;
  metrics: Metrics;
}

/**
 * The gateway's bounded set of JPEG decoders, kept per resolution (a decoder's output keeps
 * its first picture's size). A picture goes to an idle decoder of its resolution, else to a
 * new one while there is room, else to one that replaces the longest-idle decoder of another
 * resolution; when every decoder is busy it is refused, never queued.
 */
export class DecoderPool {
  private readonly decoders = new Map<JpegDecoder, string>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly o: DecoderPoolOptions) {
    this.sweep = setInterval(() => this.closeIdle(), Math.min(o.idleMs, 10_000)).unref();
  }

  /** The JPEG, or undefined when no decoder is free (the caller skips this snapshot). */
  tryDecode(picture: Buffer, width: number, height: number): Promise<Buffer> | undefined {
    const decoder = this.decoderFor(`${width}x${height}`);
    if (!decoder) return undefined;
    const started = performance.now();
    return decoder.decode(picture).then((jpeg) => {
      this.o.metrics.snapshotDecodeSeconds.observe((performance.now() - started) / 1000);
      return jpeg;
    });
  }

  get running(): number {
    return this.decoders.size;
  }

  close(): void {
    clearInterval(this.sweep);
    for (const d of [...this.decoders.keys()]) d.close();
  }

  private decoderFor(resolution: string): JpegDecoder | undefined {
    let oldestIdle: JpegDecoder | undefined;
    for (const [d, r] of this.decoders) {
      if (d.busy) continue;
      if (r === resolution) return d;
      if (!oldestIdle || d.idleSince < oldestIdle.idleSince) oldestIdle = d;
    }
    if (this.decoders.size >= this.o.size) {
      if (!oldestIdle) return undefined;
      oldestIdle.close();
    }
    const decoder = new JpegDecoder({ ffmpeg: this.o.ffmpeg, quality: this.o.quality, timeoutMs: this.o.timeoutMs }, (d) => this.exited(d));
    this.decoders.set(decoder, resolution);
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
