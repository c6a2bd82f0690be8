import { describe, expect, it } from 'vitest';
import { Segmenter, type CutDecision } from './segmenter.js';

/** Video at `fps` with an IDR every `gop` seconds, for `seconds`; returns the cut decisions by time. */
function video(seg: Segmenter, seconds: number, gop: number, fps = 30, from = 0): Map<number, CutDecision> {
  const cuts = new Map<number, CutDecision>();
  const frames = Math.round(seconds * fps);
  const perGop = Math.round(gop * fps);
  for (let i = 0; i < frames; i++) {
    const dts = from + Math.round((i * 1000) / fps);
    const d = seg.decide({ video: true, idr: i % perGop === 0, dts });
    if (d !== 'append') cuts.set(dts, d);
  }
  return cuts;
}

describe('Segmenter', () => {
  it('cuts at the first IDR once FragDuration is reached', () => {
    const cuts = video(new Segmenter(5), 21, 2);
    // IDRs every 2 s: 0 starts, then the first IDR at ≥ 5 s after each start: 6, 12, 18
    expect([...cuts]).toEqual([[0, 'start'], [6000, 'cut'], [12000, 'cut'], [18000, 'cut']]);
  });

  it('does not cut at IDRs before FragDuration', () => {
    const cuts = video(new Segmenter(5), 10, 1);
    expect([...cuts.keys()]).toEqual([0, 5000]);
  });

  it('cuts exactly at FragDuration when an IDR lands there', () => {
    expect([...video(new Segmenter(2), 7, 2).keys()]).toEqual([0, 2000, 4000, 6000]);
  });

  it('forces a cut after 60 s without an IDR (FragDuration ≤ 30)', () => {
    const seg = new Segmenter(5);
    const cuts = video(seg, 150, 1000);
    expect([...cuts]).toEqual([[0, 'start'], [60000, 'cut-forced'], [120000, 'cut-forced']]);
  });

  it('forces a cut after 2·FragDuration when that exceeds 60 s', () => {
    const seg = new Segmenter(40);
    expect(seg.forceMs).toBe(80_000);
    expect([...video(seg, 100, 1000)]).toEqual([[0, 'start'], [80000, 'cut-forced']]);
  });

  it('drops video before the first IDR', () => {
    const seg = new Segmenter(5);
    expect(seg.decide({ video: true, idr: false, dts: 0 })).toBe('drop');
    expect(seg.decide({ video: true, idr: true, dts: 33 })).toBe('start');
  });

  it('drops audio before the first IDR when video is expected', () => {
    const seg = new Segmenter(5);
    seg.videoExpected = true;
    expect(seg.decide({ video: false, idr: false, dts: 0 })).toBe('drop');
    expect(seg.decide({ video: false, idr: false, dts: 9000 })).toBe('drop');
    expect(seg.decide({ video: true, idr: true, dts: 9010 })).toBe('start');
    expect(seg.decide({ video: false, idr: false, dts: 9020 })).toBe('append');
  });

  it('starts an audio-only stream after one fragment without video', () => {
    const seg = new Segmenter(2);
    const decisions = Array.from({ length: 120 }, (_, i) => seg.decide({ video: false, idr: false, dts: i * 23 }));
    const first = decisions.indexOf('start');
    expect(first * 23).toBeGreaterThanOrEqual(2000);
    expect(decisions.slice(0, first).every((d) => d === 'drop')).toBe(true);
  });

  it('cuts audio-only stretches on audio at FragDuration, and resumes IDR cuts when video returns', () => {
    const seg = new Segmenter(2);
    const cuts: [number, CutDecision][] = [];
    const push = (video: boolean, idr: boolean, dts: number) => {
      const d = seg.decide({ video, idr, dts });
      if (d !== 'append') cuts.push([dts, d]);
    };
    // 0..3 s video+audio (IDR each second); 3..9 s audio only; then video again.
    for (let t = 0; t < 12000; t += 20) {
      const hasVideo = t < 3000 || t >= 9000;
      if (hasVideo && t % 40 === 0) push(true, t % 1000 === 0, t);
      push(false, false, t + 5);
    }
    expect(cuts).toEqual([
      [0, 'start'],
      [2000, 'cut'],
      // video stops at 2960; audio-only cuts once video has been idle ≥ 2 s and the segment ≥ 2 s
      [4965, 'cut'],
      [6965, 'cut'],
      [8965, 'cut'], // still audio-only; video's IDR at 9000 then lands inside this segment
      [11000, 'cut'],
    ]);
  });

  it('cuts at the next IDR when a configuration change is requested, however short the segment', () => {
    const seg = new Segmenter(5);
    seg.decide({ video: true, idr: true, dts: 0 });
    seg.decide({ video: true, idr: false, dts: 33 });
    seg.requestCut();
    expect(seg.cutPending).toBe(true);
    expect(seg.decide({ video: true, idr: false, dts: 66 })).toBe('append');
    expect(seg.decide({ video: true, idr: true, dts: 100 })).toBe('cut');
    expect(seg.cutPending).toBe(false);
  });
});
