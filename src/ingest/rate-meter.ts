/** Bytes per second over the last few seconds, in one-second buckets. */
export class RateMeter {
  private readonly buckets: Float64Array;
  private readonly seconds: Float64Array;

  constructor(private readonly windowSeconds = 5) {
    this.buckets = new Float64Array(windowSeconds + 1);
    this.seconds = new Float64Array(windowSeconds + 1).fill(-1);
  }

  add(bytes: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % this.buckets.length;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += bytes;
  }

  /** Average over the last `windowSeconds` complete seconds (0 right after start). */
  rate(nowMs: number): number {
    const current = Math.floor(nowMs / 1000);
    let total = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const s = this.seconds[i]!;
      if (s < current && s >= current - this.windowSeconds) total += this.buckets[i]!;
    }
    return total / this.windowSeconds;
  }
}
