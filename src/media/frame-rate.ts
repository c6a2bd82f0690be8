/** Estimates frames per second from recent video decode timestamps (ms). */
export class FrameRateEstimator {
  private readonly ring: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size = 64) {
    this.ring = new Float64Array(size);
  }

  add(dts: number): void {
    this.ring[this.next] = dts;
    this.next = (this.next + 1) % this.ring.length;
    if (this.count < this.ring.length) this.count++;
  }

  /** Frames per second rounded to 3 decimals, or undefined before two frames. */
  get fps(): number | undefined {
    if (this.count < 2) return undefined;
    const newest = this.ring[(this.next - 1 + this.ring.length) % this.ring.length]!;
    const oldest = this.ring[(this.next - this.count + this.ring.length) % this.ring.length]!;
    const span = newest - oldest;
    if (span <= 0) return undefined;
    return Math.round(((this.count - 1) * 1000 * 1000) / span) / 1000;
  }
}
