import type { HealthSample } from './health-ring.js';

export type Verdict = 'healthy' | 'degraded' | 'failing';

/** How bad a verdict is: its order, and its value in the per-channel gauge. */
export const VERDICT_RANK: Record<Verdict, number> = { healthy: 0, degraded: 1, failing: 2 };

export type ReasonCode = 'no_media' | 'keyframe_interval' | 'bitrate_drop' | 'segments_late' | 'segments_dropped' | 'av_drift' | 'storage_failing' | 'frames_late';

export interface HealthReason {
  code: ReasonCode;
  verdict: Exclude<Verdict, 'healthy'>;
  message: string;
}

/** Seconds a rule looks back. */
const RECENT_S = 10;
/** A keyframe interval up to this much past FragDuration is jitter, not a GOP that is too long. */
const KEYFRAME_SLACK = 1.25;
/** Bitrate: the last RECENT_S seconds against the BASELINE_S before them. */
const BASELINE_S = 60;
const MIN_BASELINE_S = 20;
const AV_DRIFT_LIMIT_MS = 500;
const NO_MEDIA_S = 5;

const worst = (reasons: readonly HealthReason[]): Verdict =>
  reasons.some((r) => r.verdict === 'failing') ? 'failing' : reasons.length ? 'degraded' : 'healthy';

/**
 * The verdict on a publish from its newest one-second samples (oldest first, one a second),
 * with the reasons, each worded for the operator. `targetMs` is the channel's FragDuration.
 */
export function judge(samples: readonly HealthSample[], targetMs: number): { verdict: Verdict; reasons: HealthReason[] } {
  const reasons: HealthReason[] = [];
  const recent = samples.slice(-RECENT_S);
  if (recent.length === 0) return { verdict: 'healthy', reasons };
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const bitrate = (s: HealthSample) => s.videoBitrate + s.audioBitrate;
  const mean = (list: readonly HealthSample[], f: (s: HealthSample) => number) => list.reduce((a, s) => a + f(s), 0) / list.length;
  const sum = (f: (s: HealthSample) => number) => recent.reduce((a, s) => a + f(s), 0);
  const max = (f: (s: HealthSample) => number) => Math.max(...recent.map(f));

  const silent = samples.slice(-NO_MEDIA_S);
  if (silent.length === NO_MEDIA_S && silent.every((s) => bitrate(s) === 0)) {
    reasons.push({ code: 'no_media', verdict: 'failing', message: `no media for ${NO_MEDIA_S} s` });
  }
  const gop = max((s) => s.keyframeIntervalMs);
  if (gop > targetMs * KEYFRAME_SLACK) {
    reasons.push({ code: 'keyframe_interval', verdict: 'degraded', message: `keyframe interval ${seconds(gop)} is longer than FragDuration ${seconds(targetMs)}: segments come out ${seconds(gop)} long` });
  }
  const baseline = samples.slice(-RECENT_S - BASELINE_S, -RECENT_S);
  if (recent.length === RECENT_S && baseline.length >= MIN_BASELINE_S) {
    const before = mean(baseline, bitrate);
    const now = mean(recent, bitrate);
    if (before > 0 && now < before / 2 && !reasons.some((r) => r.code === 'no_media')) {
      reasons.push({ code: 'bitrate_drop', verdict: 'degraded', message: `bitrate fell from ${Math.round(before / 1000)} to ${Math.round(now / 1000)} kbit/s over the last ${RECENT_S} s` });
    }
  }
  const dropped = sum((s) => s.droppedSegments);
  if (dropped > 0) reasons.push({ code: 'segments_dropped', verdict: 'failing', message: `${dropped} segment${dropped === 1 ? '' : 's'} dropped in the last ${RECENT_S} s` });
  const retries = sum((s) => s.storageRetries);
  if (retries > 0) reasons.push({ code: 'storage_failing', verdict: dropped > 0 ? 'failing' : 'degraded', message: `storage failed ${retries} write${retries === 1 ? '' : 's'} in the last ${RECENT_S} s (retrying)` });
  const latency = max((s) => s.storedLatencyMs);
  if (latency > targetMs) reasons.push({ code: 'segments_late', verdict: 'degraded', message: `a segment took ${seconds(latency)} from its cut to storage, more than FragDuration ${seconds(targetMs)}` });
  const drifting = recent.filter((s) => Math.abs(s.avDriftMs) > AV_DRIFT_LIMIT_MS);
  if (drifting.length >= RECENT_S / 2) {
    const drift = drifting.at(-1)!.avDriftMs;
    reasons.push({ code: 'av_drift', verdict: 'degraded', message: `audio and video timestamps ${Math.abs(Math.round(drift))} ms apart (video ${drift > 0 ? 'ahead' : 'behind'})` });
  }
  const late = sum((s) => s.lateFrames);
  const frames = sum((s) => s.frameRate);
  if (late > 0 && late >= frames / 10) reasons.push({ code: 'frames_late', verdict: 'degraded', message: `${late} frames came more than a second behind real time in the last ${RECENT_S} s` });
  return { verdict: worst(reasons), reasons };
}
