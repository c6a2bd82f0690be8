import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { PublisherBudget } from './publisher-budget.js';

export interface LoadGuardOptions {
  /** Busy while the event loop's p99 delay over the last second is above this. */
  maxEventLoopDelayMs: number;
  /** Busy while this many segment bytes (all channels) wait for storage. */
  maxUnwrittenBytes: number;
  /** New publishers may bring the event loop's busy share (0–1) up to this. */
  maxEventLoopUtilization: number;
  /** Admissions per second while the cost of a publisher is not measured yet. */
  coldStartAdmissions: number;
  unwrittenBytes(): number;
  /** Publishers live now. */
  publishers(): number;
  /** Each second, the event loop's busy share over it. */
  onSample?(utilization: number): void;
}

/**
 * Says when this process cannot take more publishers without hurting the ones it has: its
 * event loop is late, one more publisher would make it too busy, or storage is not keeping
 * up. New publishes are refused then and /readyz answers 503, so that a load balancer sends
 * newcomers to another node.
 */
export class LoadGuard {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private readonly budget: PublisherBudget;
  private delayMs = 0;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private liveAtStart: number;

  constructor(private readonly o: LoadGuardOptions) {
    this.budget = new PublisherBudget({ maxUtilization: o.maxEventLoopUtilization, coldStartAdmissions: o.coldStartAdmissions });
    this.liveAtStart = o.publishers();
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  private sample(): void {
    this.delayMs = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.elu).utilization;
    this.budget.observe(utilization, this.liveAtStart);
    this.o.onSample?.(utilization);
    this.elu = now;
    this.liveAtStart = this.o.publishers();
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
    return this.budget.refusal();
  }

  /** busy(), and when it is not, counts the caller as admitted (checked and counted at once, so a burst cannot slip past). */
  admit(): string | undefined {
    const why = this.busy();
    if (!why) this.budget.admitted();
    return why;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
