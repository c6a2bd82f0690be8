import type { Catalog } from '../catalog/catalog.js';
import type { LiveSessions, LiveStat } from '../live/live-sessions.js';

/** This node's own live publishes. */
export interface LocalLive {
  stat(bucket: string, channel: string): LiveStat | undefined;
  disconnect(bucket: string, channel: string, reason: string): Promise<void>;
}

/** What an owner publishes with each lease renewal. */
export interface PublishedStat extends LiveStat {
  /** How long the publisher had sent no media when the stat was taken. */
  silentMs: number;
  /** Epoch ms when the stat was taken. */
  at: number;
}

/**
 * Live state across every node sharing the catalog: this node's publishes first, then the
 * publish lease and the stat its owner last published. A disable for a channel live on
 * another node is passed on through the catalog (the owner stops its publisher within its
 * stop poll, or at once where the catalog notifies).
 */
export class ClusterLive implements LiveSessions {
  constructor(
    private readonly local: LocalLive,
    private readonly catalog: Catalog,
    private readonly now: () => number = Date.now,
  ) {}

  async stat(bucket: string, channel: string): Promise<LiveStat | undefined> {
    const mine = this.local.stat(bucket, channel);
    if (mine) return mine;
    const lease = await this.catalog.getLease(bucket, channel, this.now());
    if (!lease) return undefined;
    if (!lease.stat) return { connectedTime: lease.acquiredAt, remoteAddr: lease.remoteAddr };
    const { silentMs: _silent, at: _at, ...stat } = JSON.parse(lease.stat) as PublishedStat;
    return stat;
  }

  async disconnect(bucket: string, channel: string, reason: string): Promise<void> {
    if (this.local.stat(bucket, channel)) return this.local.disconnect(bucket, channel, reason);
    await this.catalog.requestStop(bucket, channel, 'disabled', this.now());
  }
}
