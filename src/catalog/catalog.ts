/** The catalog: channels, push history, the segment index and playlist state behind one interface. */
import type { PackagerResume } from '../media/packager.js';
import type { LostPushEvents, OutboxEntry, OutboxStore } from './outbox.js';

export type ChannelStatus = 'enabled' | 'disabled';

export interface ChannelConfig {
  description: string;
  status: ChannelStatus;
  fragDuration: number;
  fragCount: number;
  playlistName: string;
  /** PutLiveChannel's Snapshot option: JPEG thumbnails while live. */
  snapshot?: SnapshotConfig;
  /** Extensions in Target (not in OSS): fMP4 segments, LL-HLS parts. */
  hls?: HlsOptions;
}

export interface HlsOptions {
  /** `<SegmentFormat>fMP4</SegmentFormat>`: CMAF segments (.m4s) after an init segment; MPEG-TS when absent. */
  segmentFormat?: 'fMP4';
  /** `<PartDuration>` seconds: LL-HLS partial segments of about this length (fMP4 only). */
  partDuration?: number;
}

export interface SnapshotConfig {
  /** Kept and returned as given (OSS's RAM role; this gateway writes with its own storage rights). */
  roleName: string;
  /** Where the JPEGs go: a bucket this gateway serves. */
  destBucket: string;
  /** Passed on as `topic` in snapshot.created events. */
  notifyTopic: string;
  /** Seconds, 1..100. */
  interval: number;
}

export interface Channel extends ChannelConfig {
  bucket: string;
  name: string;
  /** Epoch ms of the last configuration change. */
  lastModified: number;
}

/**
 * Why a push ended: the publisher unpublished or its connection closed; the gateway stopped it
 * (channel disabled, no media, replaced by a new publisher after going silent, shutdown, its
 * publish lease lost); or the node died and another one closed the record (interrupted).
 */
export const PUSH_END_REASONS = ['unpublished', 'disconnected', 'disabled', 'idle', 'replaced', 'shutdown', 'lease_lost', 'interrupted'] as const;
export type PushEndReason = (typeof PUSH_END_REASONS)[number];

export interface PushRecord {
  id: number;
  bucket: string;
  channel: string;
  /** Epoch ms. */
  startTime: number;
  /** Epoch ms; undefined while the push is live. */
  endTime?: number;
  endReason?: PushEndReason;
  remoteAddr: string;
  /** The gateway node that took the push. */
  nodeId: string;
}

/**
 * A catalog write of a push whose publish lease has passed to a newer owner (its fencing
 * token is no longer the channel's): refused, so a stale node cannot overwrite what the
 * current owner writes.
 */
export class FencedError extends Error {
  constructor(bucket: string, channel: string, token: number) {
    super(`the publish lease of ${bucket}/${channel} is no longer held with token ${token}`);
    this.name = 'FencedError';
  }
}

/** Who holds a channel's publish lease. */
export interface LeaseHolder {
  nodeId: string;
  remoteAddr: string;
  token: number;
  /** Epoch ms. */
  acquiredAt: number;
  expiresAt: number;
  /** The owner's live stat, published as it renews (JSON; undefined before the first renewal). */
  stat?: string;
  /** A stop someone asked the owner for (e.g. "disabled"), not yet carried out. */
  stopRequest?: PushEndReason;
  /** How other nodes reach the owner for what only it holds (LL-HLS parts): see LeaseRequest.peer. */
  peer?: string;
}

export interface LeaseRequest {
  bucket: string;
  channel: string;
  nodeId: string;
  remoteAddr: string;
  ttlMs: number;
  now: number;
  /** The owner's peer endpoint, opaque to the catalog (JSON: URL and token). */
  peer?: string;
}

export type LeaseResult = { ok: true; token: number; closedPushes: number } | { ok: false; holder: LeaseHolder };

export interface LeaseRenewal {
  bucket: string;
  channel: string;
  token: number;
  stat: string;
}

/** A channel whose lease this node holds and that someone asked to stop. */
export interface StopRequest {
  bucket: string;
  channel: string;
  token: number;
  reason: PushEndReason;
}

export interface SegmentRecord {
  bucket: string;
  channel: string;
  pushId: number;
  sequence: number;
  /** Object key of the segment in the bucket. */
  key: string;
  /** Epoch ms of the segment's first frame. */
  startTime: number;
  durationMs: number;
  discontinuity: boolean;
  /** fMP4: object key of the init segment it needs. */
  initKey?: string;
}

/** Where a live playlist stands, so that the next push continues it. */
export type PlaylistResume = PackagerResume;

/** Ten seconds of a channel's health (what any node answers once the publishing one has moved on). */
export interface HealthSummaryRecord {
  bucket: string;
  channel: string;
  /** Epoch ms at the start of the ten seconds. */
  time: number;
  /** The summary, its verdict and reasons, as JSON. */
  data: string;
}

/** A stored snapshot JPEG: retention deletes it by age. */
export interface SnapshotRecord {
  /** The bucket it is stored in (its channel's Snapshot DestBucket). */
  bucket: string;
  /** The channel it shows (whose retention rule applies). */
  channel: string;
  key: string;
  /** Epoch ms of its keyframe. */
  time: number;
}

/** A VOD playlist PostVodPlaylist wrote: retention rewrites it when its oldest segments go. */
export interface VodPlaylistRecord {
  bucket: string;
  channel: string;
  /** Object key of the playlist. */
  key: string;
  /** The range it was asked for, epoch ms. */
  fromMs: number;
  toMs: number;
}

export interface ListChannelsQuery {
  prefix: string;
  marker: string;
  maxKeys: number;
}

export interface Catalog {
  /**
   * The events outbox in the same database. Every write below that takes `events` stores them
   * in the same transaction as its change, and only when the change is made.
   */
  readonly outbox: OutboxStore;
  /** Connects and brings the schema up to date, where that takes I/O; before any other call. */
  open?(): Promise<void>;
  getChannel(bucket: string, name: string): Promise<Channel | undefined>;
  /** Creates or replaces a channel's configuration; `events` gets whether it existed before. */
  putChannel(bucket: string, name: string, config: ChannelConfig, now?: number, events?: (existed: boolean) => OutboxEntry[]): Promise<Channel>;
  setChannelStatus(bucket: string, name: string, status: ChannelStatus, now?: number, events?: readonly OutboxEntry[]): Promise<boolean>;
  deleteChannel(bucket: string, name: string, events?: readonly OutboxEntry[]): Promise<boolean>;
  listChannels(bucket: string, query: ListChannelsQuery): Promise<{ channels: Channel[]; truncated: boolean }>;

  startPush(
    bucket: string,
    channel: string,
    remoteAddr: string,
    startTime: number,
    nodeId: string,
    leaseToken: number,
    events?: (push: PushRecord) => OutboxEntry[],
  ): Promise<PushRecord>;
  /** Closes a push; FencedError when its lease token is no longer the channel's. */
  endPush(id: number, endTime: number, reason: PushEndReason, leaseToken: number, events?: readonly OutboxEntry[]): Promise<void>;
  /** Closes pushes left open by a crash whose publish lease is gone (expired or never taken); returns how many. */
  closeOpenPushes(endTime: number, events?: LostPushEvents): Promise<number>;
  /** The most recent pushes, oldest first. */
  recentPushes(bucket: string, channel: string, limit: number): Promise<PushRecord[]>;

  /** Indexes a stored segment; FencedError when `leaseToken` is no longer the channel's. */
  addSegment(segment: SegmentRecord, leaseToken: number, events?: readonly OutboxEntry[]): Promise<void>;
  /** Segments whose first frame lies in [fromMs, toMs], in order. */
  segmentsBetween(bucket: string, channel: string, fromMs: number, toMs: number): Promise<SegmentRecord[]>;

  /**
   * Indexed segments of a bucket whose first frame is before `beforeMs`, oldest first (by first
   * frame, channel, sequence); `after` continues past a segment a previous page ended with.
   */
  oldestSegments(bucket: string, beforeMs: number, limit: number, after?: SegmentRecord): Promise<SegmentRecord[]>;
  /** Forgets segments (retention deleted them). */
  deleteSegments(segments: readonly SegmentRecord[]): Promise<void>;
  /** Which of these fMP4 init segment keys an indexed segment of the bucket still names. */
  initKeysInUse(bucket: string, keys: readonly string[]): Promise<Set<string>>;
  /** Indexes a stored snapshot (so that retention finds it). */
  addSnapshot(snapshot: SnapshotRecord): Promise<void>;
  /** Indexed snapshots stored in a bucket taken before `beforeMs`, oldest first; `after` continues a page. */
  oldestSnapshots(bucket: string, beforeMs: number, limit: number, after?: SnapshotRecord): Promise<SnapshotRecord[]>;
  /** Forgets snapshots (retention deleted them). */
  deleteSnapshots(bucket: string, keys: readonly string[]): Promise<void>;
  /** Stores ten-second health summaries (one transaction). */
  addHealthSummaries(rows: readonly HealthSummaryRecord[]): Promise<void>;
  /** A channel's health summaries with from ≤ time < to, oldest first, at most `limit`. */
  healthSummaries(bucket: string, channel: string, from: number, to: number, limit: number): Promise<HealthSummaryRecord[]>;
  /** Forgets health summaries older than `beforeMs`; how many. */
  pruneHealthSummaries(beforeMs: number): Promise<number>;
  recordVodPlaylist(vod: VodPlaylistRecord): Promise<void>;
  vodPlaylists(bucket: string): Promise<VodPlaylistRecord[]>;
  deleteVodPlaylist(bucket: string, key: string): Promise<void>;
  /** Every live playlist's state in a bucket (the segments it names must stay). */
  playlistStates(bucket: string): Promise<{ channel: string; name: string; state: PlaylistResume }[]>;
  /** Forgets a live playlist's state (retention deleted a deleted channel's last playlist). */
  deletePlaylistState(bucket: string, channel: string, playlistName: string): Promise<void>;

  getPlaylistState(bucket: string, channel: string, playlistName: string): Promise<PlaylistResume | undefined>;
  /** FencedError when `leaseToken` is no longer the channel's. */
  savePlaylistState(
    bucket: string,
    channel: string,
    playlistName: string,
    state: PlaylistResume,
    leaseToken: number,
    events?: readonly OutboxEntry[],
  ): Promise<void>;

  /**
   * Publish leases: one publisher per channel across every process and node sharing this
   * catalog. Taking one is a single atomic statement; it succeeds when the channel has no
   * lease or its lease expired, and then bumps the channel's fencing token (which only grows)
   * and closes the pushes the expired owner left open (`events` describes them).
   */
  acquireLease(req: LeaseRequest, events?: LostPushEvents): Promise<LeaseResult>;
  /**
   * Extends each lease still held with its token, publishing the owner's stat; false for those
   * that are not. One transaction: one commit for a node's hundreds of channels.
   */
  renewLeases(leases: readonly LeaseRenewal[], ttlMs: number, now: number): Promise<boolean[]>;
  releaseLease(bucket: string, channel: string, token: number): Promise<void>;
  /** The unexpired lease on a channel. */
  getLease(bucket: string, channel: string, now: number): Promise<LeaseHolder | undefined>;
  /** Asks a channel's lease holder to stop its publisher; false when nobody holds it. */
  requestStop(bucket: string, channel: string, reason: PushEndReason, now: number): Promise<boolean>;
  /** Stops asked of this node: requested ones, and its channels that were disabled or deleted. */
  pendingStops(nodeId: string, now: number): Promise<StopRequest[]>;
  /** Releases every lease a node holds: at start, those its previous run died holding. */
  releaseNodeLeases(nodeId: string): Promise<number>;
  /** Calls `listener` soon after a stop is requested or a channel disabled anywhere (where the database can tell). */
  onStopRequested?(listener: () => void): void;
  /** Whether the database answers (for /readyz). */
  ping(): Promise<boolean>;

  close(): Promise<void>;
}
