// npm run bench:snapshots [-- --count N --quality Q]
// What one snapshot costs: keyframes of the ingest benchmark's 720p stream through the gateway's
// decoder pool (one long-lived ffmpeg), CPU per JPEG in ffmpeg and in this process; then the
// same pictures through ffmpeg in one run, decoding only and decoding + converting, to split
// the cost into its stages.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import { parseFlv } from '../src/media/flv.js';
import { LivePackager, type KeyframeInfo } from '../src/media/packager.js';
import { Metrics } from '../src/metrics.js';
import { DecoderPool } from '../src/snapshots/decoder-pool.js';
import { benchFixture } from './lib/fixtures.js';
import { CLK_TCK, cpuTicks } from './lib/proc-stats.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '200' }, quality: { type: 'string', default: '4' } } });
const COUNT = Number(values.count);

const packager = new LivePackager({ fragDuration: 2, fragCount: 3, keyframeIntervalMs: 1000 });
const keyframes: KeyframeInfo[] = [];
for (const t of parseFlv(readFileSync(benchFixture()))) {
  for (const e of packager.push(t.type, t.timestamp, t.data)) if (e.type === 'keyframe') keyframes.push(e.keyframe);
  if (keyframes.length >= COUNT) break;
}
const kb = (n: number) => (n / 1024).toFixed(0);
console.log(`${keyframes.length} keyframes of ${keyframes[0]!.width}x${keyframes[0]!.height}, ${kb(keyframes.reduce((a, k) => a + k.picture.length, 0) / keyframes.length)} KB each on average`);

const pool = new DecoderPool({ ffmpeg: ffmpegPath(), size: 1, quality: Number(values.quality), timeoutMs: 10_000, idleMs: 60_000, maxQueued: 0, metrics: new Metrics(false) });
await pool.tryDecode(keyframes[0]!.picture, keyframes[0]!.width, keyframes[0]!.height); // start it
const children = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(process.pid);
  } catch {
    return false;
  }
});
const decoders = children();
const ffmpeg0 = cpuTicks(decoders, false);
const node0 = process.cpuUsage();
const t0 = performance.now();
let jpegBytes = 0;
for (const k of keyframes) jpegBytes += (await pool.tryDecode(k.picture, k.width, k.height)!).length;
const wallMs = (performance.now() - t0) / keyframes.length;
const ffmpegMs = ((cpuTicks(decoders, false) - ffmpeg0) / CLK_TCK / keyframes.length) * 1000;
const nodeUsage = process.cpuUsage(node0);
const nodeMs = (nodeUsage.user + nodeUsage.system) / 1000 / keyframes.length;
pool.close();
console.log(`\n| per snapshot | ffmpeg CPU | this process's CPU | wall | JPEG |`);
console.log(`|---|---|---|---|---|`);
console.log(`| decoder pool, -q:v ${values.quality} | ${ffmpegMs.toFixed(1)} ms | ${nodeMs.toFixed(2)} ms | ${wallMs.toFixed(1)} ms | ${kb(jpegBytes / keyframes.length)} KB |`);

// the stages, in one ffmpeg run over all pictures (its ~80 ms start spread over them)
const dir = mkdtempSync(join(tmpdir(), 'bench-snap-'));
const input = join(dir, 'keyframes.h264');
writeFileSync(input, Buffer.concat(keyframes.map((k) => k.picture)));
/** CPU seconds of one ffmpeg run (bash's `times`: the children's user and system time). */
function ffmpegCpu(args: string[]): number {
  const out = execFileSync('bash', ['-c', '"$@" > /dev/null 2>&1; times', '_', ffmpegPath(), '-v', 'error', '-threads', '1', '-flags', 'low_delay', '-f', 'h264', '-i', input, ...args], { encoding: 'utf8' });
  const children = out.trim().split('\n')[1]!.match(/(\d+)m([\d.]+)s/g)!;
  return children.map((t) => { const [, m, sec] = /(\d+)m([\d.]+)s/.exec(t)!; return Number(m) * 60 + Number(sec); }).reduce((a, b) => a + b, 0);
}
const n = keyframes.length;
const start = ffmpegCpu(['-frames:v', '1', '-f', 'null', '-']);
const decode = ffmpegCpu(['-f', 'null', '-']);
const convert = ffmpegCpu(['-pix_fmt', 'yuvj420p', '-f', 'null', '-']);
const full = ffmpegCpu(['-pix_fmt', 'yuvj420p', '-c:v', 'mjpeg', '-q:v', String(values.quality), '-huffman', 'default', '-threads', '1', '-f', 'image2pipe', '-']);
const per = (s: number) => `${(((s - start) / n) * 1000).toFixed(1)} ms`;
console.log(`\nstages in one ffmpeg run over the ${n} pictures (its start, ${(start * 1000).toFixed(0)} ms, taken off):`);
console.log(`| decode | + range conversion (yuv420p → yuvj420p) | + JPEG encode |`);
console.log(`|---|---|---|`);
console.log(`| ${per(decode)} | ${per(convert)} | ${per(full)} |`);
