import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LivePackager, type PackagerEvent, type PackagerOptions, type SegmentInfo } from '../../src/media/packager.js';
import { renderVodPlaylist } from '../../src/media/playlist.js';
import type { FlvTag } from '../../src/media/flv.js';

export interface PackagerRun {
  packager: LivePackager;
  events: PackagerEvent[];
  segments: SegmentInfo[];
  playlists: string[];
  notices: { code: string; message: string }[];
}

export function runPackager(tags: readonly FlvTag[], options: Partial<PackagerOptions> = {}, finish = true): PackagerRun {
  const packager = new LivePackager({ fragDuration: 2, fragCount: 3, ...options });
  const events: PackagerEvent[] = [];
  for (const t of tags) events.push(...packager.push(t.type, t.timestamp, t.data));
  if (finish) events.push(...packager.finish());
  return {
    packager,
    events,
    segments: events.flatMap((e) => (e.type === 'segment' ? [e.segment] : [])),
    playlists: events.flatMap((e) => (e.type === 'playlist' ? [e.text] : [])),
    notices: events.flatMap((e) => (e.type === 'notice' ? [{ code: e.code, message: e.message }] : [])),
  };
}

/** Writes segments and a VOD playlist of them into a fresh temp dir; returns the dir. */
export function writeSegments(segments: readonly SegmentInfo[]): { dir: string; vod: string; paths: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'lc-seg-'));
  const paths = segments.map((s) => {
    const p = join(dir, s.uri);
    writeFileSync(p, s.data);
    return p;
  });
  const vod = join(dir, 'vod.m3u8');
  writeFileSync(
    vod,
    renderVodPlaylist(segments.map((s) => ({ sequence: s.sequence, uri: s.uri, duration: s.durationMs / 1000, discontinuity: s.discontinuity }))),
  );
  return { dir, vod, paths };
}

/** Deterministic PRNG for fuzz-style tests (the fuzzer's). */
export { mulberry32 as prng } from '../../scripts/lib/fuzz.js';
