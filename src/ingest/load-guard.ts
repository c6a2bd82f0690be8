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
  /** The cost of a publisher this node measured in an earlier run, if any. */
  rememberedCost?: number;
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
    this.budget = new PublisherBudget({ maxUtilization: o.maxEventLoopUtilization, coldStartAdmissions: o.coldStartAdmissions, rememberedCost: o.rememberedCost });
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

  private strained(): string | undefined {
    if (this.delayMs > this.o.maxEventLoopDelayMs) {
      return `event loop ${Math.round(this.delayMs)} ms late (limit ${this.o.maxEventLoopDelayMs} ms)`;
    }
    const unwritten = this.o.unwrittenBytes();
    if (unwritten > this.o.maxUnwrittenBytes) {
      return `${Math.round(unwritten / 1048576)} MiB of segments waiting for storage (limit ${Math.round(this.o.maxUnwrittenBytes / 1048576)} MiB)`;
    }
    return undefined;
  }

  /**
   * Why this process cannot take more publishers for now (what /readyz reports), or
   * undefined: late, storage behind, or full at the smoothed busy share and the learnt cost
   * of a publisher. Not the pacing of a burst: a node pacing admissions still takes more.
   */
  busy(): string | undefined {
    return this.strained() ?? this.budget.full(this.o.publishers());
  }

  /** Why no more publishers fit while those live stay (a newcomer need not wait), or undefined. */
  full(): string | undefined {
    return this.budget.full(this.o.publishers());
  }

  /** Why a publisher could not start this instant (admit() without counting one), or undefined. */
  pacing(): string | undefined {
    return this.strained() ?? this.budget.refusal();
  }

  /**
   * Whether a publisher may start this instant; when it may, counts it as admitted (checked
   * and counted at once, so a burst cannot slip past).
   */
  admit(): string | undefined {
    const why = this.pacing();
    if (!why) this.budget.admitted();
    return why;
  }

  /** The measured cost of one publisher (share of the event loop), to remember across restarts. */
  get costPerPublisher(): number | undefined {
    return this.budget.cost;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
