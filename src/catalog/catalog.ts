/** The catalog: channels, push history, the segment index and playlist state behind one interface. */
import type { PackagerResume } from '../media/packager.js';

export type ChannelStatus = 'enabled' | 'disabled';

export interface ChannelConfig {
  description: string;
  status: ChannelStatus;
  fragDuration: number;
  fragCount: number;
  playlistName: string;
}

export interface Channel extends ChannelConfig {
  bucket: string;
  name: string;
  /** Epoch ms of the last configuration change. */
  lastModified: number;
}

/**
 * Why a push ended: the publisher unpublished or its connection closed; the gateway stopped it
 * (channel disabled, no media, replaced by a new publisher after going silent, shutdown); or
 * the process died and a later start closed the record (interrupted).
 */
export const PUSH_END_REASONS = ['unpublished', 'disconnected', 'disabled', 'idle', 'replaced', 'shutdown', 'interrupted'] as const;
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
}

/** Where a live playlist stands, so that the next push continues it. */
export type PlaylistResume = PackagerResume;

export interface ListChannelsQuery {
  prefix: string;
  marker: string;
  maxKeys: number;
}

export interface Catalog {
  getChannel(bucket: string, name: string): Promise<Channel | undefined>;
  /** Creates or replaces a channel's configuration. */
  putChannel(bucket: string, name: string, config: ChannelConfig, now?: number): Promise<Channel>;
  setChannelStatus(bucket: string, name: string, status: ChannelStatus, now?: number): Promise<boolean>;
  deleteChannel(bucket: string, name: string): Promise<boolean>;
  listChannels(bucket: string, query: ListChannelsQuery): Promise<{ channels: Channel[]; truncated: boolean }>;

  startPush(bucket: string, channel: string, remoteAddr: string, startTime: number): Promise<PushRecord>;
  endPush(id: number, endTime: number, reason: PushEndReason): Promise<void>;
  /** Closes pushes left open by a crash; returns how many. */
  closeOpenPushes(endTime: number): Promise<number>;
  /** The most recent pushes, oldest first. */
  recentPushes(bucket: string, channel: string, limit: number): Promise<PushRecord[]>;

  addSegment(segment: SegmentRecord): Promise<void>;
  /** Segments whose first frame lies in [fromMs, toMs], in order. */
  segmentsBetween(bucket: string, channel: string, fromMs: number, toMs: number): Promise<SegmentRecord[]>;

  getPlaylistState(bucket: string, channel: string, playlistName: string): Promise<PlaylistResume | undefined>;
  savePlaylistState(bucket: string, channel: string, playlistName: string, state: PlaylistResume): Promise<void>;

  close(): Promise<void>;
}
