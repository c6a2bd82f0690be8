import type { FastifyBaseLogger } from 'fastify';
import type { Catalog, SnapshotConfig } from '../catalog/catalog.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { LiveSnapshotStat } from '../live/live-sessions.js';
import type { KeyframeInfo } from '../media/packager.js';
import type { Metrics } from '../metrics.js';
import { putWithRetries, type RetryingPutOptions } from '../storage/retrying-put.js';
import type { DecoderPool } from './decoder-pool.js';

export interface ChannelSnapshotsOptions {
  bucket: string;
  channel: string;
  config: SnapshotConfig;
  pool: DecoderPool;
  /** How JPEGs reach the destination bucket's storage (the segments' retrying writes). */
  put: RetryingPutOptions;
  /** Epoch ms of a point on the packager's output timeline. */
  wallTime: (timelineMs: number) => number;
  /** Whether this node may still write for the channel (its publish lease). */
  mayWrite: () => boolean;
  /** Where stored snapshots are indexed (for retention) and their events recorded. */
  catalog: Pick<Catalog, 'addSnapshot' | 'outbox'>;
  recorder?: EventRecorder;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

/** Where a snapshot is stored in its destination bucket. */
export const snapshotKey = (channel: string, epochMs: number) => `${channel}/${epochMs}.jpg`;

/**
 * A live channel's snapshots: each keyframe the packager picks for an interval is decoded to
 * JPEG, stored in the destination bucket as `<channel>/<unix-ms>.jpg`, indexed in the catalog
 * (for retention) and announced with a snapshot.created event. One snapshot is in the works per
 * channel at a time: a keyframe that comes while the previous one is still decoding or storing,
 * or while every decoder is busy, is skipped and counted.
 */
export class ChannelSnapshots {
  latest: LiveSnapshotStat | undefined;
  readonly stats = { stored: 0, skipped: 0, failed: 0 };
  private inFlight: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: ChannelSnapshotsOptions) {}

  offer(keyframe: KeyframeInfo): void {
    const decoding = this.closed || this.inFlight ? undefined : this.o.pool.tryDecode(keyframe.picture, keyframe.width, keyframe.height, keyframe.codec);
    if (!decoding) {
      this.stats.skipped++;
      this.o.metrics.snapshots.inc({ outcome: 'skipped_busy' });
      return;
    }
    this.inFlight = this.store(keyframe, decoding).finally(() => {
      this.inFlight = undefined;
    });
  }

  /** Resolves once the snapshot in the works (if any) is stored or given up. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  /** Waits for the snapshot in the works; no new ones are taken. */
  async finish(): Promise<void> {
    this.closed = true;
    await this.settled();
  }

  private async store(keyframe: KeyframeInfo, decoding: Promise<Buffer>): Promise<void> {
    const { bucket, channel, config } = this.o;
    let jpeg: Buffer;
    try {
      jpeg = await decoding;
    } catch (err) {
      this.fail('decode_failed', err, 'snapshot decode failed');
      return;
    }
    const time = Math.round(this.o.wallTime(keyframe.ms));
    const key = snapshotKey(channel, time);
    // the next interval's snapshot supersedes this one: retry no longer than an interval
    const deadline = Date.now() + config.interval * 1000;
    const giveUp = () => !this.o.mayWrite() || Date.now() > deadline;
    const stored = this.o.mayWrite() ? await putWithRetries(this.o.put, 'snapshot', key, jpeg, 'image/jpeg', giveUp) : undefined;
    if (!stored) {
      this.fail('store_failed', undefined, 'snapshot not stored');
      return;
    }
    this.stats.stored++;
    this.o.metrics.snapshots.inc({ outcome: 'stored' });
    this.latest = { bucket: config.destBucket, key, time, width: keyframe.width, height: keyframe.height };
    await this.o.catalog
      .addSnapshot({ bucket: config.destBucket, channel, key, time })
      .catch((err) => this.o.log.error({ err, bucket: config.destBucket, key }, 'could not index a stored snapshot: retention will not delete it'));
    const events = this.o.recorder?.entries('snapshot.created', bucket, channel, () => ({
      destBucket: config.destBucket,
      key,
      width: keyframe.width,
      height: keyframe.height,
      size: stored.size,
      etag: stored.etag,
      time: new Date(time).toISOString(),
      topic: config.notifyTopic,
    }));
    if (events?.length) await this.o.catalog.outbox.append(events).catch((err) => this.o.log.error({ err, bucket, channel }, 'could not record a snapshot.created event'));
  }

  private fail(outcome: 'decode_failed' | 'store_failed', err: unknown, message: string): void {
    this.stats.failed++;
    this.o.metrics.snapshots.inc({ outcome });
    this.o.log.warn({ err: err instanceof Error ? err.message : err, bucket: this.o.bucket, channel: this.o.channel }, message);
  }
}
