import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LoadGuardOptions {
  /** Busy while the event loop's p99 delay over the last second is above this. */
  maxEventLoopDelayMs: number;
  /** Busy while this many segment bytes (all channels) wait for storage. */
  maxUnwrittenBytes: number;
  unwrittenBytes(): number;
}

/**
 * Says when this process cannot take more publishers without hurting the ones it has: its
 * event loop is late, or storage is not keeping up. New publishes are refused then and
 * /readyz answers 503, so that a load balancer sends newcomers to another node.
 */
export class LoadGuard {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private delayMs = 0;

  constructor(private readonly o: LoadGuardOptions) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.delayMs = this.histogram.percentile(99) / 1e6;
      this.histogram.reset();
    }, 1000);
    this.timer.unref();
  }

  /** Why this process is too busy for a new publisher, or undefined. */
  busy(): string | undefined {
    if (this.delayMs > this.o.maxEventLoopDelayMs) {
      return `event loop ${Math.round(this.delayMs)} ms late (limit ${this.o.maxEventLoopDelayMs} ms)`;
    }
    const unwritten = this.o.unwrittenBytes();
    if (unwritten > this.o.maxUnwrittenBytes) {
      return `${Math.round(unwritten / 1048576)} MiB of segments waiting for storage (limit ${Math.round(this.o.maxUnwrittenBytes / 1048576)} MiB)`;
    }
    return undefined;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
