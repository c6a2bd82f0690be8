import type { FastifyBaseLogger } from 'fastify';
import type { OutboxRow, OutboxStore } from '../catalog/outbox.js';
import type { EventsConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { post } from '../egress/http-post.js';
import { callbackSignatureHeaders, type SigningKey } from './signing-key.js';

export interface OutboxSenderOptions {
  outbox: OutboxStore;
  nodeId: string;
  config: EventsConfig;
  key: () => Promise<SigningKey>;
  /** Where receivers fetch the public key (sent base64 in x-oss-pub-key-url). */
  publicKeyUrl: () => Promise<string>;
  /** The sender lease's time to live: another node takes over sending this long after this one dies. */
  leaseTtlMs: number;
  log: FastifyBaseLogger;
  metrics: Metrics;
  now?: () => number;
}

/** The wait before retry `attempt` (0 first): exponential, capped, with full jitter over its upper half. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

const channelKey = (r: OutboxRow) => `${r.target}\u0000${r.bucket}\u0000${r.channel}`;

/**
 * Delivers the outbox: the node holding the cluster-wide sender lease POSTs each event to its
 * target, a channel's events one at a time in order, up to `concurrency` channels at once.
 * A failure (non-2xx, timeout) holds the channel's later events back and is retried with
 * backoff; past `retryForMs` the event is marked dead and the channel moves on. Runs apart
 * from ingest: nothing waits on it.
 */
export class OutboxSender {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<string>();
  private holding = false;
  private lastLeaseAt = -Infinity;
  private lastTrimAt = -Infinity;
  private ticking = false;
  private again = false;
  private wakeQueued = false;
  /**
   * Delivered, not yet deleted: deleted together before the next look at the outbox's heads,
   * and skipped by a look that read them before that (a drain can deliver while a look's query
   * is on its way: sending them again would duplicate them).
   */
  private readonly undeleted = new Set<number>();
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: OutboxSenderOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.o.config.pollMs);
    this.timer.unref();
    this.wake();
  }

  /**
   * Looks for work on the next turn of the event loop, once the transaction that recorded an
   * event here has committed (SQLite's commit within this turn; PostgreSQL's are found by the
   * poll). Calls within one turn share one look.
   */
  wakeSoon(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    // a short wait gathers the events of several segments into one look
    setTimeout(() => {
      this.wakeQueued = false;
      this.wake();
    }, 10).unref();
  }

  /** Looks for work now. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick()
      .catch((err) => this.o.log.warn({ err }, 'event sender: catalog unavailable; will retry'))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.flushDelivered().catch(() => {});
    if (this.holding) await this.o.outbox.releaseSender(this.o.nodeId).catch(() => {});
  }

  private async tick(): Promise<void> {
    const now = this.now();
    if (now - this.lastLeaseAt >= this.o.leaseTtlMs / 3) {
      const token = await this.o.outbox.acquireSender(this.o.nodeId, this.o.leaseTtlMs, now);
      if ((token !== undefined) !== this.holding) this.o.log.info({ node: this.o.nodeId }, token !== undefined ? 'event sender: this node delivers notifications' : 'event sender: another node delivers notifications');
      this.holding = token !== undefined;
      this.lastLeaseAt = now;
    }
    if (!this.holding) return;
    // a head the outbox still holds but that was delivered would be sent again
    await this.flushDelivered();
    if (now - this.lastTrimAt >= 1000) {
      this.lastTrimAt = now;
      await this.trim();
    }
    const free = this.o.config.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const heads = await this.o.outbox.heads(now, free + this.inFlight.size);
    for (const row of heads) {
      if (this.inFlight.size >= this.o.config.concurrency) break;
      const key = channelKey(row);
      if (this.inFlight.has(key) || this.undeleted.has(row.id)) continue;
      this.inFlight.add(key);
      void this.drain(row)
        .catch((err) => this.o.log.warn({ err, channel: row.channel }, 'event sender: catalog unavailable while delivering; will retry'))
        .finally(() => this.inFlight.delete(key));
    }
  }

  private async flushDelivered(): Promise<void> {
    if (this.undeleted.size === 0) return;
    const ids = [...this.undeleted];
    await this.o.outbox.delivered(ids); // on failure they stay, skipped, for the next look
    for (const id of ids) this.undeleted.delete(id);
  }

  private async trim(): Promise<void> {
    const { dropped, deadRemoved, pending } = await this.o.outbox.trim(this.o.config.maxOutboxRows);
    for (const [type, n] of Object.entries(dropped)) {
      this.o.metrics.eventsDropped.inc({ type }, n);
      this.o.log.warn({ type, dropped: n, maxOutboxRows: this.o.config.maxOutboxRows }, 'event outbox full: oldest undelivered events dropped');
    }
    if (deadRemoved > 0) this.o.log.warn({ deadRemoved }, 'event outbox full: dead events removed');
    this.o.metrics.outboxPending.set(pending);
  }

  /** One channel's events, in order, while they go through and this node still sends. */
  private async drain(first: OutboxRow): Promise<void> {
    let batch = [first];
    while (batch.length > 0) {
      for (const row of batch) {
        if (!this.holding || this.stopped || !(await this.deliver(row))) return;
      }
      // read ahead: one query for the next several events of the channel
      batch = await this.o.outbox.nextInChannel(batch.at(-1)!, 32).catch(() => []);
    }
  }

  /** True when delivered; a failure schedules the retry (or marks the event dead). */
  private async deliver(row: OutboxRow): Promise<boolean> {
    const url = new URL(row.target);
    let failure: string;
    try {
      const headers = {
        'content-type': 'application/json',
        'x-livechannel-event-id': row.eventId,
        'x-livechannel-event-type': row.type,
        ...(await callbackSignatureHeaders(await this.o.key(), await this.o.publicKeyUrl(), url, row.body)),
      };
      const res = await post(url, headers, row.body, this.o.config.timeoutMs, 64 * 1024);
      if (res.status >= 200 && res.status < 300) {
        this.undeleted.add(row.id);
        this.o.metrics.eventsDelivered.inc();
        this.o.metrics.eventDeliverySeconds.observe(Math.max(0, this.now() - row.createdAt) / 1000);
        return true;
      }
      failure = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failure = e.code ? `${e.code} ${e.message}` : e.message;
    }
    const now = this.now();
    if (now - row.createdAt >= this.o.config.retryForMs) {
      await this.o.outbox.markDead(row.id, now, failure);
      this.o.metrics.eventsDead.inc();
      this.o.log.error({ event: row.eventId, type: row.type, bucket: row.bucket, channel: row.channel, target: row.target, attempts: row.attempts + 1, failure }, 'event notification given up (dead)');
      return true; // the channel's next events go on
    }
    await this.o.outbox.retryAt(row.id, now + retryDelay(row.attempts, this.o.config.retryBaseMs, this.o.config.retryMaxMs), failure);
    this.o.metrics.eventsRetried.inc();
    if (row.attempts === 0 || row.attempts % 10 === 0) {
      this.o.log.warn({ event: row.eventId, type: row.type, target: row.target, attempt: row.attempts + 1, failure }, 'event notification failed; will retry');
    }
    return false;
  }
}
