/**
 * Puts video timestamps back on their frame grid. RTMP carries milliseconds, so 30 fps
 * arrives as 33/34/33 ms steps; when the stream runs at a constant rate this clock
 * reproduces exact 90 kHz times (n · 3000 for 30 fps). A frame more than `toleranceMs`
 * off the grid re-anchors it, so variable-rate streams keep their real timing.
 */
const STANDARD_RATES = [
  24000 / 1001, 24, 25, 30000 / 1001, 30, 48, 50, 60000 / 1001, 60, 100, 120000 / 1001, 120,
];

/** Snaps a measured or signalled frame rate to a broadcast rate within 0.5 %. */
export function standardFrameRate(fps: number | undefined): number | undefined {
  if (fps === undefined || !Number.isFinite(fps) || fps <= 0) return undefined;
  let best: number | undefined;
  for (const r of STANDARD_RATES) {
    const error = Math.abs(fps - r) / r;
    if (error < 0.005 && (best === undefined || error < Math.abs(fps - best) / best)) best = r;
  }
  return best;
}

export class VideoClock {
  private frameMs: number | undefined;
  private anchorMs = 0;
  private frames = 0;
  private anchored = false;

  constructor(private readonly toleranceMs = 1) {}

  /** Sets the frame rate the grid follows (undefined: pass times through). */
  setFrameRate(fps: number | undefined): void {
    const rate = standardFrameRate(fps);
    const frameMs = rate === undefined ? undefined : 1000 / rate;
    if (frameMs !== this.frameMs) {
      this.frameMs = frameMs;
      this.anchored = false;
    }
  }

  get frameRate(): number | undefined {
    return this.frameMs === undefined ? undefined : 1000 / this.frameMs;
  }

  /** Returns [dts, pts] in 90 kHz ticks for a frame at `dtsMs` with composition offset `ctsMs`. */
  next(dtsMs: number, ctsMs: number): [number, number] {
    const f = this.frameMs;
    if (f === undefined) return [dtsMs * 90, (dtsMs + ctsMs) * 90];
    let n = this.frames;
    if (!this.anchored || Math.abs(dtsMs - (this.anchorMs + n * f)) > this.toleranceMs) {
      // Try the nearest grid slot first: a dropped frame keeps the grid.
      const slot = Math.round((dtsMs - this.anchorMs) / f);
      if (this.anchored && slot > n && Math.abs(dtsMs - (this.anchorMs + slot * f)) <= this.toleranceMs) {
        n = slot;
      } else {
        this.anchored = true;
        this.anchorMs = dtsMs;
        n = 0;
      }
    }
    this.frames = n + 1;
    const dts = Math.round((this.anchorMs + n * f) * 90);
    const ctsFrames = Math.round(ctsMs / f);
    const cts = Math.abs(ctsMs - ctsFrames * f) <= this.toleranceMs ? Math.round(ctsFrames * f * 90) : ctsMs * 90;
    return [dts, dts + cts];
  }
}
