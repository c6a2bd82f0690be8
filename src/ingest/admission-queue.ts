/** What the queue asks of the load guard. */
export interface AdmissionGuard {
  /** Undefined when a publisher may start now (and it is counted), else why not. */
  admit(): string | undefined;
  /** Why no more publishers fit while those live stay: waiting is pointless. */
  full(): string | undefined;
}

export interface AdmissionQueueOptions {
  /** Longest a publisher waits for room before it is refused. */
  maxWaitMs: number;
  /** Publishers waiting at once; more are refused at once. */
  maxWaiting: number;
  /** How often waiting publishers are looked at. */
  tickMs?: number;
  now?: () => number;
}

export type Admission = { admitted: true; waitedMs: number } | { admitted: false; reason: string; waitedMs: number };

interface Waiter {
  since: number;
  deadline: number;
  gone?: () => boolean;
  resolve(a: Admission): void;
  lastReason: string;
}

/**
 * Paces publishers that arrive together (every encoder reconnecting after a restart, a
 * failover, a network blip): one that cannot start this instant waits its turn, first come
 * first served, while the load guard lets them in as fast as the process takes them; it is
 * refused only when the guard says the process is full for good, or after its wait runs out.
 * The RTMP answer is held meanwhile: encoders tolerate seconds before Publish.Start.
 */
export class AdmissionQueue {
  private readonly waiting: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    private readonly guard: AdmissionGuard,
    private readonly o: AdmissionQueueOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.waiting.length;
  }

  /**
   * Resolves when the publisher may start, or with why it is refused; `deadline` caps the
   * wait (epoch ms), and a publisher that is `gone` meanwhile gives up its place.
   */
  enter(deadline = Infinity, gone?: () => boolean): Promise<Admission> {
    const now = this.now();
    if (this.waiting.length === 0) {
      const why = this.guard.admit();
      if (!why) return Promise.resolve({ admitted: true, waitedMs: 0 });
      const full = this.guard.full();
      if (full) return Promise.resolve({ admitted: false, reason: full, waitedMs: 0 });
      return this.wait(now, deadline, why, gone);
    }
    const full = this.guard.full();
    if (full) return Promise.resolve({ admitted: false, reason: full, waitedMs: 0 });
    if (this.waiting.length >= this.o.maxWaiting) return Promise.resolve({ admitted: false, reason: `${this.waiting.length} publishers already waiting for room`, waitedMs: 0 });
    return this.wait(now, deadline, 'waiting for room', gone);
  }

  private wait(now: number, deadline: number, reason: string, gone?: () => boolean): Promise<Admission> {
    return new Promise((resolve) => {
      this.waiting.push({ since: now, deadline: Math.min(deadline, now + this.o.maxWaitMs), gone, resolve, lastReason: reason });
      this.timer ??= setInterval(() => this.tick(), this.o.tickMs ?? 50);
    });
  }

  /** Lets in whom the guard lets in, first come first served; refuses the expired, and everyone once the process is full. */
  tick(): void {
    const now = this.now();
    const full = this.guard.full();
    while (this.waiting.length > 0) {
      const head = this.waiting[0]!;
      if (full || head.gone?.()) {
        this.waiting.shift();
        head.resolve({ admitted: false, reason: full ?? 'the publisher left', waitedMs: now - head.since });
        continue;
      }
      const why = this.guard.admit();
      if (!why) {
        this.waiting.shift();
        head.resolve({ admitted: true, waitedMs: now - head.since });
        continue;
      }
      for (const w of this.waiting) w.lastReason = why;
      break;
    }
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i]!;
      if (w.deadline > now) continue;
      this.waiting.splice(i, 1);
      w.resolve({ admitted: false, reason: w.lastReason, waitedMs: now - w.since });
    }
    if (this.waiting.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Refuses everyone waiting (the gateway is stopping). */
  close(reason: string): void {
    const now = this.now();
    for (const w of this.waiting.splice(0)) w.resolve({ admitted: false, reason, waitedMs: now - w.since });
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
