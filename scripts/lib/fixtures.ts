import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseFlv, TAG_SCRIPT, writeFlv, type FlvTag } from '../../src/media/flv.js';
import { ffmpegPath } from '../../src/ffmpeg-path.js';

const run = promisify(execFile);
export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'generated');

interface EncodeSpec {
  seconds: number;
  size: string;
  fps: number;
  gopFrames: number;
  videoKbps: number;
  audio: boolean;
  profile?: string;
  bframes?: number;
}

function encodeArgs(spec: EncodeSpec, out: string): string[] {
  const args = ['-y', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${spec.size}:rate=${spec.fps}`];
  if (spec.audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
  args.push(
    '-t', String(spec.seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', spec.profile ?? 'main',
    '-pix_fmt', 'yuv420p', '-bf', String(spec.bframes ?? 2),
    '-g', String(spec.gopFrames), '-keyint_min', String(spec.gopFrames), '-sc_threshold', '0',
    '-b:v', `${spec.videoKbps}k`, '-maxrate', `${spec.videoKbps}k`, '-bufsize', `${spec.videoKbps * 2}k`,
  );
  if (spec.audio) args.push('-c:a', 'aac', '-b:a', '128k', '-ar', '44100', '-ac', '2');
  args.push('-f', 'flv', out);
  return args;
}

async function encode(spec: EncodeSpec, out: string): Promise<void> {
  await run(ffmpegPath(), encodeArgs(spec, out), { maxBuffer: 16 << 20 });
}

/** Tags of `b` appended after `a`, shifted to continue a's clock; b's metadata dropped. */
export function concatFlvTags(a: FlvTag[], b: FlvTag[], gapMs: number, keepSequenceHeaders = true): FlvTag[] {
  const end = a.reduce((m, t) => Math.max(m, t.timestamp), 0) + gapMs;
  const tail = b
    .filter((t) => t.type !== TAG_SCRIPT)
    .filter((t) => keepSequenceHeaders || !isSequenceHeader(t))
    .map((t) => ({ ...t, timestamp: t.timestamp + end }));
  return [...a, ...tail];
}

export function isSequenceHeader(t: FlvTag): boolean {
  return (t.type === 8 || t.type === 9) && t.data.length > 1 && t.data[1] === 0;
}

type Maker = (out: string, scratch: string) => Promise<void>;

/** An HEVC elementary stream (Annex B) for Enhanced RTMP tests: an AUD before each access unit, no B-frames, closed GOPs. */
async function encodeHevc(out: string, o: { seconds: number; size: string; fps: number; gopFrames: number; kbps: number; bframes?: number }): Promise<void> {
  const params = `keyint=${o.gopFrames}:min-keyint=${o.gopFrames}:scenecut=0:bframes=${o.bframes ?? 0}:aud=1:open-gop=0:log-level=error`;
  await run(ffmpegPath(), ['-y', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.fps}`, '-t', String(o.seconds), '-c:v', 'libx265', '-x265-params', params, '-b:v', `${o.kbps}k`, '-f', 'hevc', out], { maxBuffer: 16 << 20 });
}

/** An AV1 low-overhead bitstream (temporal delimiters included) from SVT-AV1: closed GOPs, no hidden frames to speak of. */
async function encodeAv1(out: string, o: { seconds: number; size: string; fps: number; gopFrames: number; kbps: number }): Promise<void> {
  await run(ffmpegPath(), ['-y', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.fps}`, '-t', String(o.seconds), '-c:v', 'libsvtav1', '-preset', '10', '-g', String(o.gopFrames), '-b:v', `${o.kbps}k`, '-f', 'obu', out], { maxBuffer: 16 << 20 });
}

const MAKERS: Record<string, Maker> = {
  // 720p30 H.264 main with B-frames, 2 s GOP, AAC 44.1 kHz stereo.
  'main.flv': (out) => encode({ seconds: 12, size: '1280x720', fps: 30, gopFrames: 60, videoKbps: 1200, audio: true }, out),
  'video-only.flv': (out) => encode({ seconds: 8, size: '640x360', fps: 25, gopFrames: 25, videoKbps: 500, audio: false }, out),
  // 40 s of continuous media for tests that play a live channel for a while (no -stream_loop
  // seam: looping a file leaves small timestamp holes that players report).
  'long.flv': (out) => encode({ seconds: 40, size: '640x360', fps: 30, gopFrames: 60, videoKbps: 600, audio: true }, out),
  // 10 s GOP: cuts can only happen every 10 s.
  'gop10.flv': (out) => encode({ seconds: 25, size: '640x360', fps: 30, gopFrames: 300, videoKbps: 400, audio: true }, out),
  // HEVC 640x360 25 fps, 1 s GOP, 6 s: pushed as Enhanced RTMP 'hvc1' tags (scripts/lib/enhanced-flv.ts)
  'hevc-360p.hevc': (out) => encodeHevc(out, { seconds: 6, size: '640x360', fps: 25, gopFrames: 25, kbps: 400 }),
  // the same with B-frames: its SPS asks decoders to hold pictures back for reordering (snapshot tests)
  'hevc-bframes-360p.hevc': (out) => encodeHevc(out, { seconds: 3, size: '640x360', fps: 25, gopFrames: 25, kbps: 400, bframes: 3 }),
  // AV1 640x360 25 fps, 1 s GOP, 6 s: pushed as Enhanced RTMP 'av01' tags (scripts/lib/enhanced-flv.ts)
  'av1-360p.obu': (out) => encodeAv1(out, { seconds: 6, size: '640x360', fps: 25, gopFrames: 25, kbps: 400 }),
  // 720p then 360p in one stream: a new AVC sequence header mid-stream, as OBS sends on a resolution change.
  'res-change.flv': async (out, scratch) => {
    const a = join(scratch, 'res-a.flv');
    const b = join(scratch, 'res-b.flv');
    await encode({ seconds: 4, size: '1280x720', fps: 30, gopFrames: 30, videoKbps: 800, audio: true }, a);
    await encode({ seconds: 4, size: '640x360', fps: 30, gopFrames: 30, videoKbps: 400, audio: true }, b);
    const tags = concatFlvTags(parseFlv(await readFile(a)), parseFlv(await readFile(b)), 33);
    await writeFile(out, writeFlv(tags));
  },
};

export const FIXTURES = Object.keys(MAKERS);

/** Returns the path of a generated fixture, generating it first if needed. */
export async function fixture(name: string): Promise<string> {
  const path = join(FIXTURE_DIR, name);
  if (existsSync(path)) return path;
  const make = MAKERS[name];
  if (!make) throw new Error(`unknown fixture ${name}`);
  const scratch = join(FIXTURE_DIR, `.tmp-${name}-${process.pid}`);
  await mkdir(scratch, { recursive: true });
  try {
    const tmp = join(scratch, name);
    await make(tmp, scratch);
    await rename(tmp, path);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return path;
}

export async function makeAllFixtures(): Promise<string[]> {
  await mkdir(FIXTURE_DIR, { recursive: true });
  return Promise.all(FIXTURES.map((n) => fixture(n)));
}

/** 30 s of 720p30 at 2.5 Mbit/s + AAC, looped 10× into one continuous 5-minute FLV (benchmarks). */
export function benchFixture(): string {
  const path = join(FIXTURE_DIR, 'bench-5min-2500k.flv');
  if (existsSync(path)) return path;
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const clip = join(FIXTURE_DIR, 'bench-clip-30s.flv');
  console.error('generating the benchmark fixture (one-off, about a minute)...');
  execFileSync(ffmpegPath(), [
    '-y', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-bf', '2', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-b:v', '2400k', '-minrate', '2400k', '-maxrate', '2400k', '-bufsize', '4800k', '-x264-params', 'nal-hrd=cbr',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'flv', clip,
  ]);
  const once = parseFlv(readFileSync(clip));
  const span = Math.max(...once.map((t) => t.timestamp)) + 33;
  const tags: FlvTag[] = [];
  for (let loop = 0; loop < 10; loop++) {
    for (const t of once) {
      if (loop > 0 && (t.type === TAG_SCRIPT || isSequenceHeader(t))) continue;
      tags.push({ ...t, timestamp: t.timestamp + loop * span });
    }
  }
  writeFileSync(path, writeFlv(tags));
  rmSync(clip);
  return path;
}

/** A benchmark fixture made once by `make` (into a temp name, then renamed into place). */
async function benchEncoded(name: string, what: string, make: (out: string) => Promise<void>): Promise<string> {
  const path = join(FIXTURE_DIR, name);
  if (existsSync(path)) return path;
  mkdirSync(FIXTURE_DIR, { recursive: true });
  console.error(`generating the ${what} benchmark fixture (one-off)...`);
  await make(`${path}.tmp`);
  await rename(`${path}.tmp`, path);
  return path;
}

/** 10 s of 720p30 AV1 at 2.4 Mbit/s (a low-overhead OBU stream, 1 s GOP), for bench:snapshots --codec AV1. */
export const benchAv1Fixture = () =>
  benchEncoded('bench-av1-10s-2400k.obu', 'AV1', (out) => encodeAv1(out, { seconds: 10, size: '1280x720', fps: 30, gopFrames: 30, kbps: 2400 }));

/** 30 s of 720p30 HEVC at 2.4 Mbit/s (Annex B, an AUD per access unit), for bench:remux's HEVC row. */
export const benchHevcFixture = () =>
  benchEncoded('bench-hevc-30s-2400k.hevc', 'HEVC', (out) => encodeHevc(out, { seconds: 30, size: '1280x720', fps: 30, gopFrames: 60, kbps: 2400 }));

