import type { FastifyBaseLogger } from 'fastify';
import type { Catalog } from '../catalog/catalog.js';
import type { EventRecorder } from '../events/event-recorder.js';
import { ChannelHealth, type LinkCounters } from './channel-health.js';
import { summarise, type HealthSample } from './health-ring.js';
import type { HealthReason, Verdict } from './health-verdict.js';

/** Summaries go to the catalog every this many seconds, and are kept this long. */
export const SUMMARY_SECONDS = 10;
export const SUMMARY_KEEP_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 10 * 60_000;

/** What a stored summary holds: the ten seconds summarised, and the verdict at their end. */
export interface HealthSummary extends HealthSample {
  verdict: Verdict;
  reasons: HealthReason['code'][];
}

/** One publish being watched, as the session holds it. */
export interface TrackedHealth {
  readonly health: ChannelHealth;
  /** The publish ended: its last summary is written and it is no longer watched. */
  end(): void;
}

export interface HealthMonitorOptions {
  catalog: Pick<Catalog, 'addHealthSummaries' | 'healthSummaries' | 'pruneHealthSummaries' | 'outbox'>;
  recorder?: EventRecorder;
  log: FastifyBaseLogger;
  now?: () => number;
  /** One-second samples kept per publish (3600: the last hour). */
  ringSeconds?: number;
}

interface Watched {
  bucket: string;
  channel: string;
  pushId: number | undefined;
  health: ChannelHealth;
  link: () => LinkCounters | undefined;
  /** Samples from this time on are not in a stored summary yet. */
  unsummarisedFrom: number;
}

/**
 * This process's publishes' health: one timer for all of them takes a sample a second, tells
 * `channel.degraded` / `channel.recovered` through the notifications, and stores ten-second
 * summaries in the catalog, where every node reads them.
 */
export class HealthMonitor {
  private readonly watched = new Map<string, Watched>();
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private ticks = 0;
  private lastPrune = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly o: HealthMonitorOptions) {
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  track(bucket: string, channel: string, pushId: number | undefined, targetMs: number, link: () => LinkCounters | undefined): TrackedHealth {
    const key = `${bucket}/${channel}`;
    const entry: Watched = { bucket, channel, pushId, health: new ChannelHealth(targetMs, this.o.ringSeconds), link, unsummarisedFrom: -Infinity };
    this.watched.set(key, entry);
    return {
      health: entry.health,
      end: () => {
        if (this.watched.get(key) !== entry) return;
        this.watched.delete(key);
        this.store([entry]);
      },
    };
  }

  /** The publish of a channel watched by this process, if it is live here. */
  local(bucket: string, channel: string): ChannelHealth | undefined {
    return this.watched.get(`${bucket}/${channel}`)?.health;
  }

  /** Every publish watched here (for per-channel metrics). */
  all(): { bucket: string; channel: string; health: ChannelHealth }[] {
    return [...this.watched.values()];
  }

  /** Ten-second summaries of a channel from the catalog (from any node). */
  async summaries(bucket: string, channel: string, from: number, to: number): Promise<HealthSummary[]> {
    const rows = await this.o.catalog.healthSummaries(bucket, channel, from, to, Math.ceil(SUMMARY_KEEP_MS / (SUMMARY_SECONDS * 1000)) + 10);
    return rows.map((r) => ({ ...(JSON.parse(r.data) as HealthSummary), time: r.time }));
  }

  /** Waits for the summaries being written (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writing;
  }

  close(): void {
    clearInterval(this.timer);
    this.store([...this.watched.values()]);
    this.watched.clear();
  }

  /** One second passed: a sample of each publish, its verdict, and every tenth second the summaries. */
  tick(): void {
    const now = this.now();
    const second = Math.floor(now / 1000) * 1000 - 1000;
    for (const w of this.watched.values()) {
      const change = w.health.take(second, w.link());
      if (change) this.announce(w, change.verdict, change.previous, change.reasons);
    }
    if (++this.ticks % SUMMARY_SECONDS === 0) this.store([...this.watched.values()]);
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      this.writing = this.writing
        .then(() => this.o.catalog.pruneHealthSummaries(now - SUMMARY_KEEP_MS))
        .then(
          () => {},
          (err) => this.o.log.warn({ err }, 'could not prune old health summaries'),
        );
    }
  }

  private announce(w: Watched, verdict: Verdict, previous: Verdict, reasons: readonly HealthReason[]): void {
    const type = verdict === 'healthy' ? 'channel.recovered' : 'channel.degraded';
    const fields = { pushId: w.pushId, verdict, previous, reasons: reasons.map((r) => ({ code: r.code, verdict: r.verdict, message: r.message })) };
    this.o.log[verdict === 'healthy' ? 'info' : 'warn']({ bucket: w.bucket, channel: w.channel, verdict, previous, reasons: fields.reasons.map((r) => r.message) }, `channel ${verdict === 'healthy' ? 'recovered' : verdict}`);
    const events = this.o.recorder?.entries(type, w.bucket, w.channel, fields) ?? [];
    if (events.length === 0) return;
    this.writing = this.writing
      .then(() => this.o.catalog.outbox.append(events))
      .catch((err) => this.o.log.error({ err, channel: w.channel }, `could not record a ${type} event`));
  }

  /** Each publish's samples since its last summary, summarised into the catalog. */
  private store(list: readonly Watched[]): void {
    const rows = list.flatMap((w) => {
      const samples = w.health.ring.range(w.unsummarisedFrom);
      const summary = summarise(samples);
      if (!summary) return [];
      w.unsummarisedFrom = samples.at(-1)!.time + 1;
      const data: HealthSummary = { ...summary, verdict: w.health.verdict, reasons: w.health.reasons.map((r) => r.code) };
      return [{ bucket: w.bucket, channel: w.channel, time: summary.time, data: JSON.stringify(data) }];
    });
    if (rows.length === 0) return;
    this.writing = this.writing
      .then(() => this.o.catalog.addHealthSummaries(rows))
      .catch((err) => this.o.log.warn({ err }, 'could not store health summaries'));
  }
}
