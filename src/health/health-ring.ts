/** What a channel's signal did in one second (or, summarised, in ten). */
export interface HealthSample {
  /** Epoch ms at the start of the second. */
  time: number;
  videoBitrate: number;
  audioBitrate: number;
  /** Video frames received in the second. */
  frameRate: number;
  /** The longest keyframe interval completed so far in the publish's last 10 s (ms of media time; 0: none yet). */
  keyframeIntervalMs: number;
  /** Video's newest timestamp minus audio's (ms; 0 without both). */
  avDriftMs: number;
  /** The longest segment stored in the second (ms; 0: none stored). */
  segmentMs: number;
  /** The longest time from a segment's cut to its being in storage (ms; 0: none stored). */
  storedLatencyMs: number;
  storageRetries: number;
  droppedSegments: number;
  /** Frames that came more than a second behind real time (a publisher or link that cannot keep up). */
  lateFrames: number;
  /** SRT: round-trip time (ms) and packets lost in the second; absent for RTMP. */
  rttMs?: number;
  packetsLost?: number;
}

export const SAMPLE_FIELDS = ['videoBitrate', 'audioBitrate', 'frameRate', 'keyframeIntervalMs', 'avDriftMs', 'segmentMs', 'storedLatencyMs', 'storageRetries', 'droppedSegments', 'lateFrames', 'rttMs', 'packetsLost'] as const;
type Field = (typeof SAMPLE_FIELDS)[number];
/** How ten one-second samples become one summary: the mean, the largest, or the total. */
export const SUMMARY_OF: Record<Field, 'mean' | 'max' | 'sum'> = {
  videoBitrate: 'mean',
  audioBitrate: 'mean',
  frameRate: 'mean',
  keyframeIntervalMs: 'max',
  avDriftMs: 'max',
  segmentMs: 'max',
  storedLatencyMs: 'max',
  storageRetries: 'sum',
  droppedSegments: 'sum',
  lateFrames: 'sum',
  rttMs: 'mean',
  packetsLost: 'sum',
};
/** A field a sample does not have (RTMP has no RTT). */
const ABSENT = Number.NaN;

/**
 * A channel's last `capacity` one-second samples, one Float32Array per field: a fixed 12
 * numbers a second (~200 KB for an hour), nothing allocated as samples arrive.
 */
export class HealthRing {
  private readonly times: Float64Array;
  private readonly values: Record<Field, Float32Array>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 3600) {
    this.times = new Float64Array(capacity);
    this.values = Object.fromEntries(SAMPLE_FIELDS.map((f) => [f, new Float32Array(capacity)])) as Record<Field, Float32Array>;
  }

  get size(): number {
    return this.count;
  }

  push(sample: HealthSample): void {
    const i = this.next;
    this.times[i] = sample.time;
    for (const f of SAMPLE_FIELDS) this.values[f][i] = sample[f] ?? ABSENT;
    this.next = (i + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** The samples with from ≤ time < to, oldest first. */
  range(from = -Infinity, to = Infinity): HealthSample[] {
    return this.newest(this.count, from, to);
  }

  /** The newest `n` samples, oldest first. */
  last(n: number): HealthSample[] {
    return this.newest(Math.min(n, this.count), -Infinity, Infinity);
  }

  private newest(n: number, from: number, to: number): HealthSample[] {
    const out: HealthSample[] = [];
    for (let k = n; k > 0; k--) {
      const i = (this.next - k + this.capacity) % this.capacity;
      const time = this.times[i]!;
      if (time < from || time >= to) continue;
      const sample = { time } as HealthSample;
      for (const f of SAMPLE_FIELDS) {
        const v = this.values[f][i]!;
        if (!Number.isNaN(v)) (sample as unknown as Record<string, number>)[f] = Math.round(v * 100) / 100;
      }
      out.push(sample);
    }
    return out;
  }

  /** Bytes the ring holds (what an hour of samples costs a channel). */
  get bytes(): number {
    return this.times.byteLength + SAMPLE_FIELDS.length * this.capacity * 4;
  }
}

/** Ten (or any number of) samples as one: each field by its SUMMARY_OF rule; `time` is the first one's. */
export function summarise(samples: readonly HealthSample[]): HealthSample | undefined {
  if (samples.length === 0) return undefined;
  const out = { time: samples[0]!.time } as HealthSample;
  for (const f of SAMPLE_FIELDS) {
    const present = samples.map((s) => s[f]).filter((v): v is number => v !== undefined);
    if (present.length === 0) continue;
    const rule = SUMMARY_OF[f];
    const v = rule === 'max' ? Math.max(...present) : present.reduce((a, b) => a + b, 0) / (rule === 'mean' ? present.length : 1);
    (out as unknown as Record<string, number>)[f] = Math.round(v * 100) / 100;
  }
  return out;
}
