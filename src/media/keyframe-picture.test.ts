import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { buildSps } from '../../test/support/bit-writer.js';
import { runPackager } from '../../test/support/packager-run.js';
import { parseAvcDecoderConfig } from './avc.js';
import { parseFlv, TAG_VIDEO, type FlvTag } from './flv.js';
import { withoutReorderDelay } from './keyframe-picture.js';
import type { KeyframeInfo } from './packager.js';
import { parseSps } from './sps.js';

let main: FlvTag[];
let gop10: FlvTag[];

beforeAll(() => {
  main = parseFlv(readFileSync(`${FIXTURE_DIR}/main.flv`));
  gop10 = parseFlv(readFileSync(`${FIXTURE_DIR}/gop10.flv`));
});

const keyframes = (tags: FlvTag[], intervalMs: number): KeyframeInfo[] =>
  runPackager(tags, { keyframeIntervalMs: intervalMs }).events.flatMap((e) => (e.type === 'keyframe' ? [e.keyframe] : []));

function spsOf(tags: FlvTag[]): Uint8Array {
  const header = tags.find((t) => t.type === TAG_VIDEO && t.data[1] === 0)!;
  return parseAvcDecoderConfig(header.data.subarray(5)).sps[0]!;
}

describe('withoutReorderDelay', () => {
  it("drops x264's bitstream restriction and keeps everything before it", () => {
    const sps = spsOf(main);
    const before = parseSps(sps);
    expect(before.restrictionBit).toBeGreaterThan(0);
    const after = parseSps(withoutReorderDelay(sps));
    expect(after.restrictionBit).toBeUndefined();
    const { restrictionBit: _a, ...rest } = before;
    const { restrictionBit: _b, ...restAfter } = after;
    expect(restAfter).toEqual(rest);
    expect(withoutReorderDelay(sps).length).toBeLessThan(sps.length);
  });

  it('returns an SPS without a restriction (or without a VUI) as it is', () => {
    const plain = buildSps({ profileIdc: 77, levelIdc: 31, widthMbs: 80, heightMapUnits: 45 });
    expect(withoutReorderDelay(plain)).toBe(plain);
    const timed = buildSps({ profileIdc: 100, levelIdc: 40, widthMbs: 120, heightMapUnits: 68, timing: { unitsInTick: 1, timeScale: 60 } });
    expect(withoutReorderDelay(timed)).toBe(timed);
    expect(parseSps(timed).frameRate).toBe(30);
  });
});

describe('LivePackager keyframes for snapshots', () => {
  it('gives the first keyframe of each interval, as a standalone Annex B picture', () => {
    const every2s = keyframes(main, 2000);
    // 12 s with a keyframe every 2 s: one per interval
    expect(every2s.map((k) => Math.floor(k.ms / 2000))).toEqual([0, 1, 2, 3, 4, 5]);
    for (const k of every2s) {
      expect([k.width, k.height]).toEqual([1280, 720]);
      expect([...k.picture.subarray(0, 5)]).toEqual([0, 0, 0, 1, 0x67]);
      expect([...k.picture.subarray(-6)]).toEqual([0, 0, 0, 1, 0x09, 0xf0]);
      expect(parseSps(k.picture.subarray(4)).restrictionBit).toBeUndefined();
    }
    // 5 s intervals: the keyframes at 0, 6 and 10 s
    expect(keyframes(main, 5000).map((k) => Math.round(k.ms / 1000))).toEqual([0, 6, 10]);
  });

  it('skips intervals that have no keyframe (10 s GOP, 2 s interval)', () => {
    const ks = keyframes(gop10, 2000);
    expect(ks.map((k) => Math.round(k.ms / 1000))).toEqual([0, 10, 20]);
    expect([ks[0]!.width, ks[0]!.height]).toEqual([640, 360]);
  });

  it('gives none unless asked', () => {
    expect(runPackager(main).events.some((e) => e.type === 'keyframe')).toBe(false);
  });
});
