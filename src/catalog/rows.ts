/** Catalog rows as both databases return them (snake_case columns), and their domain objects. */
import type { Channel, ChannelConfig, ChannelStatus, HlsOptions, LeaseHolder, PushEndReason, PushRecord, SegmentRecord, SnapshotConfig, SnapshotRecord, VodPlaylistRecord } from './catalog.js';
import type { OutboxRow } from './outbox.js';

export interface ChannelRow {
  bucket: string;
  name: string;
  description: string;
  status: ChannelStatus;
  frag_duration: number;
  frag_count: number;
  playlist_name: string;
  last_modified: number;
  /** SnapshotConfig as JSON. */
  snapshot: string | null;
  /** HlsOptions as JSON. */
  hls: string | null;
}

export interface PushRow {
  id: number;
  bucket: string;
  channel: string;
  start_time: number;
  end_time: number | null;
  end_reason: PushEndReason | null;
  remote_addr: string;
  node_id: string;
}

export interface LeaseRow {
  node_id: string;
  remote_addr: string;
  token: number;
  acquired_at: number;
  expires_at: number;
  stat: string | null;
  stop_request: PushEndReason | null;
  peer: string | null;
}

export interface SegmentRow {
  bucket: string;
  channel: string;
  push_id: number;
  sequence: number;
  object_key: string;
  start_time: number;
  duration_ms: number;
  /** 0/1 in SQLite, a boolean in PostgreSQL. */
  discontinuity: number | boolean;
  init_key: string | null;
}

export const toChannel = (r: ChannelRow): Channel => ({
  bucket: r.bucket,
  name: r.name,
  description: r.description,
  status: r.status,
  fragDuration: r.frag_duration,
  fragCount: r.frag_count,
  playlistName: r.playlist_name,
  lastModified: r.last_modified,
  ...(r.snapshot ? { snapshot: JSON.parse(r.snapshot) as SnapshotConfig } : {}),
  ...(r.hls ? { hls: JSON.parse(r.hls) as HlsOptions } : {}),
});

export const snapshotColumn = (c: ChannelConfig): string | null => (c.snapshot ? JSON.stringify(c.snapshot) : null);
export const hlsColumn = (c: ChannelConfig): string | null => (c.hls ? JSON.stringify(c.hls) : null);

export const toPush = (r: PushRow): PushRecord => ({
  id: r.id,
  bucket: r.bucket,
  channel: r.channel,
  startTime: r.start_time,
  endTime: r.end_time ?? undefined,
  endReason: r.end_reason ?? undefined,
  remoteAddr: r.remote_addr,
  nodeId: r.node_id,
});

export const toHolder = (r: LeaseRow): LeaseHolder => ({
  nodeId: r.node_id,
  remoteAddr: r.remote_addr,
  token: r.token,
  acquiredAt: r.acquired_at,
  expiresAt: r.expires_at,
  stat: r.stat ?? undefined,
  stopRequest: r.stop_request ?? undefined,
  peer: r.peer ?? undefined,
});

export const toSegment = (r: SegmentRow): SegmentRecord => ({
  bucket: r.bucket,
  channel: r.channel,
  pushId: r.push_id,
  sequence: r.sequence,
  key: r.object_key,
  startTime: r.start_time,
  durationMs: r.duration_ms,
  discontinuity: r.discontinuity === 1 || r.discontinuity === true,
  ...(r.init_key ? { initKey: r.init_key } : {}),
});

export interface OutboxDbRow {
  id: number;
  event_id: string;
  target: string;
  bucket: string;
  channel: string;
  type: string;
  /** 0/1 in SQLite, a boolean in PostgreSQL. */
  droppable: number | boolean;
  body: string;
  created_at: number;
  attempts: number;
}

export const toOutboxRow = (r: OutboxDbRow): OutboxRow => ({
  id: r.id,
  eventId: r.event_id,
  target: r.target,
  bucket: r.bucket,
  channel: r.channel,
  type: r.type,
  droppable: Boolean(r.droppable),
  body: r.body,
  createdAt: r.created_at,
  attempts: r.attempts,
});

/** The outbox's bound: how many rows to delete, and of which kind, for `maxRows` to hold. */
export function trimPlan(rows: number, dead: number, maxRows: number): { dead: number; droppable: number } {
  const excess = Math.max(0, rows - maxRows);
  const deadFirst = Math.min(excess, dead);
  return { dead: deadFirst, droppable: excess - deadFirst };
}

export interface VodRow {
  bucket: string;
  object_key: string;
  channel: string;
  from_ms: number;
  to_ms: number;
}

export interface SnapshotRow {
  bucket: string;
  object_key: string;
  channel: string;
  taken_at: number;
}

export const toSnapshot = (r: SnapshotRow): SnapshotRecord => ({ bucket: r.bucket, channel: r.channel, key: r.object_key, time: r.taken_at });

export const toVod = (r: VodRow): VodPlaylistRecord => ({ bucket: r.bucket, channel: r.channel, key: r.object_key, fromMs: r.from_ms, toMs: r.to_ms });
