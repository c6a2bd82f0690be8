import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { av1Tags, hevcTags } from '../../scripts/lib/enhanced-flv.js';
import { fixture, FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { childrenNamed } from '../../scripts/lib/proc-stats.js';
import { runPackager } from '../../test/support/packager-run.js';
import { ffmpegPath } from '../ffmpeg-path.js';
import { parseFlv, type FlvTag } from '../media/flv.js';
import { hevcWithoutReorderDelay, parseHevcDecoderConfig, parseHevcSps } from '../media/hevc.js';
import type { KeyframeInfo } from '../media/packager.js';
import { Metrics } from '../metrics.js';
import { DecoderPool } from './decoder-pool.js';
import { hasFilter } from './find-decoders.js';
import { DECODER_NICENESS } from './jpeg-decoder.js';

/** Width and height from a JPEG's SOF0 marker. */
export function jpegSize(jpeg: Buffer): [number, number] {
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  if (sof < 0) throw new Error('no SOF0 marker');
  return [jpeg.readUInt16BE(sof + 7), jpeg.readUInt16BE(sof + 5)];
}

const keyframesOf = (file: string, extra: { intervalMs?: number } = {}): KeyframeInfo[] => keyframesOfTags(parseFlv(readFileSync(file)), extra.intervalMs);
const keyframesOfTags = (tags: FlvTag[], intervalMs = 1000, container: 'ts' | 'fmp4' = 'ts'): KeyframeInfo[] =>
  runPackager(tags, { keyframeIntervalMs: intervalMs, container }).events.flatMap((e) => (e.type === 'keyframe' ? [e.keyframe] : []));

let k720: KeyframeInfo[];
let k360: KeyframeInfo[];
let pool: DecoderPool | undefined;

beforeAll(() => {
  k720 = keyframesOf(`${FIXTURE_DIR}/main.flv`);
  k360 = keyframesOf(`${FIXTURE_DIR}/video-only.flv`);
});
afterEach(() => pool?.close());

const newPool = (size: number, timeoutMs = 5000, maxQueued = 0, zscale = true) =>
  (pool = new DecoderPool({ ffmpeg: ffmpegPath(), size, quality: 4, timeoutMs, idleMs: 60_000, maxQueued, zscale, metrics: new Metrics(false) }));

describe('DecoderPool colour range (real ffmpeg)', () => {
  const W = 64;
  const H = 64;
  /** A keyframe of black (16) over white (235) in video levels, nearly lossless, flagged full range or not. */
  const levelsKeyframe = (fullRange: boolean): KeyframeInfo => {
    const dir = mkdtempSync(join(tmpdir(), 'snap-range-'));
    const half = (W * H) / 2;
    writeFileSync(join(dir, 'in.yuv'), Buffer.concat([Buffer.alloc(half, 16), Buffer.alloc(half, 235), Buffer.alloc(W * H / 2, 128)]));
    const format = fullRange ? 'yuvj420p' : 'yuv420p'; // the same bytes, read and written as such
    execFileSync(ffmpegPath(), ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', format, '-s', `${W}x${H}`, '-r', '25', '-i', join(dir, 'in.yuv'), '-c:v', 'libx264', '-crf', '1', '-pix_fmt', format, '-f', 'flv', join(dir, 'levels.flv')]);
    return keyframesOf(join(dir, 'levels.flv'))[0]!;
  };
  /** Mean luma of a JPEG's top and bottom halves, as a JPEG decoder shows it (0..255). */
  const halves = (jpeg: Buffer): [number, number] => {
    const gray = execFileSync(ffmpegPath(), ['-v', 'error', '-f', 'jpeg_pipe', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { input: jpeg });
    const mean = (b: Buffer) => b.reduce((a, v) => a + v, 0) / b.length;
    return [mean(gray.subarray(0, gray.length / 2)), mean(gray.subarray(gray.length / 2))];
  };

  it('finds zscale in this ffmpeg (Debian builds it with libzimg)', () => {
    expect(hasFilter(ffmpegPath(), 'zscale')).toBe(true);
    expect(hasFilter(ffmpegPath(), 'no-such-filter')).toBe(false);
  });

  it.each([
    ['zscale', true],
    ['swscale', false],
  ])('with %s: a limited-range picture becomes a full-range JPEG, a full-range one keeps its levels', async (_, zscale) => {
    const p = newPool(1, 5000, 0, zscale);
    const limited = levelsKeyframe(false);
    const [black, white] = halves(await p.tryDecode(limited.picture, W, H, 'H264')!);
    expect(black).toBeLessThan(3);
    expect(white).toBeGreaterThan(252);
    const full = levelsKeyframe(true);
    const [dark, light] = halves(await p.tryDecode(full.picture, W, H, 'H264')!);
    expect(Math.abs(dark - 16)).toBeLessThan(3);
    expect(Math.abs(light - 235)).toBeLessThan(3);
  }, 30_000);
});

describe('DecoderPool with HEVC and AV1 (real ffmpeg)', () => {
  it('turns each HEVC keyframe into a JPEG at once, though the stream has B-frames (its SPS is rewritten without reorder delay)', async () => {
    const tags = hevcTags(readFileSync(await fixture('hevc-bframes-360p.hevc')), 25);
    // the encoder asks decoders to hold pictures back: without the rewrite each JPEG would come a picture late
    const sps = parseHevcDecoderConfig(tags[0]!.data.subarray(5)).sps[0]!;
    const rewritten = hevcWithoutReorderDelay(sps);
    expect(rewritten).not.toBe(sps);
    expect(hevcWithoutReorderDelay(rewritten)).toBe(rewritten); // no reorder delay left to remove
    expect(parseHevcSps(rewritten)).toEqual(parseHevcSps(sps));
    const ks = keyframesOfTags(tags);
    expect(ks.length).toBe(3);
    const p = newPool(1, 3000);
    for (const k of ks) {
      expect(k.codec).toBe('H265');
      expect(jpegSize(await p.tryDecode(k.picture, k.width, k.height, k.codec)!)).toEqual([640, 360]);
    }
  }, 60_000);

  it('turns each AV1 keyframe into a JPEG at once (IVF framing), beside an H.264 decoder of the same size', async () => {
    const ks = keyframesOfTags(av1Tags(readFileSync(await fixture('av1-360p.obu')), 25), 1000, 'fmp4');
    expect(ks.length).toBe(6);
    const p = newPool(2, 3000);
    for (const k of ks) {
      expect(k.codec).toBe('AV1');
      expect(jpegSize(await p.tryDecode(k.picture, k.width, k.height, k.codec)!)).toEqual([640, 360]);
    }
    // a decoder serves one codec: an H.264 picture of the same size gets its own
    expect(jpegSize(await p.tryDecode(k360[0]!.picture, 640, 360, 'H264')!)).toEqual([640, 360]);
    expect(jpegSize(await p.tryDecode(ks[0]!.picture, 640, 360, 'AV1')!)).toEqual([640, 360]);
  }, 60_000);
});

describe('DecoderPool (real ffmpeg)', () => {
  it('turns each keyframe into one JPEG of the video size, in order, with one long-lived ffmpeg', async () => {
    const p = newPool(1);
    const jpegs: Buffer[] = [];
    for (const k of k720) jpegs.push(await p.tryDecode(k.picture, k.width, k.height, 'H264')!);
    expect(jpegs.length).toBe(k720.length);
    for (const j of jpegs) expect(jpegSize(j)).toEqual([1280, 720]);
    expect(p.running).toBe(1);
    // testsrc2 moves: each picture is its own, not a stale one
    expect(new Set(jpegs.map((j) => j.toString('base64'))).size).toBe(jpegs.length);
    // ffprobe agrees
    const dir = mkdtempSync(join(tmpdir(), 'snap-'));
    writeFileSync(join(dir, 'a.jpg'), jpegs[0]!);
    const probed = execFileSync(ffmpegPath().replace(/ffmpeg$/, 'ffprobe'), ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', join(dir, 'a.jpg')], { encoding: 'utf8' });
    expect(probed.trim()).toBe('mjpeg,1280,720');
  }, 30_000);

  it('decodes an x264 stream with HRD parameters and B-frames at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snap-hrd-'));
    const file = join(dir, 'hrd.flv');
    execFileSync(ffmpegPath(), ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '3', '-c:v', 'libx264', '-bf', '3', '-g', '25', '-b:v', '300k', '-maxrate', '300k', '-bufsize', '600k', '-x264-params', 'nal-hrd=cbr', '-f', 'flv', file]);
    const ks = keyframesOf(file);
    expect(ks.length).toBe(3);
    const p = newPool(1, 2000);
    for (const k of ks) expect(jpegSize(await p.tryDecode(k.picture, k.width, k.height, 'H264')!)).toEqual([320, 240]);
  }, 30_000);

  it('keeps one decoder per resolution and, when full, replaces the idle one of another resolution', async () => {
    const p = newPool(1);
    expect(jpegSize(await p.tryDecode(k720[0]!.picture, 1280, 720, 'H264')!)).toEqual([1280, 720]);
    expect(jpegSize(await p.tryDecode(k360[0]!.picture, 640, 360, 'H264')!)).toEqual([640, 360]);
    expect(p.running).toBe(1);
    const two = newPool(2);
    await two.tryDecode(k720[0]!.picture, 1280, 720, 'H264');
    await two.tryDecode(k360[0]!.picture, 640, 360, 'H264');
    expect(jpegSize(await two.tryDecode(k720[1]!.picture, 1280, 720, 'H264')!)).toEqual([1280, 720]);
    expect(two.running).toBe(2);
    two.close();
  }, 30_000);

  it('lets a burst wait in a bounded queue, in order, and refuses what does not fit', async () => {
    const p = newPool(1, 5000, 2);
    const taken = [p.tryDecode(k720[0]!.picture, 1280, 720, 'H264'), p.tryDecode(k360[0]!.picture, 640, 360, 'H264'), p.tryDecode(k720[1]!.picture, 1280, 720, 'H264')];
    expect(p.queued).toBe(2);
    expect(p.tryDecode(k720[2]!.picture, 1280, 720, 'H264')).toBeUndefined();
    const sizes = await Promise.all(taken.map(async (j) => jpegSize(await j!)));
    expect(sizes).toEqual([[1280, 720], [640, 360], [1280, 720]]);
    expect(p.queued).toBe(0);
    expect(p.running).toBe(1);
  }, 30_000);

  it('refuses a picture when every decoder is busy and no queue is allowed', async () => {
    const p = newPool(1);
    const first = p.tryDecode(k720[0]!.picture, 1280, 720, 'H264');
    expect(first).toBeDefined();
    expect(p.tryDecode(k720[1]!.picture, 1280, 720, 'H264')).toBeUndefined();
    expect(p.tryDecode(k360[0]!.picture, 640, 360, 'H264')).toBeUndefined();
    await first;
    const next = p.tryDecode(k720[1]!.picture, 1280, 720, 'H264');
    expect(next).toBeDefined();
    expect(jpegSize(await next!)).toEqual([1280, 720]);
  }, 30_000);

  it('fails a picture that yields no image within the timeout, and the next one gets a fresh decoder', async () => {
    const p = newPool(1, 1500);
    await p.tryDecode(k720[0]!.picture, 1280, 720, 'H264');
    const garbage = Buffer.from([0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x09, 0xf0]);
    await expect(p.tryDecode(garbage, 1280, 720, 'H264')!).rejects.toThrow(/no JPEG within 1500 ms/);
    expect(p.running).toBe(0);
    expect(jpegSize(await p.tryDecode(k720[2]!.picture, 1280, 720, 'H264')!)).toEqual([1280, 720]);
  }, 30_000);

  it('runs its decoders at a lower scheduling priority than the gateway', async () => {
    const p = newPool(1);
    await p.tryDecode(k360[0]!.picture, 640, 360, 'H264');
    const decoders = childrenNamed([process.pid], 'ffmpeg');
    // earlier tests' decoders may still be on their way out: each one is checked (all are niced)
    expect(decoders.length).toBeGreaterThanOrEqual(1);
    for (const pid of decoders) expect(getPriority(pid)).toBe(Math.min(19, getPriority() + DECODER_NICENESS));
  }, 30_000);

  it('fails at once when ffmpeg cannot run', async () => {
    pool = new DecoderPool({ ffmpeg: '/nonexistent/ffmpeg', size: 1, quality: 4, timeoutMs: 5000, idleMs: 60_000, maxQueued: 0, zscale: false, metrics: new Metrics(false) });
    await expect(pool.tryDecode(k720[0]!.picture, 1280, 720, 'H264')!).rejects.toThrow(/ENOENT/);
    expect(pool.running).toBe(0);
  });
});
