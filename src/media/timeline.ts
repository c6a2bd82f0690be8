/**
 * Maps RTMP timestamps (32-bit milliseconds) onto one continuous output timeline:
 * unwraps the 32-bit counter, starts the output at 0, absorbs jumps (an encoder
 * restarting its clock, a stall) by re-basing so output stays continuous, and keeps
 * each track's decode times strictly increasing.
 */
export const TRACK_VIDEO = 0;
export const TRACK_AUDIO = 1;

const WRAP = 2 ** 32;
const HALF_WRAP = 2 ** 31;

export interface TimelineOptions {
  /** A forward step larger than this between consecutive frames is a jump. */
  maxForwardGapMs?: number;
  /** A backward step larger than this (vs the latest frame of any track) is a jump. */
  maxBackwardGapMs?: number;
}

export interface MappedTime {
  dts: number;
  /** Set when this frame's timestamp broke the timeline and was re-based. */
  jumpMs?: number;
  /** Set when this frame crossed the 32-bit timestamp wrap. */
  wrapped?: boolean;
}

export class Timeline {
  private readonly maxForward: number;
  private readonly maxBackward: number;
  private started = false;
  private lastRaw = 0;
  private wraps = 0;
  private offset = 0;
  private latest = 0;
  private readonly lastDts = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  private readonly lastStep = [33, 23];

  constructor(options: TimelineOptions = {}) {
    this.maxForward = options.maxForwardGapMs ?? 10_000;
    this.maxBackward = options.maxBackwardGapMs ?? 3_000;
  }

  map(raw: number, track: number): MappedTime {
    const result: MappedTime = { dts: 0 };
    raw >>>= 0;
    if (!this.started) {
      this.started = true;
      this.lastRaw = raw;
      this.offset = -raw;
    } else {
      const delta = raw - this.lastRaw;
      if (delta < -HALF_WRAP) {
        this.wraps++;
        result.wrapped = true;
        this.lastRaw = raw;
      } else if (delta > HALF_WRAP) {
        // a straggler from before the wrap: leave lastRaw alone
        raw -= WRAP;
      } else {
        this.lastRaw = raw;
      }
    }
    let dts = raw + this.wraps * WRAP + this.offset;
    const gap = dts - this.latest;
    if (gap > this.maxForward || gap < -this.maxBackward) {
      const target = this.latest + this.lastStep[track]!;
      this.offset += target - dts;
      result.jumpMs = gap;
      dts = target;
    }
    const previous = this.lastDts[track]!;
    if (dts <= previous) dts = previous + 1;
    if (previous !== Number.NEGATIVE_INFINITY) {
      const step = dts - previous;
      if (step > 0 && step < 1000) this.lastStep[track] = step;
    }
    this.lastDts[track] = dts;
    if (dts > this.latest) this.latest = dts;
    result.dts = dts;
    return result;
  }

  /** Typical frame spacing seen on a track, in ms. */
  frameStep(track: number): number {
    return this.lastStep[track]!;
  }
}
