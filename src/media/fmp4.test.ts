import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { av1Tags, hevcTags } from '../../scripts/lib/enhanced-flv.js';
import { fixture, FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { ffmpegWarnings, probePackets, probeStreams } from '../../test/support/media-tools.js';
import { runPackager, type PackagerRun } from '../../test/support/packager-run.js';
import { parseFlv, type FlvTag } from './flv.js';
import { renderVodPlaylist } from './playlist.js';

let main: FlvTag[];
let resChange: FlvTag[];
let hevc: FlvTag[];
let av1: FlvTag[];

beforeAll(async () => {
  main = parseFlv(readFileSync(`${FIXTURE_DIR}/main.flv`));
  resChange = parseFlv(readFileSync(`${FIXTURE_DIR}/res-change.flv`));
  hevc = hevcTags(readFileSync(await fixture('hevc-360p.hevc')), 25);
  av1 = av1Tags(readFileSync(await fixture('av1-360p.obu')), 25);
}, 120_000);

/** Writes the init segments, the segments and a VOD playlist naming them into a temp dir. */
function writeFmp4(r: PackagerRun): { dir: string; vod: string; first: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lc-fmp4-'));
  for (const e of r.events) if (e.type === 'init') writeFileSync(join(dir, e.uri), e.data);
  for (const s of r.segments) writeFileSync(join(dir, s.uri), s.data);
  const vod = join(dir, 'vod.m3u8');
  writeFileSync(vod, renderVodPlaylist(r.segments.map((s) => ({ sequence: s.sequence, uri: s.uri, duration: s.durationMs / 1000, discontinuity: s.discontinuity, map: s.initUri }))));
  // the first init segment followed by the first segment: a file any MP4 reader takes
  const first = join(dir, 'first.mp4');
  const init = r.events.find((e) => e.type === 'init');
  if (init?.type !== 'init') throw new Error('no init segment');
  writeFileSync(first, Buffer.concat([init.data, r.segments[0]!.data]));
  return { dir, vod, first };
}

const inits = (r: PackagerRun) => r.events.flatMap((e) => (e.type === 'init' ? [e] : []));
const parts = (r: PackagerRun) => r.events.flatMap((e) => (e.type === 'part' ? [e.part] : []));

describe('fMP4 (CMAF) segments', () => {
  it('carries H.264 and AAC: one init segment, .m4s segments that decode cleanly, EXT-X-MAP in the playlist', async () => {
    const r = runPackager(main, { container: 'fmp4' });
    expect(inits(r).map((e) => e.uri)).toEqual(['init-0.mp4']);
    expect(r.segments.length).toBeGreaterThanOrEqual(5);
    expect(r.segments.every((s) => s.uri.endsWith('.m4s') && s.initUri === 'init-0.mp4' && s.startsWithIdr)).toBe(true);
    const last = r.playlists.at(-1)!;
    expect(last).toContain('#EXT-X-VERSION:6');
    expect(last).toContain('#EXT-X-MAP:URI="init-0.mp4"');
    const { vod, first } = writeFmp4(r);
    expect(await ffmpegWarnings(vod)).toBe('');
    const streams = await probeStreams(first);
    expect(streams.map((s) => [s.codec_name, s.width ?? s.sample_rate])).toEqual([['h264', 1280], ['aac', '44100']]);
    // B-frames keep their composition offsets: presentation order differs from decode order
    const packets = await probePackets(first, 'v');
    expect(packets.some((p) => p.pts !== p.dts)).toBe(true);
    expect(packets[0]!.keyframe).toBe(true);
  });

  it('carries HEVC in an hvc1 sample entry', async () => {
    const r = runPackager(hevc, { container: 'fmp4', fragDuration: 2 });
    expect(r.packager.mediaInfo().video).toMatchObject({ codec: 'H265', width: 640, height: 360 });
    const { vod, first } = writeFmp4(r);
    expect(await ffmpegWarnings(vod)).toBe('');
    expect((await probeStreams(first)).map((s) => [s.codec_name, s.codec_tag_string, s.width, s.height])).toEqual([['hevc', 'hvc1', 640, 360]]);
  });

  it('carries AV1 (Enhanced RTMP av01) in an av01 sample entry', async () => {
    const r = runPackager(av1, { container: 'fmp4', fragDuration: 2 });
    expect(r.notices).toEqual([]);
    expect(r.packager.mediaInfo().video).toMatchObject({ codec: 'AV1', width: 640, height: 360, profile: 'Main', level: 2.1 });
    expect(r.segments.length).toBe(3);
    const { vod, first } = writeFmp4(r);
    expect(await ffmpegWarnings(vod)).toBe('');
    expect((await probeStreams(first)).map((s) => [s.codec_name, s.width, s.height])).toEqual([['av1', 640, 360]]);
    const frames = (await probePackets(vod, 'v')).length;
    expect(frames).toBe(150);
  });

  it('starts a new init segment and a discontinuity when the resolution changes', async () => {
    const r = runPackager(resChange, { container: 'fmp4' });
    const made = inits(r);
    expect(made).toHaveLength(2);
    const changedAt = r.segments.find((s) => s.initUri === made[1]!.uri)!;
    expect(changedAt.discontinuity).toBe(true);
    const { dir, vod } = writeFmp4(r);
    expect((readFileSync(vod, 'utf8').match(/#EXT-X-MAP/g) ?? []).length).toBe(2);
    // ffmpeg's HLS reader keeps the first init segment's decoder setup, so each run is checked as one file
    const sizes: number[] = [];
    for (const init of made) {
      const file = join(dir, `run-${init.uri}`);
      writeFileSync(file, Buffer.concat([init.data, ...r.segments.filter((s) => s.initUri === init.uri).map((s) => s.data)]));
      expect(await ffmpegWarnings(file)).toBe('');
      sizes.push((await probeStreams(file))[0]!.width!);
    }
    expect(sizes).toEqual([1280, 640]);
  });
});

describe('LL-HLS parts', () => {
  it('cuts each segment into parts no longer than the part target that add up to the segment', () => {
    const r = runPackager(main, { container: 'fmp4', partDurationMs: 500 });
    const all = parts(r);
    expect(all.length).toBeGreaterThan(20);
    for (const s of r.segments) {
      const mine = all.filter((p) => p.sequence === s.sequence);
      expect(mine.map((p) => p.index)).toEqual(mine.map((_, i) => i));
      expect(Buffer.concat(mine.map((p) => p.data))).toEqual(s.data);
      expect(mine[0]!.independent).toBe(true);
      for (const p of mine) expect(p.durationMs).toBeLessThanOrEqual(500);
      const total = mine.reduce((n, p) => n + p.durationMs, 0);
      // the stream's last segment also counts its trailing audio; its parts end with the video
      if (s !== r.segments.at(-1)) expect(Math.abs(total - s.durationMs)).toBeLessThan(1);
    }
    // every part event comes before its segment's event
    const segmentAt = new Map(r.events.flatMap((e, i) => (e.type === 'segment' ? [[e.segment.sequence, i] as const] : [])));
    r.events.forEach((e, i) => {
      if (e.type === 'part') expect(i).toBeLessThan(segmentAt.get(e.part.sequence) ?? Infinity);
    });
  });

  it('makes parts of audio frames when there is no video', () => {
    const audioOnly = main.filter((t) => t.type !== 9);
    const r = runPackager(audioOnly, { container: 'fmp4', partDurationMs: 300 });
    const all = parts(r);
    expect(all.length).toBeGreaterThan(10);
    expect(all.every((p) => p.independent && p.durationMs <= 300)).toBe(true);
  });

  it('leaves MPEG-TS channels without parts or init segments', () => {
    const r = runPackager(main, { partDurationMs: 500 });
    expect(parts(r)).toEqual([]);
    expect(inits(r)).toEqual([]);
    expect(r.playlists.at(-1)).toContain('#EXT-X-VERSION:3');
  });
});
