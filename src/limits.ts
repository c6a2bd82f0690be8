import type { FastifyBaseLogger } from 'fastify';
import { OssError } from './oss/errors.js';
import type { Metrics } from './metrics.js';

/** Counts every limit hit and logs it once per limit and peer per minute. */
export class LimitReporter {
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  hit(limit: string, peer: string, detail?: string): void {
    this.metrics.limitHits.inc({ limit });
    const key = `${limit}\u0000${peer}`;
    const now = Date.now();
    if ((this.lastLogged.get(key) ?? 0) > now - 60_000) return;
    if (this.lastLogged.size > 10_000) this.lastLogged.clear();
    this.lastLogged.set(key, now);
    this.log.warn({ limit, peer, detail }, 'limit reached');
  }
}

/** A token bucket per requester: `rate` requests a second, bursts of `burst`. */
export class RequestRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly report: (peer: string, who: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  check(who: string, peer: string): void {
    const t = this.now();
    const b = this.buckets.get(who) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(who, b);
    if (b.tokens < 1) {
      this.report(peer, who);
      throw new OssError(503, 'SlowDown', `Too many requests from ${who.startsWith('ip:') ? 'this address' : 'this access key'}; retry later.`, {
        RetryAfterSeconds: String(Math.ceil((1 - b.tokens) / this.rate)),
      });
    }
    b.tokens -= 1;
  }
}
