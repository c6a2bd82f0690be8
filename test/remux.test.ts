import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { parseFlv, TAG_AUDIO, TAG_VIDEO } from '../src/media/flv.js';
import { parseAudioTag, parseVideoTag } from '../src/media/flv-tags.js';
import { OUTPUT_ORIGIN_MS } from '../src/media/packager.js';
import { remuxFile } from '../src/tools/remux.js';
import { ffmpegWarnings, muxjsInspect, muxjsTransmux, probePackets } from './support/media-tools.js';

interface Source {
  keyframes: number[];
  videoPts: number[];
  audio: number[];
  configChanges: number[];
}

function readSource(path: string): Source {
  const src: Source = { keyframes: [], videoPts: [], audio: [], configChanges: [] };
  let configs = 0;
  for (const t of parseFlv(readFileSync(path))) {
    if (t.type === TAG_VIDEO) {
      const v = parseVideoTag(t.data);
      if (v.kind === 'avc-config' && configs++ > 0) src.configChanges.push(t.timestamp);
      if (v.kind !== 'avc-frame') continue;
      // x264 marks IDR pictures as FLV keyframes
      if (v.keyframe) src.keyframes.push(t.timestamp);
      src.videoPts.push(t.timestamp + v.cts);
    } else if (t.type === TAG_AUDIO && parseAudioTag(t.data).kind === 'aac-frame') {
      src.audio.push(t.timestamp);
    }
  }
  return src;
}

/** Segment start times (source ms) by the OSS rule, applied independently of the packager. */
function expectedCuts(src: Source, fragMs: number): number[] {
  const cuts = [src.keyframes[0]!];
  for (const k of src.keyframes.slice(1)) {
    const start = cuts.at(-1)!;
    const configChanged = src.configChanges.some((c) => c > start && c <= k);
    if (k - start >= fragMs || configChanged) cuts.push(k);
  }
  return cuts;
}

const cases = [
  { name: 'main.flv', frag: 2, count: 3, audio: true },
  { name: 'main.flv', frag: 5, count: 2, audio: true },
  { name: 'video-only.flv', frag: 2, count: 3, audio: false },
  { name: 'gop10.flv', frag: 5, count: 3, audio: true },
  { name: 'res-change.flv', frag: 2, count: 3, audio: true },
];

describe.each(cases)('remux $name with FragDuration $frag', ({ name, frag, count, audio }) => {
  it('cuts by the rule, decodes cleanly in ffmpeg and mux.js, and keeps A/V in sync', async () => {
    const input = await fixture(name);
    const outDir = mkdtempSync(join(tmpdir(), 'lc-remux-'));
    const result = await remuxFile({ input, outDir, fragDuration: frag, fragCount: count, playlistName: 'live.m3u8', vodPlaylistName: 'vod.m3u8' });
    const src = readSource(input);
    const origin = src.keyframes[0]!;

    // Cut points and durations follow the rule.
    const cuts = expectedCuts(src, frag * 1000);
    expect(result.segments.length).toBe(cuts.length);
    result.segments.slice(0, -1).forEach((s, i) => expect(Math.round(s.duration * 1000)).toBe(cuts[i + 1]! - cuts[i]!));
    expect(result.segments.filter((s) => s.discontinuity).length).toBe(src.configChanges.length);

    // Live playlist: at most FragCount entries, ended.
    const live = readFileSync(join(outDir, 'live.m3u8'), 'utf8');
    expect(live.match(/\.ts$/gm)!.length).toBe(Math.min(count, cuts.length));
    expect(live.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);

    for (const [i, seg] of result.segments.entries()) {
      const path = join(outDir, seg.uri);
      expect(await ffmpegWarnings(path), seg.uri).toBe('');
      const bytes = new Uint8Array(readFileSync(path));
      const mux = muxjsTransmux(bytes);
      expect(mux.logs.filter((l) => l.level !== 'debug'), seg.uri).toEqual([]);
      expect(mux.outputs.map((o) => o.type)).toEqual([audio ? 'combined' : 'video']);
      expect(mux.outputs[0]!.bytes).toBeGreaterThan(1000);

      const video = await probePackets(path, 'v');
      expect(video[0]!.keyframe, `${seg.uri} starts with a keyframe`).toBe(true);
      // First video DTS is the cut point.
      expect(Math.round(video[0]!.dts / 90) - OUTPUT_ORIGIN_MS + origin).toBe(cuts[i]);

      // Sync: each track's first PTS maps back onto a source frame with the same offset (±1 ms).
      const inspected = muxjsInspect(bytes);
      const toSource = (pts90: number) => pts90 / 90 - OUTPUT_ORIGIN_MS + origin;
      const vPts = toSource(inspected.video![0]!.pts);
      expect(Math.min(...src.videoPts.map((p) => Math.abs(p - vPts)))).toBeLessThanOrEqual(1);
      if (audio) {
        const aPts = toSource(inspected.audio![0]!.pts);
        expect(Math.min(...src.audio.map((p) => Math.abs(p - aPts)))).toBeLessThanOrEqual(1);
        expect(Math.abs(aPts - cuts[i]!)).toBeLessThan(1000 / 30 + 23.3); // audio follows the cut
      }
    }

    // The whole VOD playlist decodes without a warning and lasts as long as the source.
    expect(await ffmpegWarnings(join(outDir, 'vod.m3u8'))).toBe('');
    const total = result.segments.reduce((s, x) => s + x.duration, 0);
    const lastVideoPts = Math.max(...src.videoPts);
    expect(total).toBeGreaterThan((lastVideoPts - origin) / 1000 - 0.2);
  });
});
