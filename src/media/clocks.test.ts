import { describe, expect, it } from 'vitest';
import { AudioClock } from './audio-clock.js';
import { standardFrameRate, VideoClock } from './video-clock.js';

describe('VideoClock', () => {
  it('snaps millisecond timestamps of a 30 fps stream onto the exact 3000-tick grid', () => {
    const clock = new VideoClock();
    clock.setFrameRate(30);
    const out = [0, 33, 67, 100, 133, 167].map((ms, i) => clock.next(ms, i === 0 ? 67 : 33));
    expect(out.map(([dts]) => dts)).toEqual([0, 3000, 6000, 9000, 12000, 15000]);
    expect(out[0]![1]).toBe(6000); // cts 67 ms = two frames
  });

  it('keeps 29.97 fps on its 3003-tick grid', () => {
    const clock = new VideoClock();
    clock.setFrameRate(29.97);
    const ms = Array.from({ length: 10 }, (_, i) => Math.round((i * 1001) / 30));
    expect(ms.map((t) => clock.next(t, 0)[0])).toEqual(Array.from({ length: 10 }, (_, i) => i * 3003));
  });

  it('keeps the grid across a dropped frame', () => {
    const clock = new VideoClock();
    clock.setFrameRate(25);
    expect([0, 40, 120, 160].map((t) => clock.next(t, 0)[0])).toEqual([0, 3600, 10800, 14400]);
  });

  it('re-anchors on frames off the grid (variable frame rate) and keeps their real time', () => {
    const clock = new VideoClock();
    clock.setFrameRate(30);
    expect(clock.next(0, 0)[0]).toBe(0);
    expect(clock.next(50, 0)[0]).toBe(4500);
    expect(clock.next(83, 0)[0]).toBe(7500);
  });

  it('passes times through when the rate is unknown or non-standard', () => {
    const clock = new VideoClock();
    clock.setFrameRate(17.3);
    expect(clock.next(57, -20)).toEqual([5130, 3330]);
  });

  it('recognises standard rates, choosing the nearest', () => {
    expect(standardFrameRate(30)).toBe(30);
    expect(standardFrameRate(29.97)).toBeCloseTo(29.97, 2);
    expect(standardFrameRate(29.94)).toBeCloseTo(29.97, 2);
    expect(standardFrameRate(59.99)).toBe(60);
    expect(standardFrameRate(27)).toBeUndefined();
    expect(standardFrameRate(undefined)).toBeUndefined();
  });
});

describe('AudioClock', () => {
  it('counts samples instead of trusting millisecond timestamps', () => {
    const clock = new AudioClock();
    const ms = [0, 23, 46, 70, 93];
    expect(ms.map((t) => clock.next(t, 44100))).toEqual([0, 2090, 4180, 6269, 8359]);
  });

  it('re-anchors when the RTMP clock drifts beyond the tolerance (a gap in audio)', () => {
    const clock = new AudioClock(50);
    clock.next(0, 48000);
    clock.next(21, 48000);
    expect(clock.next(1000, 48000)).toBe(90_000);
    expect(clock.next(1021, 48000)).toBe(90_000 + 1920);
  });

  it('starts over after reset', () => {
    const clock = new AudioClock();
    clock.next(0, 48000);
    clock.reset();
    expect(clock.next(5, 48000)).toBe(450);
  });
});

describe('FrameRateEstimator', () => {
  it('measures the rate from decode timestamps when the SPS carries no timing', async () => {
    const { FrameRateEstimator } = await import('./frame-rate.js');
    const est = new FrameRateEstimator(16);
    expect(est.fps).toBeUndefined();
    for (let i = 0; i < 40; i++) est.add(Math.round((i * 1000) / 30));
    expect(est.fps).toBeCloseTo(30, 1);
    for (let i = 40; i < 80; i++) est.add(1333 + (i - 40) * 40);
    expect(est.fps).toBe(25);
  });
});
