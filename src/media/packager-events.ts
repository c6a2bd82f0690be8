/** What the live packager takes (its options) and gives back (its events), apart from the state machine itself. */
import type { LivePlaylistState, PlaylistEntry } from './playlist.js';
import type { TimelineOptions } from './timeline.js';

export interface PackagerOptions {
  /** Seconds, 1..100. */
  fragDuration: number;
  /** Segments in the live playlist, 1..100. */
  fragCount: number;
  /** 'ts' (the default): MPEG-TS segments. 'fmp4': CMAF segments after an init segment (needed for AV1). */
  container?: Container;
  /** fMP4 only: LL-HLS partial segments of about this many ms ('part' events). */
  partDurationMs?: number;
  /** URI of segment `sequence` as written in the playlist. Default `${sequence}.ts` (`.m4s` for fMP4). */
  segmentUri?: (sequence: number) => string;
  /** fMP4: URI of the init segment first used by segment `sequence`. Default `init-${sequence}.mp4`. */
  initUri?: (sequence: number) => string;
  /** Continue an existing playlist (a new push to the same channel). */
  resume?: PackagerResume;
  timeline?: TimelineOptions;
  /**
   * Snapshots: the first keyframe of each interval of this many ms of the stream's timeline
   * comes out as a 'keyframe' event (an interval without one has none). Off when absent.
   */
  keyframeIntervalMs?: number;
}

/** Where a playlist stands: its window, the next sequence number and where its timeline ended. */
export interface PackagerResume {
  playlist: LivePlaylistState;
  nextSequence: number;
  /** Output timeline (ms) after the previous push's last frame; the next push continues from here. */
  timelineEndMs?: number;
}

export type Container = 'ts' | 'fmp4';

/** How a video codec is named to people (notices, the remux summary). */
export const VIDEO_CODEC_NAMES = { H264: 'H.264', H265: 'HEVC', AV1: 'AV1' } as const;

export type VideoCodec = keyof typeof VIDEO_CODEC_NAMES;

export interface VideoInfo {
  codec: VideoCodec;
  width: number;
  height: number;
  profile: string;
  level: number;
  frameRate?: number;
}

export interface AudioInfo {
  codec: 'AAC';
  sampleRate: number;
  channels: number;
}

export interface MediaInfo {
  video?: VideoInfo;
  audio?: AudioInfo;
}

export interface SegmentInfo {
  sequence: number;
  uri: string;
  /** Output timeline (ms) of the segment's first frame. */
  startMs: number;
  durationMs: number;
  discontinuity: boolean;
  /** Cut without a keyframe (no IDR within max(2·FragDuration, 60 s)). */
  forced: boolean;
  startsWithIdr: boolean;
  /** fMP4: the init segment it needs (EXT-X-MAP). */
  initUri?: string;
  /** The segment's bytes, in the chunks the muxer wrote (see `data` for one buffer). */
  chunks: Uint8Array[];
  size: number;
  /** The bytes as one buffer (concatenated on first use). */
  readonly data: Buffer;
}

export type NoticeCode =
  | 'unsupported-video'
  | 'unsupported-audio'
  | 'malformed-video'
  | 'malformed-audio'
  | 'bad-video-config'
  | 'bad-audio-config'
  | 'video-config-changed'
  | 'audio-config-changed'
  | 'timestamp-jump'
  | 'timestamp-wrap';

export type PackagerEvent =
  | { type: 'segment'; segment: SegmentInfo }
  | { type: 'playlist'; text: string; ended: boolean }
  | { type: 'expired'; entries: PlaylistEntry[] }
  | { type: 'media'; info: MediaInfo }
  | { type: 'notice'; code: NoticeCode; message: string }
  | { type: 'keyframe'; keyframe: KeyframeInfo }
  /** fMP4: a new init segment, to store before the segments that name it. */
  | { type: 'init'; uri: string; data: Uint8Array }
  /** fMP4 with partDurationMs: an LL-HLS partial segment of the open segment `sequence`. */
  | { type: 'part'; part: PartInfo };

export interface PartInfo {
  sequence: number;
  /** 0, 1, ... within the segment. */
  index: number;
  durationMs: number;
  independent: boolean;
  data: Uint8Array;
  /** The segment starts a discontinuity. */
  discontinuity: boolean;
  /** Its init segment (EXT-X-MAP). */
  map?: string;
}

/** A keyframe for a snapshot (PackagerOptions.keyframeIntervalMs). */
export interface KeyframeInfo {
  codec: VideoCodec;
  /** Output timeline (ms) of the frame, as SegmentInfo.startMs. */
  ms: number;
  width: number;
  height: number;
  /** The frame alone, decodable: Annex B for H.264 and HEVC (keyframePicture), a low-overhead temporal unit for AV1 (av1KeyframePicture). */
  picture: Buffer;
}

export interface PackagerStats {
  videoFrames: number;
  audioFrames: number;
  droppedFrames: number;
  segments: number;
}
