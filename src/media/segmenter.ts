/**
 * The OSS cut rule as a pure decision function over the output timeline (ms):
 * once the open segment holds FragDuration of media, cut at the next IDR; if no IDR
 * comes within max(2·FragDuration, 60 s), force the cut. Audio-only stretches (no
 * video for FragDuration) are cut on audio frames at FragDuration.
 */
export type CutDecision =
  | 'drop' // before the first segment can start
  | 'append'
  | 'start' // opens the first segment
  | 'cut' // closes the open segment; this frame opens the next
  | 'cut-forced';

/** The longest a segment gets: the forced cut when no IDR comes, max(2·FragDuration, 60 s). */
export const longestSegmentMs = (fragDurationSeconds: number) => Math.max(2 * fragDurationSeconds, 60) * 1000;

export interface FrameFacts {
  video: boolean;
  idr: boolean;
  dts: number;
}

export class Segmenter {
  readonly fragMs: number;
  readonly forceMs: number;
  private segmentStart: number | undefined;
  private lastVideoDts: number | undefined;
  private firstWaitingAudio: number | undefined;
  private cutRequested = false;
  videoExpected = false;

  constructor(fragDurationSeconds: number) {
    this.fragMs = fragDurationSeconds * 1000;
    this.forceMs = longestSegmentMs(fragDurationSeconds);
  }

  get open(): boolean {
    return this.segmentStart !== undefined;
  }

  /** Cut at the next IDR regardless of duration (codec configuration changed). */
  requestCut(): void {
    if (this.segmentStart !== undefined) this.cutRequested = true;
  }

  get cutPending(): boolean {
    return this.cutRequested;
  }

  decide(f: FrameFacts): CutDecision {
    const decision = this.classify(f);
    if (decision !== 'drop' && decision !== 'append') {
      this.segmentStart = f.dts;
      this.cutRequested = false;
      this.firstWaitingAudio = undefined;
    }
    if (f.video && decision !== 'drop') this.lastVideoDts = f.dts;
    return decision;
  }

  private classify(f: FrameFacts): CutDecision {
    const start = this.segmentStart;
    if (start === undefined) {
      if (f.video) return f.idr ? 'start' : 'drop';
      if (this.videoExpected) return 'drop';
      // Audio with no video announced yet: wait one fragment for video to show up.
      this.firstWaitingAudio ??= f.dts;
      return f.dts - this.firstWaitingAudio >= this.fragMs ? 'start' : 'drop';
    }
    const elapsed = f.dts - start;
    if (f.video && f.idr && (elapsed >= this.fragMs || (this.cutRequested && elapsed > 0))) return 'cut';
    if (elapsed >= this.forceMs) return 'cut-forced';
    if (!f.video && elapsed >= this.fragMs) {
      const videoIdle = this.lastVideoDts === undefined || f.dts - this.lastVideoDts >= this.fragMs;
      if (videoIdle) return 'cut';
    }
    return 'append';
  }
}
