/**
 * Sample-accurate audio timestamps. RTMP carries audio times in whole milliseconds, which
 * jitter against the true 1024-sample frame spacing; this clock counts samples from an
 * anchor and only re-anchors when the RTMP time drifts away by more than `toleranceMs`.
 */
export class AudioClock {
  private anchorMs = 0;
  private samples = 0;
  private anchored = false;

  constructor(private readonly toleranceMs = 50) {}

  /** Returns the frame's time in 90 kHz ticks (fractional ticks rounded) on the `dtsMs` timeline. */
  next(dtsMs: number, sampleRate: number, samplesPerFrame = 1024): number {
    const expectedMs = this.anchorMs + (this.samples * 1000) / sampleRate;
    if (!this.anchored || Math.abs(dtsMs - expectedMs) > this.toleranceMs) {
      this.anchored = true;
      this.anchorMs = dtsMs;
      this.samples = 0;
    }
    const ticks = Math.round(this.anchorMs * 90 + (this.samples * 90000) / sampleRate);
    this.samples += samplesPerFrame;
    return ticks;
  }

  /** Forget the anchor (sample rate changed). */
  reset(): void {
    this.anchored = false;
  }
}
