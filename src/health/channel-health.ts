import { HealthRing, type HealthSample } from './health-ring.js';
import { judge, VERDICT_RANK, type HealthReason, type Verdict } from './health-verdict.js';

/** The link's counters as the publishing protocol reports them (SRT's; RTMP has none). */
export interface LinkCounters {
  rttMs?: number;
  packetsLost?: number;
}

/** A frame that comes this much later than real time says the publisher (or its link) cannot keep up. */
const LATE_FRAME_MS = 1000;
/** A verdict that got worse is reported at once; one that got better only after this many healthy seconds. */
const RECOVER_AFTER_S = 10;
/** Seconds of samples the verdict looks at (its bitrate rule compares the last 10 s with the 60 before). */
const JUDGED_S = 70;

export interface VerdictChange {
  verdict: Verdict;
  previous: Verdict;
  reasons: HealthReason[];
}

/**
 * One publish's health: the session counts what happens (cheap additions on the media path),
 * and once a second take() turns the counts into a sample, judges the newest samples and says
 * when the verdict changed.
 */
export class ChannelHealth {
  readonly ring: HealthRing;
  verdict: Verdict = 'healthy';
  reasons: HealthReason[] = [];
  /** The verdict as last reported (events), which recovers only after RECOVER_AFTER_S healthy seconds. */
  private reported: Verdict = 'healthy';
  private healthySince = 0;
  private videoBytes = 0;
  private audioBytes = 0;
  private frames = 0;
  private lateFrames = 0;
  private retries = 0;
  private drops = 0;
  private segmentMs = 0;
  private storedLatencyMs = 0;
  private lastVideoTs: number | undefined;
  private lastAudioTs: number | undefined;
  private lastKeyframeTs: number | undefined;
  private lastGopMs = 0;
  private firstWall: number | undefined;
  private firstTs = 0;
  private leastBehindMs = Infinity;
  private lastLost: number | undefined;

  constructor(
    readonly targetMs: number,
    ringSeconds = 3600,
  ) {
    this.ring = new HealthRing(ringSeconds);
  }

  /** A media message: video (keyframe or not) or audio, `timestamp` in ms of media time, `now` epoch ms. */
  media(video: boolean, keyframe: boolean, timestamp: number, bytes: number, now: number): void {
    if (video) {
      this.videoBytes += bytes;
      this.frames++;
      this.lastVideoTs = timestamp;
      if (keyframe) {
        if (this.lastKeyframeTs !== undefined && timestamp > this.lastKeyframeTs) this.lastGopMs = timestamp - this.lastKeyframeTs;
        this.lastKeyframeTs = timestamp;
      }
    } else {
      this.audioBytes += bytes;
      this.lastAudioTs = timestamp;
    }
    if (this.firstWall === undefined) {
      this.firstWall = now;
      this.firstTs = timestamp;
    }
    // how far behind real time this message is, against the least it has been (the publisher's own pace)
    const behind = now - this.firstWall - (timestamp - this.firstTs);
    if (behind < this.leastBehindMs) this.leastBehindMs = behind;
    else if (video && behind - this.leastBehindMs > LATE_FRAME_MS) this.lateFrames++;
  }

  segmentStored(durationMs: number, latencyMs: number): void {
    this.segmentMs = Math.max(this.segmentMs, durationMs);
    this.storedLatencyMs = Math.max(this.storedLatencyMs, latencyMs);
  }

  segmentDropped(): void {
    this.drops++;
  }

  storageRetry(): void {
    this.retries++;
  }

  /** Ends the second that began at `time`: its sample goes into the ring; a change of the reported verdict is returned. */
  take(time: number, link?: LinkCounters): VerdictChange | undefined {
    // a keyframe interval still open counts once it is longer than the last one completed
    const openGop = this.lastKeyframeTs !== undefined && this.lastVideoTs !== undefined ? this.lastVideoTs - this.lastKeyframeTs : 0;
    const sample: HealthSample = {
      time,
      videoBitrate: this.videoBytes * 8,
      audioBitrate: this.audioBytes * 8,
      frameRate: this.frames,
      keyframeIntervalMs: Math.max(this.lastGopMs, openGop),
      avDriftMs: this.lastVideoTs !== undefined && this.lastAudioTs !== undefined ? this.lastVideoTs - this.lastAudioTs : 0,
      segmentMs: this.segmentMs,
      storedLatencyMs: this.storedLatencyMs,
      storageRetries: this.retries,
      droppedSegments: this.drops,
      lateFrames: this.lateFrames,
    };
    if (link?.rttMs !== undefined) sample.rttMs = link.rttMs;
    if (link?.packetsLost !== undefined) {
      sample.packetsLost = this.lastLost === undefined ? 0 : Math.max(0, link.packetsLost - this.lastLost);
      this.lastLost = link.packetsLost;
    }
    this.videoBytes = this.audioBytes = this.frames = this.lateFrames = this.retries = this.drops = this.segmentMs = this.storedLatencyMs = 0;
    this.ring.push(sample);

    const { verdict, reasons } = judge(this.ring.last(JUDGED_S), this.targetMs);
    this.verdict = verdict;
    this.reasons = reasons;
    if (verdict !== 'healthy') this.healthySince = 0;
    else this.healthySince++;
    const previous = this.reported;
    const worse = VERDICT_RANK[verdict] > VERDICT_RANK[previous];
    const recovered = previous !== 'healthy' && this.healthySince >= RECOVER_AFTER_S;
    if (!worse && !recovered) return undefined;
    this.reported = verdict;
    return { verdict, previous, reasons };
  }
}
