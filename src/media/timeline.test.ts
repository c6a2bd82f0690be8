import { describe, expect, it } from 'vitest';
import { Timeline, TRACK_AUDIO, TRACK_VIDEO } from './timeline.js';

function feed(tl: Timeline, frames: [number, number][]): number[] {
  return frames.map(([raw, track]) => tl.map(raw, track).dts);
}

describe('Timeline', () => {
  it('starts the output at 0 and follows the input', () => {
    expect(feed(new Timeline(), [[5000, 0], [5000, 1], [5033, 0], [5023, 1]])).toEqual([0, 0, 33, 23]);
  });

  it('unwraps the 32-bit millisecond counter', () => {
    const tl = new Timeline();
    const start = 2 ** 32 - 100;
    const out = feed(tl, [[start, 0], [start + 40, 0], [start + 80, 0], [(start + 120) % 2 ** 32, 0], [(start + 160) % 2 ** 32, 0]]);
    expect(out).toEqual([0, 40, 80, 120, 160]);
  });

  it('reports the wrap and survives a straggler from before it', () => {
    const tl = new Timeline();
    tl.map(2 ** 32 - 50, TRACK_VIDEO);
    const wrapped = tl.map(10, TRACK_VIDEO);
    expect(wrapped).toEqual({ dts: 60, wrapped: true });
    expect(tl.map(2 ** 32 - 20, TRACK_AUDIO).dts).toBe(30); // audio frame that was sent before the wrap
    expect(tl.map(43, TRACK_VIDEO).dts).toBe(93);
  });

  it('re-bases a backward jump so output stays continuous', () => {
    const tl = new Timeline();
    const before = feed(tl, [[100_000, 0], [100_040, 0], [100_080, 0]]);
    const jump = tl.map(0, TRACK_VIDEO);
    expect(before).toEqual([0, 40, 80]);
    expect(jump.dts).toBe(120);
    expect(jump.jumpMs).toBe(-100_080);
    expect(feed(tl, [[40, 0], [20, 1]])).toEqual([160, 140]);
  });

  it('re-bases a forward jump beyond the gap limit, but not a short one', () => {
    const tl = new Timeline({ maxForwardGapMs: 10_000 });
    feed(tl, [[0, 0], [33, 0], [66, 0]]);
    expect(tl.map(5_066, TRACK_VIDEO).dts).toBe(5_066); // a 5 s stall is real time, kept
    const jump = tl.map(3_600_000, TRACK_VIDEO);
    expect(jump.jumpMs).toBeGreaterThan(10_000);
    expect(jump.dts).toBeLessThan(5_200);
  });

  it('keeps each track strictly increasing under small backward jitter', () => {
    const out = feed(new Timeline(), [[1000, 0], [1033, 0], [1030, 0], [1030, 0], [1100, 0]]);
    expect(out).toEqual([0, 33, 34, 35, 100]);
  });

  it('tolerates audio running a little behind video without re-basing', () => {
    const tl = new Timeline();
    feed(tl, [[0, 0], [2_000, 0]]);
    const late = tl.map(500, TRACK_AUDIO);
    expect(late.jumpMs).toBeUndefined();
    expect(late.dts).toBe(500);
  });
});
