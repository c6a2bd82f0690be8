// npm run bench:snapshots [-- --count N --quality Q --codec H264|H265|AV1]
// What one snapshot costs: keyframes of a 720p stream (H.264: the ingest benchmark's; HEVC and
// AV1: bench fixtures of their own) through the gateway's decoder pool (one long-lived ffmpeg),
// CPU per JPEG in ffmpeg and in this process; then, for H.264, the same pictures through ffmpeg,
// one run per stage (decode; + range conversion, by swscale and by zscale; + JPEG encode), to split the cost.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import { parseFlv } from '../src/media/flv.js';
import { LivePackager, type KeyframeInfo } from '../src/media/packager.js';
import { Metrics } from '../src/metrics.js';
import { DecoderPool } from '../src/snapshots/decoder-pool.js';
import { hasFilter } from '../src/snapshots/find-decoders.js';
import { av1Tags, hevcTags } from './lib/enhanced-flv.js';
import { benchAv1Fixture, benchFixture, benchHevcFixture } from './lib/fixtures.js';
import { CLK_TCK, cpuTicks, treePids } from './lib/proc-stats.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '200' }, quality: { type: 'string', default: '4' }, codec: { type: 'string', default: 'H264' } } });
const COUNT = Number(values.count);
const CODEC = values.codec;

const tags =
  CODEC === 'H265' ? hevcTags(readFileSync(await benchHevcFixture()), 30) : CODEC === 'AV1' ? av1Tags(readFileSync(await benchAv1Fixture()), 30) : parseFlv(readFileSync(benchFixture()));
const packager = new LivePackager({ fragDuration: 2, fragCount: 3, keyframeIntervalMs: 1000, container: CODEC === 'AV1' ? 'fmp4' : 'ts' });
const found: KeyframeInfo[] = [];
for (const t of tags) {
  for (const e of packager.push(t.type, t.timestamp, t.data)) if (e.type === 'keyframe') found.push(e.keyframe);
  if (found.length >= COUNT) break;
}
// a short fixture's keyframes, again and again (a decoder takes each picture on its own)
const keyframes = Array.from({ length: Math.min(COUNT, found.length * Math.ceil(COUNT / found.length)) }, (_, i) => found[i % found.length]!);
const kb = (n: number) => (n / 1024).toFixed(0);
console.log(`${keyframes.length} keyframes of ${keyframes[0]!.width}x${keyframes[0]!.height}, ${kb(keyframes.reduce((a, k) => a + k.picture.length, 0) / keyframes.length)} KB each on average`);

const pool = new DecoderPool({ ffmpeg: ffmpegPath(), size: 1, quality: Number(values.quality), timeoutMs: 10_000, idleMs: 60_000, maxQueued: 0, zscale: hasFilter(ffmpegPath(), 'zscale'), metrics: new Metrics(false) });
await pool.tryDecode(keyframes[0]!.picture, keyframes[0]!.width, keyframes[0]!.height, keyframes[0]!.codec); // start it
// this process's children: the pool's one ffmpeg
const decoders = treePids(process.pid).slice(1);
const ffmpeg0 = cpuTicks(decoders, false);
const node0 = process.cpuUsage();
const t0 = performance.now();
let jpegBytes = 0;
for (const k of keyframes) jpegBytes += (await pool.tryDecode(k.picture, k.width, k.height, k.codec)!).length;
const wallMs = (performance.now() - t0) / keyframes.length;
const ffmpegMs = ((cpuTicks(decoders, false) - ffmpeg0) / CLK_TCK / keyframes.length) * 1000;
const nodeUsage = process.cpuUsage(node0);
const nodeMs = (nodeUsage.user + nodeUsage.system) / 1000 / keyframes.length;
pool.close();
console.log(`\n| per snapshot | ffmpeg CPU | this process's CPU | wall | JPEG |`);
console.log(`|---|---|---|---|---|`);
console.log(`| decoder pool, ${CODEC}, -q:v ${values.quality} | ${ffmpegMs.toFixed(1)} ms | ${nodeMs.toFixed(2)} ms | ${wallMs.toFixed(1)} ms | ${kb(jpegBytes / keyframes.length)} KB |`);
if (CODEC !== 'H264') process.exit(0); // the stage split reads raw H.264

// the stages, one ffmpeg run each over all pictures, less the cost of a run that decodes one
const dir = mkdtempSync(join(tmpdir(), 'bench-snap-'));
const input = join(dir, 'keyframes.h264');
writeFileSync(input, Buffer.concat(keyframes.map((k) => k.picture)));
/** CPU seconds of one ffmpeg run (bash's `times`: the children's user and system time). */
function ffmpegCpu(args: string[]): number {
  const out = execFileSync('bash', ['-c', '"$@" > /dev/null 2>&1; times', '_', ffmpegPath(), '-v', 'error', '-threads', '1', '-flags', 'low_delay', '-f', 'h264', '-i', input, ...args], { encoding: 'utf8' });
  // the second line of `times`: the children's user and system time, as "0m1.230s 0m0.050s"
  const children = out.trim().split('\n')[1]!;
  return [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, [, m, sec]) => sum + Number(m) * 60 + Number(sec), 0);
}
const n = keyframes.length;
const start = ffmpegCpu(['-frames:v', '1', '-f', 'null', '-']);
const decode = ffmpegCpu(['-f', 'null', '-']);
const encode = ['-c:v', 'mjpeg', '-q:v', String(values.quality), '-huffman', 'default', '-threads', '1', '-f', 'image2pipe', '-'];
// the range conversion as the decoders do it: by zscale where the ffmpeg has it, else by swscale
const swscale = ['-pix_fmt', 'yuvj420p'];
const zscale = ['-vf', 'zscale=range=full', '-pix_fmt', 'yuv420p'];
const per = (s: number) => `${(((s - start) / n) * 1000).toFixed(1)} ms`;
console.log(`\nstages, one ffmpeg run each over the ${n} pictures (a run decoding one, ${(start * 1000).toFixed(0)} ms, taken off):`);
console.log(`| range conversion by | decode | + range conversion | + JPEG encode |`);
console.log(`|---|---|---|---|`);
for (const [name, convert] of [['swscale', swscale], ...(hasFilter(ffmpegPath(), 'zscale') ? [['zscale', zscale]] : [])] as const) {
  console.log(`| ${name} | ${per(decode)} | ${per(ffmpegCpu([...convert, '-f', 'null', '-']))} | ${per(ffmpegCpu([...convert, ...encode]))} |`);
}
