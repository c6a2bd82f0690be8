// npm run bench:remux — media core throughput vs `ffmpeg -c copy -f hls` on the same file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FlvDemuxer } from '../src/media/flv.js';
import { LivePackager } from '../src/media/packager.js';
import { remuxFile } from '../src/tools/remux.js';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import { hevcTags } from './lib/enhanced-flv.js';
import { benchFixture, benchHevcFixture } from './lib/fixtures.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'frag-duration': { type: 'string', default: '5' },
    input: { type: 'string' },
  },
});
const runs = Number(values.runs);
const fragDuration = Number(values['frag-duration']);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const input = values.input ?? benchFixture();
const bytes = statSync(input).size;
const mb = bytes / 1e6;
const remux = (outDir: string) => remuxFile({ input, outDir, fragDuration, fragCount: 3, playlistName: 'playlist.m3u8' });

// The remux command's work (read the file, write segments + playlists) and ffmpeg doing the
// same job, interleaved run by run so both see the same page cache and disk state.
const ffmpeg = ffmpegPath();
const warmDir = mkdtempSync(join(tmpdir(), 'lc-bench-'));
const summary = await remux(warmDir); // JIT warm-up, untimed
rmSync(warmDir, { recursive: true, force: true });
const segments = summary.segments.length;
const mediaSeconds = summary.segments.reduce((s, x) => s + x.duration, 0);
const remuxTimes: number[] = [];
const ffTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const ours = mkdtempSync(join(tmpdir(), 'lc-bench-'));
  remuxTimes.push(await timeAsync(async () => void (await remux(ours))));
  rmSync(ours, { recursive: true, force: true });
  const theirs = mkdtempSync(join(tmpdir(), 'lc-bench-ff-'));
  const args = ['-v', 'error', '-i', input, '-c', 'copy', '-f', 'hls', '-hls_time', String(fragDuration), '-hls_list_size', '3', join(theirs, 'playlist.m3u8')];
  ffTimes.push(time(() => execFileSync(ffmpeg, args)));
  rmSync(theirs, { recursive: true, force: true });
}

// The pure media core: FLV demux + packager over the file in memory, no I/O.
const file = readFileSync(input);
const core = (container: 'ts' | 'fmp4' = 'ts', partDurationMs?: number) => {
  const demuxer = new FlvDemuxer();
  const packager = new LivePackager({ fragDuration, fragCount: 3, container, partDurationMs });
  for (let o = 0; o < file.length; o += 65536) {
    for (const t of demuxer.push(file.subarray(o, o + 65536))) packager.push(t.type, t.timestamp, t.data);
  }
  packager.finish();
};
core(); // warm-up
const coreTimes = Array.from({ length: runs }, () => time(core));
core('fmp4');
const fmp4Times = Array.from({ length: runs }, () => time(() => core('fmp4')));
const llTimes = Array.from({ length: runs }, () => time(() => core('fmp4', 500)));
const ffFmp4Times = Array.from({ length: runs }, () => {
  const theirs = mkdtempSync(join(tmpdir(), 'lc-bench-ff-'));
  const args = ['-v', 'error', '-i', input, '-c', 'copy', '-f', 'hls', '-hls_segment_type', 'fmp4', '-hls_time', String(fragDuration), '-hls_list_size', '3', join(theirs, 'playlist.m3u8')];
  const secs = time(() => execFileSync(ffmpeg, args));
  rmSync(theirs, { recursive: true, force: true });
  return secs;
});

// HEVC: the same packager over Enhanced RTMP 'hvc1' tags (built in memory from x265 output)
const hevc = hevcTags(readFileSync(await benchHevcFixture()), 30);
const hevcBytes = hevc.reduce((n, t) => n + t.data.length + 15, 0);
const hevcSeconds = hevc.at(-1)!.timestamp / 1000 + 1 / 30;
const hevcCore = (container: 'ts' | 'fmp4' = 'ts') => {
  const packager = new LivePackager({ fragDuration, fragCount: 3, container });
  for (const t of hevc) packager.push(t.type, t.timestamp, t.data);
  packager.finish();
};
hevcCore();
const hevcTimes = Array.from({ length: runs }, () => time(hevcCore));
const hevcFmp4Times = Array.from({ length: runs }, () => time(() => hevcCore('fmp4')));

const ffVersion = execFileSync(ffmpeg, ['-version'], { encoding: 'utf8' }).split('\n')[0];
const row = (name: string, secs: number, ffSecs = median(ffTimes)) =>
  `| ${name} | ${(secs * 1000).toFixed(0)} ms | ${(mb / secs).toFixed(1)} MB/s | ${(mediaSeconds / secs).toFixed(0)}× real time | ${(ffSecs / secs).toFixed(2)}× |`;
console.log(`input: ${input} — ${mb.toFixed(1)} MB, ${mediaSeconds.toFixed(1)} s of media, ${((bytes * 8) / mediaSeconds / 1e6).toFixed(2)} Mbit/s`);
console.log(`FragDuration ${fragDuration} s, ${segments} segments; median of ${runs} runs; node ${process.version}; ${ffVersion}`);
console.log('');
console.log('| what | time | FLV in | speed | vs ffmpeg |');
console.log('|---|---|---|---|---|');
console.log(row('media core (FLV demux + packager, in memory)', median(coreTimes)));
console.log(row('remux command (file read + segments written)', median(remuxTimes)));
console.log(row('ffmpeg -c copy -f hls', median(ffTimes)));
const ffFmp4 = median(ffFmp4Times);
console.log(row('fMP4 media core (FLV demux + packager, in memory)', median(fmp4Times), ffFmp4));
console.log(row('fMP4 + LL-HLS 0.5 s parts media core', median(llTimes), ffFmp4));
console.log(row('ffmpeg -c copy -f hls -hls_segment_type fmp4', ffFmp4, ffFmp4));
for (const [name, times] of [['HEVC', hevcTimes], ['HEVC fMP4', hevcFmp4Times]] as const) {
  const h = median(times);
  console.log(
    `| ${name} media core (packager over Enhanced RTMP tags, in memory; ${(hevcBytes / 1e6).toFixed(1)} MB, ${hevcSeconds.toFixed(1)} s) | ${(h * 1000).toFixed(0)} ms | ${(hevcBytes / 1e6 / h).toFixed(1)} MB/s | ${(hevcSeconds / h).toFixed(0)}× real time | — |`,
  );
}
