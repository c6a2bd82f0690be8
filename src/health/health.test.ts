import { describe, expect, it } from 'vitest';
import { ChannelHealth } from './channel-health.js';
import { HealthRing, summarise, type HealthSample } from './health-ring.js';
import { judge } from './health-verdict.js';

const T0 = Date.UTC(2026, 11, 2, 21, 40);

function sample(i: number, o: Partial<HealthSample> = {}): HealthSample {
  return {
    time: T0 + i * 1000,
    videoBitrate: 2_500_000,
    audioBitrate: 128_000,
    frameRate: 30,
    keyframeIntervalMs: 2000,
    avDriftMs: 40,
    segmentMs: i % 2 ? 2000 : 0,
    storedLatencyMs: i % 2 ? 30 : 0,
    storageRetries: 0,
    droppedSegments: 0,
    lateFrames: 0,
    ...o,
  };
}
const steady = (n: number, o: Partial<HealthSample> = {}) => Array.from({ length: n }, (_, i) => sample(i, o));
const codes = (samples: HealthSample[]) => judge(samples, 2000).reasons.map((r) => r.code);

describe('health ring', () => {
  it('keeps the newest samples in order, drops the oldest past its capacity, and answers time ranges', () => {
    const ring = new HealthRing(5);
    for (let i = 0; i < 8; i++) ring.push(sample(i, { rttMs: i === 7 ? 12 : undefined }));
    expect(ring.size).toBe(5);
    expect(ring.range().map((s) => (s.time - T0) / 1000)).toEqual([3, 4, 5, 6, 7]);
    expect(ring.last(2).map((s) => (s.time - T0) / 1000)).toEqual([6, 7]);
    expect(ring.range(T0 + 4000, T0 + 6000).map((s) => (s.time - T0) / 1000)).toEqual([4, 5]);
    // a field a sample did not have stays absent
    expect(ring.last(2)[0]).not.toHaveProperty('rttMs');
    expect(ring.last(1)[0]!.rttMs).toBe(12);
    expect(ring.last(1)[0]!.videoBitrate).toBe(2_500_000);
  });

  it('costs a fixed ~200 KB for an hour of one-second samples', () => {
    const bytes = new HealthRing(3600).bytes;
    expect(bytes).toBeGreaterThan(150_000);
    expect(bytes).toBeLessThan(400_000);
  });

  it('summarises ten seconds: rates by their mean, peaks by their largest, events by their sum', () => {
    const s = summarise(steady(10).map((x, i) => ({ ...x, videoBitrate: i * 100, storageRetries: i === 3 ? 2 : 0, keyframeIntervalMs: i === 5 ? 9000 : 2000 })))!;
    expect(s.time).toBe(T0);
    expect(s.videoBitrate).toBe(450);
    expect(s.keyframeIntervalMs).toBe(9000);
    expect(s.storageRetries).toBe(2);
    expect(s.segmentMs).toBe(2000);
  });
});

describe('health verdict', () => {
  it('is healthy for a steady stream', () => {
    expect(judge(steady(70), 2000)).toEqual({ verdict: 'healthy', reasons: [] });
  });

  it('is degraded by a keyframe interval longer than FragDuration, with the interval in the message', () => {
    const { verdict, reasons } = judge(steady(20, { keyframeIntervalMs: 10_000 }), 2000);
    expect(verdict).toBe('degraded');
    expect(reasons[0]).toMatchObject({ code: 'keyframe_interval', verdict: 'degraded' });
    expect(reasons[0]!.message).toContain('10.0 s is longer than FragDuration 2.0 s');
    // jitter around FragDuration is not a long GOP
    expect(codes(steady(20, { keyframeIntervalMs: 2400 }))).toEqual([]);
  });

  it('is degraded when the bitrate falls by more than half for 10 s, not when it dips for a few seconds', () => {
    const drop = [...steady(40), ...steady(10, { videoBitrate: 400_000 }).map((s, i) => ({ ...s, time: T0 + (40 + i) * 1000 }))];
    expect(codes(drop)).toEqual(['bitrate_drop']);
    const dip = [...steady(40), ...steady(10).map((s, i) => ({ ...s, time: T0 + (40 + i) * 1000, videoBitrate: i < 3 ? 0 : 2_500_000 }))];
    expect(codes(dip)).toEqual([]);
    // too little history to compare with: no verdict on the bitrate yet
    expect(codes(steady(15, { videoBitrate: 100 }))).toEqual([]);
  });

  it('fails on dropped segments and on no media at all; storage retries alone degrade', () => {
    expect(judge([...steady(30), sample(30, { droppedSegments: 1, storageRetries: 4 })], 2000)).toMatchObject({
      verdict: 'failing',
      reasons: [expect.objectContaining({ code: 'segments_dropped', verdict: 'failing' }), expect.objectContaining({ code: 'storage_failing', verdict: 'failing' })],
    });
    expect(judge([...steady(30), sample(30, { storageRetries: 3 })], 2000).verdict).toBe('degraded');
    const silent = [...steady(30), ...steady(6, { videoBitrate: 0, audioBitrate: 0, frameRate: 0 }).map((s, i) => ({ ...s, time: T0 + (30 + i) * 1000 }))];
    expect(judge(silent, 2000)).toMatchObject({ verdict: 'failing', reasons: [expect.objectContaining({ code: 'no_media' })] });
  });

  it('is degraded by late segments, A/V drift over 500 ms for half the window, and frames behind real time', () => {
    expect(codes([...steady(30), sample(30, { storedLatencyMs: 3500 })])).toEqual(['segments_late']);
    expect(codes(steady(30, { avDriftMs: -900 }))).toEqual(['av_drift']);
    expect(judge(steady(30, { avDriftMs: -900 }), 2000).reasons[0]!.message).toContain('900 ms apart (video behind)');
    expect(codes([...steady(25), ...steady(3, { avDriftMs: 900 })])).toEqual([]);
    expect(codes(steady(30, { lateFrames: 10 }))).toEqual(['frames_late']);
  });
});

describe('channel health', () => {
  /** Feeds `seconds` of 30 fps video (keyframe every `gopS`) and audio, taking a sample each second. */
  function feed(h: ChannelHealth, from: number, seconds: number, gopS: number, o: { videoBytes?: number } = {}) {
    const changes = [];
    for (let s = from; s < from + seconds; s++) {
      for (let f = 0; f < 30; f++) {
        const ts = s * 1000 + Math.round((f * 1000) / 30);
        h.media(true, (s * 30 + f) % (gopS * 30) === 0, ts, o.videoBytes ?? 10_000, T0 + ts);
        if (f % 3 === 0) h.media(false, false, ts, 400, T0 + ts);
      }
      const change = h.take(T0 + s * 1000);
      if (change) changes.push({ at: s, ...change });
    }
    return changes;
  }

  it('flips to degraded at once on a 10 s GOP, and recovers only after 10 healthy seconds of 2 s GOPs', () => {
    const h = new ChannelHealth(2000);
    expect(feed(h, 0, 30, 2)).toEqual([]);
    const degraded = feed(h, 30, 20, 10);
    expect(degraded).toHaveLength(1);
    expect(degraded[0]).toMatchObject({ verdict: 'degraded', previous: 'healthy' });
    expect(degraded[0]!.at).toBeLessThanOrEqual(33);
    expect(degraded[0]!.reasons.map((r) => r.code)).toEqual(['keyframe_interval']);
    const recovered = feed(h, 50, 30, 2);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ verdict: 'healthy', previous: 'degraded', reasons: [] });
    // the 10 s GOP leaves the window ~10 s after the last one ended, then 10 healthy seconds
    expect(recovered[0]!.at).toBeGreaterThanOrEqual(65);
    const samples = h.ring.range();
    expect(samples).toHaveLength(80);
    expect(samples.every((s, i) => s.time === T0 + i * 1000)).toBe(true);
    expect(samples[10]).toMatchObject({ videoBitrate: 30 * 10_000 * 8, frameRate: 30, keyframeIntervalMs: 2000 });
    expect(Math.max(...samples.slice(30, 50).map((s) => s.keyframeIntervalMs))).toBeGreaterThanOrEqual(9900);
  });

  it('counts segments, their latency, retries and drops into the second they happened in', () => {
    const h = new ChannelHealth(2000);
    feed(h, 0, 2, 2);
    h.segmentStored(2000, 40);
    h.segmentStored(2033, 75);
    h.storageRetry();
    h.segmentDropped();
    const change = h.take(T0 + 2000);
    expect(h.ring.last(1)[0]).toMatchObject({ segmentMs: 2033, storedLatencyMs: 75, storageRetries: 1, droppedSegments: 1 });
    expect(change).toMatchObject({ verdict: 'failing' });
    h.take(T0 + 3000);
    expect(h.ring.last(1)[0]).toMatchObject({ segmentMs: 0, storedLatencyMs: 0, storageRetries: 0, droppedSegments: 0 });
  });

  it('counts frames that come more than a second behind real time, and SRT losses per second', () => {
    const h = new ChannelHealth(2000);
    for (let f = 0; f < 30; f++) h.media(true, f === 0, f * 33, 1000, T0 + f * 33);
    // the link stalls: the next frames arrive 1.5 s late
    for (let f = 30; f < 40; f++) h.media(true, false, f * 33, 1000, T0 + f * 33 + 1500);
    h.take(T0, { rttMs: 20, packetsLost: 100 });
    h.take(T0 + 1000, { rttMs: 25, packetsLost: 130 });
    const [first, second] = h.ring.range();
    expect(first).toMatchObject({ lateFrames: 10, rttMs: 20, packetsLost: 0 });
    expect(second).toMatchObject({ rttMs: 25, packetsLost: 30 });
  });
});
