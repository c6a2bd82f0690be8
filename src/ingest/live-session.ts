import type { FastifyBaseLogger } from 'fastify';
import type { LivePlaylists } from '../live/live-playlists.js';
import { LowLatencyStream, type LowLatencyStreams } from '../live/low-latency.js';
import { FencedError, type Catalog, type Channel, type PlaylistResume, type PushEndReason, type PushRecord } from '../catalog/catalog.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { LiveLinkStat, LiveStat } from '../live/live-sessions.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../media/flv.js';
import type { ChannelHealth } from '../health/channel-health.js';
import type { HealthMonitor, TrackedHealth } from '../health/health-monitor.js';
import { objectNames } from '../media/object-names.js';
import { LivePackager, type PackagerEvent } from '../media/packager.js';
import { tsChunkPool } from '../media/ts-muxer.js';
import type { Metrics } from '../metrics.js';
import type { ObjectStore } from '../storage/object-store.js';
import { unrefSleep } from '../storage/retrying-put.js';
import type { Semaphore } from '../storage/semaphore.js';
import { ChannelUploader, type DropReason, type InitUpload, type UploadPolicy } from '../storage/upload-pipeline.js';
import { ChannelSnapshots } from '../snapshots/channel-snapshots.js';
import type { DecoderPool } from '../snapshots/decoder-pool.js';
import { RateMeter } from './rate-meter.js';
import type { MediaSink } from './rtmp-connection.js';

/** The publisher's side of a session, as far as the gateway controls it. */
export interface PublisherControl {
  /** How long the publisher has sent no media. */
  msSinceMedia(): number;
  /** Tells the publisher why, ends the publish and closes its connection; resolves once flushed. */
  stop(reason: PushEndReason, description: string): Promise<void>;
}

/** The channel's publish lease, as the session needs it. */
export interface SessionLease {
  token: number;
  /** Whether this node may still write for the channel. */
  holds(): boolean;
}

export interface LiveSessionOptions {
  bucket: string;
  nodeId: string;
  lease: SessionLease;
  channel: Channel;
  playlistName: string;
  remoteAddr: string;
  catalog: Catalog;
  store: ObjectStore;
  semaphore: Semaphore;
  uploadPolicy: UploadPolicy;
  metrics: Metrics;
  log: FastifyBaseLogger;
  now: () => number;
  /** Where the live playlist is kept for viewers while this publish writes it. */
  playlists?: LivePlaylists;
  /** Where LL-HLS channels' parts and playlists are served from while this publish makes them. */
  lowLatency?: LowLatencyStreams;
  /** Event notifications of this publish (none when absent). */
  recorder?: EventRecorder;
  /** Storage said it is full (retention frees space). */
  onStorageFull?: () => void;
  /** For channels with the Snapshot option: the gateway's decoders (none without ffmpeg) and the buckets' stores. */
  snapshots?: { pool: DecoderPool | undefined; storeFor: (bucket: string) => ObjectStore };
  /** Watches the publish's health (none when absent). */
  health?: HealthMonitor;
  /** Called once the session has flushed everything and closed its history record. */
  onEnded: (session: LiveSession) => void | Promise<void>;
}

/**
 * One publish: RTMP messages in, through the packager, to the channel's uploader, which
 * stores segments in order and writes the playlist from what is stored.
 */
export class LiveSession implements MediaSink {
  readonly bucket: string;
  readonly channelName: string;
  readonly remoteAddr: string;
  readonly connectedTime: number;
  private readonly playlistKey: string;
  /** Set by the ingest once the RTMP connection is known, so that the API can stop it. */
  publisher: PublisherControl | undefined;
  bytesIn = 0;
  private readonly packager: LivePackager;
  private readonly uploader: ChannelUploader;
  private readonly videoRate = new RateMeter();
  private readonly audioRate = new RateMeter();
  private push: PushRecord | undefined;
  private firstMediaWall: number | undefined;
  private firstMediaTs: number | undefined;
  private lastMediaTs = 0;
  private pauseReading: ((paused: boolean) => void) | undefined;
  private paused = false;
  private ended: Promise<void> | undefined;
  /** A catalog write was refused: another node owns the channel now. */
  private fenced = false;
  /** Segments dropped since the last segments.dropped event, by reason. */
  private readonly droppedUnreported = new Map<DropReason, number>();
  private readonly snapshots: ChannelSnapshots | undefined;
  /** fMP4: the init segment the packager made last (segments name it until the next one). */
  private init: InitUpload | undefined;
  private readonly ll: LowLatencyStream | undefined;
  private tracked: TrackedHealth | undefined;

  private constructor(private readonly o: LiveSessionOptions, resume: PlaylistResume | undefined) {
    this.bucket = o.bucket;
    this.channelName = o.channel.name;
    this.remoteAddr = o.remoteAddr;
    this.connectedTime = o.now();
    this.playlistKey = `${o.channel.name}/${o.playlistName}`;
    this.snapshots = this.channelSnapshots();
    const fmp4 = o.channel.hls?.segmentFormat === 'fMP4';
    const names = objectNames(o.playlistName, fmp4 ? 'fmp4' : 'ts');
    const partDuration = fmp4 ? o.channel.hls?.partDuration : undefined;
    this.packager = new LivePackager({
      fragDuration: o.channel.fragDuration,
      fragCount: o.channel.fragCount,
      container: fmp4 ? 'fmp4' : 'ts',
      partDurationMs: partDuration === undefined ? undefined : partDuration * 1000,
      segmentUri: names.segmentUri,
      initUri: names.initUri,
      resume,
      keyframeIntervalMs: this.snapshots ? o.channel.snapshot!.interval * 1000 : undefined,
    });
    if (partDuration !== undefined && o.lowLatency) {
      this.ll = new LowLatencyStream({
        partTarget: partDuration,
        fragCount: o.channel.fragCount,
        resume: resume?.playlist,
        partUri: names.partUri,
      });
    }
    this.uploader = new ChannelUploader({
      store: o.store,
      semaphore: o.semaphore,
      policy: o.uploadPolicy,
      log: o.log,
      metrics: o.metrics,
      channel: o.channel.name,
      playlistKey: this.playlistKey,
      fragCount: o.channel.fragCount,
      resume: resume?.playlist,
      mayWrite: () => !this.fenced && o.lease.holds(),
      onSegmentStored: async (seg, stored) => {
        this.health?.segmentStored(seg.durationMs, seg.closedAt === undefined ? 0 : performance.now() - seg.closedAt);
        await this.reportDropped();
        const record = {
          bucket: this.bucket,
          channel: this.channelName,
          pushId: this.push!.id,
          sequence: seg.sequence,
          key: seg.key,
          startTime: seg.startTime,
          durationMs: seg.durationMs,
          discontinuity: seg.discontinuity,
          ...(seg.init ? { initKey: seg.init.key } : {}),
        };
        const events = o.recorder?.entries('segment.stored', this.bucket, this.channelName, () => ({
          pushId: record.pushId,
          key: seg.key,
          sequence: seg.sequence,
          startTime: seg.startTime,
          durationMs: seg.durationMs,
          size: stored.size,
          etag: stored.etag,
          discontinuity: seg.discontinuity,
        }));
        await this.fencedWrite('index a segment', () => o.catalog.addSegment(record, o.lease.token, events));
      },
      onSegmentDropped: (reason) => {
        this.droppedUnreported.set(reason, (this.droppedUnreported.get(reason) ?? 0) + 1);
        this.health?.segmentDropped();
      },
      onStorageRetry: () => this.health?.storageRetry(),
      onProgress: () => this.updateFlow(),
      // fMP4 fragments are not pool chunks (and LL-HLS keeps serving them from memory)
      releaseChunks: fmp4 ? undefined : (chunks) => tsChunkPool.give(chunks),
      onStorageFull: o.onStorageFull,
      onPlaylistStored: (playlist, text) => {
        if (!this.fenced) o.playlists?.publish(this.bucket, this.playlistKey, text);
        const { nextSequence, timelineEndMs } = this.packager.resumeState();
        const events = o.recorder?.entries('playlist.updated', this.bucket, this.channelName, {
          key: this.playlistKey,
          mediaSequence: playlist.entries[0]?.sequence ?? 0,
        });
        return this.fencedWrite('save the playlist state', () =>
          o.catalog.savePlaylistState(this.bucket, this.channelName, o.playlistName, { playlist, nextSequence, timelineEndMs }, o.lease.token, events),
        );
      },
    });
  }

  private channelSnapshots(): ChannelSnapshots | undefined {
    const o = this.o;
    const config = o.channel.snapshot;
    if (!config || !o.snapshots) return undefined;
    const where = { bucket: o.bucket, channel: o.channel.name };
    if (!o.snapshots.pool) {
      o.log.warn(where, 'the channel asks for snapshots, but this gateway has no ffmpeg: none are made');
      return undefined;
    }
    let store: ObjectStore;
    try {
      store = o.snapshots.storeFor(config.destBucket);
    } catch {
      o.log.warn({ ...where, destBucket: config.destBucket }, 'the snapshot DestBucket is not served by this gateway: no snapshots are made');
      return undefined;
    }
    return new ChannelSnapshots({
      ...where,
      config,
      pool: o.snapshots.pool,
      put: {
        store,
        semaphore: o.semaphore,
        backoff: o.uploadPolicy.backoff,
        metrics: o.metrics,
        log: o.log,
        channel: o.channel.name,
        sleep: unrefSleep,
      },
      wallTime: (ms) => this.firstMediaWall! + ms,
      mayWrite: () => !this.fenced && o.lease.holds(),
      catalog: o.catalog,
      recorder: o.recorder,
      metrics: o.metrics,
      log: o.log,
    });
  }

  static async open(o: LiveSessionOptions): Promise<LiveSession> {
    const resume = await o.catalog.getPlaylistState(o.bucket, o.channel.name, o.playlistName);
    const session = new LiveSession(o, resume);
    const recorder = o.recorder;
    session.push = await o.catalog.startPush(
      o.bucket,
      o.channel.name,
      o.remoteAddr,
      session.connectedTime,
      o.nodeId,
      o.lease.token,
      recorder?.enabled ? (push) => recorder.entries('publish.started', o.bucket, o.channel.name, { pushId: push.id, remoteAddr: o.remoteAddr }) : undefined,
    );
    session.tracked = o.health?.track(o.bucket, o.channel.name, session.push.id, o.channel.fragDuration * 1000, () => session.link?.());
    // served once the push is on record (end() withdraws it)
    if (session.ll) o.lowLatency?.add(o.bucket, session.playlistKey, session.ll);
    o.metrics.publishersLive.inc();
    o.log.info({ bucket: o.bucket, channel: o.channel.name, push: session.push.id, playlist: o.playlistName }, 'publish started');
    return session;
  }

  /** The tracked publish's counters (fed on the media path). */
  private get health(): ChannelHealth | undefined {
    return this.tracked?.health;
  }

  attachFlowControl(pause: (paused: boolean) => void): void {
    this.pauseReading = pause;
  }

  media(type: number, timestamp: number, payload: Buffer): void {
    const now = this.o.now();
    this.firstMediaWall ??= now;
    this.firstMediaTs ??= timestamp;
    this.lastMediaTs = timestamp;
    this.bytesIn += payload.length;
    this.o.metrics.ingestBytes += payload.length;
    if (type === TAG_VIDEO) this.videoRate.add(payload.length, now);
    else if (type === TAG_AUDIO) this.audioRate.add(payload.length, now);
    // FLV's frame type (legacy and Enhanced RTMP alike): 1 is a keyframe
    if (this.health && type !== TAG_SCRIPT) this.health.media(type === TAG_VIDEO, type === TAG_VIDEO && ((payload[0]! >> 4) & 7) === 1, timestamp, payload.length, now);
    this.carryOut(this.packager.push(type, timestamp, payload));
    if (this.uploader.pendingBytes > this.o.uploadPolicy.maxQueuedBytes / 2) this.updateFlow();
  }

  /**
   * A publisher that sends faster than real time (a file pushed without -re) is slowed by
   * TCP backpressure while its channel's unwritten segments pass half the bound, instead of
   * losing segments. A real-time publisher is never paused: when storage is the slow side,
   * the uploader's drop policy applies.
   */
  private updateFlow(): void {
    if (!this.pauseReading || this.firstMediaWall === undefined) return;
    const pending = this.uploader.pendingBytes;
    const bound = this.o.uploadPolicy.maxQueuedBytes;
    const aheadMs = this.lastMediaTs - this.firstMediaTs! - (this.o.now() - this.firstMediaWall);
    const shouldPause = this.paused ? pending > bound / 4 : pending > bound / 2 && aheadMs > 1000;
    if (shouldPause !== this.paused) {
      this.paused = shouldPause;
      this.pauseReading(shouldPause);
      this.o.log.debug({ channel: this.channelName, paused: shouldPause, pending, aheadMs }, 'publisher flow control');
    }
  }

  end(reason: PushEndReason, detail: string): Promise<void> {
    this.ended ??= (async () => {
      if (this.paused) this.pauseReading?.(false);
      this.carryOut(this.packager.finish());
      await Promise.all([this.uploader.finish(), this.snapshots?.finish()]);
      this.tracked?.end();
      this.o.playlists?.withdraw(this.bucket, this.playlistKey);
      if (this.ll) this.o.lowLatency?.remove(this.bucket, this.playlistKey, this.ll);
      await this.reportDropped();
      if (this.push) {
        const endTime = this.o.now();
        const events = this.o.recorder?.entries('publish.ended', this.bucket, this.channelName, {
          pushId: this.push.id,
          reason,
          remoteAddr: this.remoteAddr,
          bytesIn: this.bytesIn,
          segments: this.uploader.stats.written,
          dropped: this.uploader.stats.dropped,
          durationMs: endTime - this.connectedTime,
        });
        await this.fencedWrite('close the push record', () => this.o.catalog.endPush(this.push!.id, endTime, reason, this.o.lease.token, events));
      }
      this.o.metrics.publishersLive.dec();
      this.o.log.info(
        {
          bucket: this.bucket,
          channel: this.channelName,
          push: this.push?.id,
          reason,
          detail,
          bytesIn: this.bytesIn,
          ...this.uploader.stats,
          ...this.packager.stats,
          ...(this.snapshots ? { snapshots: this.snapshots.stats } : {}),
        },
        'publish ended',
      );
      await this.o.onEnded(this);
    })();
    return this.ended;
  }

  /**
   * A catalog write of this push. Refused (fenced) when another node took the channel's
   * lease: nothing more is written, and the publisher is stopped. Other catalog errors are
   * logged; the segment stays in storage and in the live playlist.
   */
  private async fencedWrite(what: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (err instanceof FencedError) {
        if (!this.fenced) {
          this.fenced = true;
          this.o.playlists?.withdraw(this.bucket, this.playlistKey);
          if (this.ll) this.o.lowLatency?.remove(this.bucket, this.playlistKey, this.ll);
          this.o.log.error({ bucket: this.bucket, channel: this.channelName, token: this.o.lease.token }, `catalog refused to ${what}: another node holds the channel's publish lease now; stopping`);
          void this.publisher?.stop('lease_lost', 'This node lost the channel\'s publish lease; stopping.');
        }
        return;
      }
      this.o.log.error({ err, bucket: this.bucket, channel: this.channelName }, `could not ${what} in the catalog`);
    }
  }

  /** One segments.dropped event per reason for the drops since the last one (they come in bursts). */
  private async reportDropped(): Promise<void> {
    if (this.droppedUnreported.size === 0 || !this.o.recorder || this.fenced) return;
    const drops = [...this.droppedUnreported];
    this.droppedUnreported.clear();
    const events = drops.flatMap(([reason, count]) => this.o.recorder!.entries('segments.dropped', this.bucket, this.channelName, { pushId: this.push?.id, count, reason }));
    await this.o.catalog.outbox.append(events).catch((err) => this.o.log.error({ err, channel: this.channelName }, 'could not record a segments.dropped event'));
  }

  /** Segment bytes received but not yet in storage. */
  get pendingUploadBytes(): number {
    return this.uploader.pendingBytes;
  }

  /** The publisher's link figures, set by the protocol that brought it. */
  link: (() => LiveLinkStat) | undefined;

  stat(): LiveStat {
    const now = this.o.now();
    const info = this.packager.mediaInfo();
    const stat: LiveStat = { connectedTime: this.connectedTime, remoteAddr: this.remoteAddr };
    if (info.video && this.packager.stats.videoFrames > 0) {
      stat.video = { width: info.video.width, height: info.video.height, frameRate: info.video.frameRate ?? 0, bandwidth: this.videoRate.rate(now), codec: info.video.codec };
    }
    if (info.audio && this.packager.stats.audioFrames > 0) {
      stat.audio = { sampleRate: info.audio.sampleRate, bandwidth: this.audioRate.rate(now), codec: 'AAC' };
    }
    if (this.snapshots?.latest) stat.snapshot = this.snapshots.latest;
    const link = this.link?.();
    if (link) stat.link = link;
    return stat;
  }

  private carryOut(events: PackagerEvent[]): void {
    for (const event of events) {
      if (event.type === 'segment') {
        const seg = event.segment;
        this.uploader.add({
          sequence: seg.sequence,
          uri: seg.uri,
          key: `${this.channelName}/${seg.uri}`,
          startTime: this.firstMediaWall! + seg.startMs,
          durationMs: seg.durationMs,
          discontinuity: seg.discontinuity,
          chunks: seg.chunks,
          size: seg.size,
          closedAt: performance.now(),
          ...(seg.initUri !== undefined && this.init?.uri === seg.initUri ? { init: this.init } : {}),
        });
        this.ll?.addSegment({ sequence: seg.sequence, uri: seg.uri, duration: seg.durationMs / 1000, discontinuity: seg.discontinuity, map: seg.initUri }, seg.chunks, this.firstMediaWall! + seg.startMs);
      } else if (event.type === 'init') {
        this.init = { key: `${this.channelName}/${event.uri}`, uri: event.uri, data: event.data };
        this.ll?.addInit(event.uri, event.data);
      } else if (event.type === 'part') {
        this.ll?.addPart(event.part);
      } else if (event.type === 'playlist' && event.ended) {
        this.ll?.end();
      } else if (event.type === 'keyframe') {
        this.snapshots?.offer(event.keyframe);
      } else if (event.type === 'notice') {
        this.o.log.info({ channel: this.channelName, code: event.code }, event.message);
      }
      // 'playlist' events are not written: the uploader writes playlists from stored segments
    }
  }
}
