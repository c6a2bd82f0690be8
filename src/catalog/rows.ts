/** Catalog rows as both databases return them (snake_case columns), and their domain objects. */
import type { Channel, ChannelStatus, LeaseHolder, PushEndReason, PushRecord, SegmentRecord } from './catalog.js';

export interface ChannelRow {
  bucket: string;
  name: string;
  description: string;
  status: ChannelStatus;
  frag_duration: number;
  frag_count: number;
  playlist_name: string;
  last_modified: number;
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
});

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
});
