import { spawn, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import type { VideoCodec } from '../media/packager.js';
import { JpegSplitter } from './jpeg-splitter.js';

export interface JpegDecoderOptions {
  ffmpeg: string;
  /** What the pictures are (KeyframeInfo.codec). */
  codec: VideoCodec;
  /** JPEG quality as ffmpeg's -q:v (2 best .. 31). */
  quality: number;
  timeoutMs: number;
  /** This ffmpeg has the zscale filter (libzimg): the range conversion is cheaper with it. */
  zscale: boolean;
}

const INPUT_FORMATS: Record<VideoCodec, string> = { H264: 'h264', H265: 'hevc', AV1: 'ivf' };

/** An IVF file header for AV1 (the size fields are informational: the sequence header has the real one). */
const IVF_FILE_HEADER = (() => {
  const h = Buffer.alloc(32);
  h.write('DKIF', 0, 'latin1');
  h.writeUInt16LE(32, 6);
  h.write('AV01', 8, 'latin1');
  h.writeUInt32LE(1, 16); // time base 1/1
  h.writeUInt32LE(1, 20);
  return h;
})();

/** Decoders run behind ingest: a snapshot may wait, a publisher's segments may not. */
export const DECODER_NICENESS = 10;

function lowerPriority(proc: ChildProcess): void {
  if (proc.pid === undefined) return; // it did not start: 'error' reports it
  try {
    setPriority(proc.pid, Math.min(19, getPriority() + DECODER_NICENESS));
  } catch {
    /* it exited already, or this system does not allow it: it runs at the gateway's priority */
  }
}

function ivfFrame(unit: Buffer, index: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(unit.length, 0);
  h.writeBigUInt64LE(BigInt(index), 4);
  return Buffer.concat([h, unit]);
}

/**
 * One long-lived ffmpeg that turns pictures of one codec into JPEGs, one at a time: starting
 * ffmpeg costs ~80 ms of CPU, a 720p H.264 picture in a running one ~5 ms. Each picture yields
 * exactly one JPEG at once:
 * - H.264 and HEVC (keyframePicture: Annex B ending with an AUD): one decoder thread, no
 *   reorder delay (the SPS says none), and the AUD closes the picture for the parser;
 * - AV1 (av1KeyframePicture): each temporal unit goes in an IVF frame, whose header says its
 *   size (the raw OBU reader holds a unit until the next one's data arrives).
 * Its output stays the size of the first picture, so a decoder serves one resolution.
 * A decode that fails or times out ends the process: it is out of step and is not reused.
 */
export class JpegDecoder {
  private readonly proc: ChildProcess;
  private readonly splitter = new JpegSplitter();
  private waiting: { resolve: (jpeg: Buffer) => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | undefined;
  private stderr = '';
  private frames = 0;
  private dead: Error | undefined;
  /** Epoch ms of the last decode's end (or of the start). */
  idleSince = Date.now();

  constructor(
    private readonly o: JpegDecoderOptions,
    private readonly onExit: (decoder: JpegDecoder) => void,
  ) {
    // no -fflags nobuffer: it drops the pictures read while probing the input
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-threads', '1', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
      '-f', INPUT_FORMATS[o.codec], '-i', 'pipe:0',
      // full-range 8-bit 4:2:0 as JPEG viewers expect (zscale converts the range in a quarter of
      // swscale's time, and leaves a picture that is full range already as it is); the standard
      // Huffman tables (optimal ones cost ~1.5 ms more per 720p picture)
      '-map', '0:v:0', ...(o.zscale ? ['-vf', 'zscale=range=full', '-pix_fmt', 'yuv420p'] : ['-pix_fmt', 'yuvj420p']),
      '-c:v', 'mjpeg', '-q:v', String(o.quality), '-huffman', 'default', '-threads', '1',
      '-f', 'image2pipe', '-flush_packets', '1', 'pipe:1',
    ];
    this.proc = spawn(o.ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    lowerPriority(this.proc);
    this.proc.stdout!.on('data', (chunk: Buffer) => this.onOutput(chunk));
    this.proc.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    this.proc.stdin!.on('error', () => {}); // EPIPE when ffmpeg exits first: 'exit' reports it
    this.proc.on('error', (err) => this.fail(err));
    this.proc.on('exit', (code, signal) => this.fail(new Error(`ffmpeg exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`)));
    if (o.codec === 'AV1') this.proc.stdin!.write(IVF_FILE_HEADER);
  }

  get busy(): boolean {
    return this.waiting !== undefined;
  }

  decode(picture: Buffer): Promise<Buffer> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.waiting) return Promise.reject(new Error('decoder busy'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`no JPEG within ${this.o.timeoutMs} ms${this.stderr ? `: ${this.stderr.trim()}` : ''}`)), this.o.timeoutMs);
      this.waiting = { resolve, reject, timer };
      this.proc.stdin!.write(this.o.codec === 'AV1' ? ivfFrame(picture, this.frames++) : picture);
    });
  }

  close(): void {
    this.fail(new Error('decoder closed'));
  }

  private onOutput(chunk: Buffer): void {
    let images: Buffer[];
    try {
      images = this.splitter.push(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    for (const jpeg of images) {
      const w = this.waiting;
      // an image nobody asked for: this decoder is out of step with its requests
      if (!w) return this.fail(new Error('ffmpeg wrote an image nobody asked for'));
      this.waiting = undefined;
      clearTimeout(w.timer);
      this.idleSince = Date.now();
      this.stderr = '';
      w.resolve(jpeg);
    }
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    const w = this.waiting;
    this.waiting = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    this.onExit(this);
  }
}
