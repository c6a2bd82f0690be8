import type { FastifyBaseLogger } from 'fastify';
import type { Catalog, LeaseHolder, PushEndReason } from '../catalog/catalog.js';
import type { LostPushEvents } from '../catalog/outbox.js';
import type { ClusterConfig } from '../config.js';
import type { Metrics } from '../metrics.js';

/** What the owner of a lease is asked to do, and what it publishes. */
export interface LeaseOwner {
  /** The live stat (JSON) published to the catalog at each renewal, for the other nodes. */
  stat(): string;
  /** The lease is gone (not renewed in time, or taken over), or someone asked for a stop. */
  stop(reason: PushEndReason, description: string): void;
}

/** One publish's hold on a channel. */
export class PublishLease {
  private confirmedUntil: number;
  private lost = false;
  owner: LeaseOwner | undefined;

  constructor(
    readonly bucket: string,
    readonly channel: string,
    readonly token: number,
    acquiredUntil: number,
    private readonly safetyMs: number,
    private readonly now: () => number,
  ) {
    this.confirmedUntil = acquiredUntil;
  }

  /**
   * Whether this node may still write for the channel: the lease was confirmed long enough
   * ago to be sure nobody else can have it yet (a margin of one renewal before it expires).
   * After a pause past the lease (SIGSTOP, a long GC, a frozen VM) this is false at once.
   */
  holds(): boolean {
    return !this.lost && this.now() < this.confirmedUntil - this.safetyMs;
  }

  /** @internal */ confirm(until: number): void {
    this.confirmedUntil = until;
  }

  /** @internal */ markLost(): void {
    this.lost = true;
  }

  get isLost(): boolean {
    return this.lost;
  }
}

export type AcquireResult = { ok: true; lease: PublishLease; closedPushes: number } | { ok: false; holder: LeaseHolder };

export interface PublishLeasesOptions {
  catalog: Catalog;
  nodeId: string;
  cluster: ClusterConfig;
  log: FastifyBaseLogger;
  metrics: Metrics;
  now?: () => number;
  /** publish.ended (node-lost) for the pushes of dead owners this node closes. */
  lostPushEvents?: LostPushEvents;
  /** This node's peer endpoint, recorded with each lease it takes (LowLatencyPeers reads it). */
  peer?: () => string | undefined;
}

/**
 * This node's publish leases: taken through the catalog (one atomic statement), renewed on a
 * timer with the owner's stat, and given up (the publisher stopped) when a renewal fails past
 * the safety margin or finds the lease taken over. Stops asked of this node by others
 * (disable, delete, takeover) arrive by polling the catalog, and at once where the catalog
 * can notify (PostgreSQL LISTEN/NOTIFY).
 */
export class PublishLeases {
  private readonly held = new Set<PublishLease>();
  private readonly now: () => number;
  private renewTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private checkingStops: Promise<void> | undefined;
  private renewing = false;
  private recheck = false;

  constructor(private readonly o: PublishLeasesOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Starts renewing and watching for stops. */
  start(): void {
    this.renewTimer = setInterval(() => void this.renewAll(), this.o.cluster.leaseRenewMs);
    this.renewTimer.unref();
    this.stopTimer = setInterval(() => void this.checkStops(), this.o.cluster.stopPollMs);
    this.stopTimer.unref();
    this.sweepTimer = setInterval(() => void this.closeAbandonedPushes(), this.o.cluster.leaseTtlMs / 2);
    this.sweepTimer.unref();
    this.o.catalog.onStopRequested?.(() => void this.checkStops());
  }

  stop(): void {
    clearInterval(this.renewTimer);
    clearInterval(this.stopTimer);
    clearInterval(this.sweepTimer);
  }

  /** Closes the pushes of nodes that died holding a lease, once it expired (any node may). */
  private async closeAbandonedPushes(): Promise<void> {
    try {
      const closed = await this.o.catalog.closeOpenPushes(this.now(), this.o.lostPushEvents);
      if (closed > 0) this.o.log.warn({ closed }, 'closed push records whose node stopped renewing its publish lease');
    } catch (err) {
      this.o.log.warn({ err }, 'could not close abandoned push records; will retry');
    }
  }

  async acquire(bucket: string, channel: string, remoteAddr: string): Promise<AcquireResult> {
    const now = this.now();
    const ttl = this.o.cluster.leaseTtlMs;
    const r = await this.o.catalog.acquireLease({ bucket, channel, nodeId: this.o.nodeId, remoteAddr, ttlMs: ttl, now, peer: this.o.peer?.() }, this.o.lostPushEvents);
    if (!r.ok) return r;
    if (r.token > 1) this.o.metrics.leaseHandovers.inc();
    if (r.closedPushes > 0) this.o.log.warn({ bucket, channel, token: r.token, closed: r.closedPushes }, 'took over an expired publish lease; closed the pushes its owner left open');
    const lease = new PublishLease(bucket, channel, r.token, now + ttl, this.o.cluster.leaseRenewMs, this.now);
    this.held.add(lease);
    return { ok: true, lease, closedPushes: r.closedPushes };
  }

  async release(lease: PublishLease): Promise<void> {
    this.held.delete(lease);
    if (lease.isLost) return;
    lease.markLost();
    try {
      await this.o.catalog.releaseLease(lease.bucket, lease.channel, lease.token);
    } catch (err) {
      // it expires by itself
      this.o.log.warn({ err, bucket: lease.bucket, channel: lease.channel }, 'could not release a publish lease; it will expire');
    }
  }

  /** All of this node's leases in one catalog transaction. */
  private async renewAll(): Promise<void> {
    if (this.renewing) return; // the catalog is slow: the next tick tries again
    const leases = [...this.held].filter((l) => !l.isLost);
    if (leases.length === 0) return;
    this.renewing = true;
    const now = this.now();
    const ttl = this.o.cluster.leaseTtlMs;
    try {
      const renewed = await this.o.catalog.renewLeases(
        leases.map((l) => ({ bucket: l.bucket, channel: l.channel, token: l.token, stat: l.owner?.stat() ?? '{}' })),
        ttl,
        now,
      );
      leases.forEach((lease, i) => {
        if (renewed[i]) return lease.confirm(now + ttl);
        this.o.metrics.leaseRenewFailures.inc();
        this.lose(lease, "This node lost the channel's publish lease (it expired and another node took it); stopping.");
      });
    } catch (err) {
      this.o.metrics.leaseRenewFailures.inc(leases.length);
      this.o.log.warn({ err, leases: leases.length }, 'publish lease renewal failed; retrying');
      for (const lease of leases) {
        if (!lease.holds()) {
          this.lose(lease, `This node could not renew its publish lease for ${Math.round(ttl / 1000)} s (catalog unreachable); stopping before another node may take the channel.`);
        }
      }
    } finally {
      this.renewing = false;
    }
  }

  private lose(lease: PublishLease, description: string): void {
    if (lease.isLost) return;
    lease.markLost();
    this.held.delete(lease);
    this.o.log.error({ bucket: lease.bucket, channel: lease.channel, token: lease.token }, description);
    lease.owner?.stop('lease_lost', description);
  }

  /** One look at a time; a wake-up during a look makes one more. */
  private checkStops(): Promise<void> {
    if (this.checkingStops) {
      this.recheck = true;
      return this.checkingStops;
    }
    this.checkingStops = (async () => {
      do {
        this.recheck = false;
        if (this.held.size === 0) continue;
        try {
          for (const s of await this.o.catalog.pendingStops(this.o.nodeId, this.now())) {
            const lease = [...this.held].find((l) => l.bucket === s.bucket && l.channel === s.channel && l.token === s.token);
            if (!lease?.owner) continue;
            const description =
              s.reason === 'replaced'
                ? 'Replaced by a new publisher on another node: this connection sent no media.'
                : `Publishing stopped: the live channel was ${s.reason === 'disabled' ? 'disabled or deleted' : s.reason}.`;
            lease.owner.stop(s.reason, description);
          }
        } catch (err) {
          this.o.log.warn({ err }, 'could not look for publish stops; will retry');
        }
      } while (this.recheck);
    })().finally(() => (this.checkingStops = undefined));
    return this.checkingStops;
  }
}
