import { parseAudioSpecificConfig, sameAacConfig, type AacConfig } from './aac.js';
import { AccessUnitScan, parseAvcDecoderConfig, sameVideoConfig, type AvcConfig } from './avc.js';
import { hevcProfileName, parseHevcDecoderConfig, type HevcConfig } from './hevc.js';
import { AudioClock } from './audio-clock.js';
import { keyframePicture, withoutReorderDelay } from './keyframe-picture.js';
import { parseAudioTag, parseVideoTag } from './flv-tags.js';
import { TAG_AUDIO, TAG_VIDEO } from './flv.js';
import { FrameRateEstimator } from './frame-rate.js';
import { LiveWindow, type LivePlaylistState, type PlaylistEntry } from './playlist.js';
import { Segmenter, type CutDecision } from './segmenter.js';
import { profileName } from './sps.js';
import { Timeline, TRACK_AUDIO, TRACK_VIDEO, type TimelineOptions } from './timeline.js';
import { TsMuxer } from './ts-muxer.js';
import { VideoClock } from './video-clock.js';

/** Output timestamps start here, so that negative composition offsets stay positive. */
export const OUTPUT_ORIGIN_MS = 1400;

export interface PackagerOptions {
  /** Seconds, 1..100. */
  fragDuration: number;
  /** Segments in the live playlist, 1..100. */
  fragCount: number;
  /** URI of segment `sequence` as written in the playlist. Default `${sequence}.ts`. */
  segmentUri?: (sequence: number) => string;
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

/** Gap left between pushes on the continued timeline. */
const PUSH_GAP_MS = 1000;

export interface VideoInfo {
  codec: 'H264' | 'H265';
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
  | { type: 'keyframe'; keyframe: KeyframeInfo };

/** A keyframe for a snapshot (PackagerOptions.keyframeIntervalMs). */
export interface KeyframeInfo {
  /** Output timeline (ms) of the frame, as SegmentInfo.startMs. */
  ms: number;
  width: number;
  height: number;
  /** The frame alone, decodable in Annex B (see keyframePicture). */
  picture: Buffer;
}

export interface PackagerStats {
  videoFrames: number;
  audioFrames: number;
  droppedFrames: number;
  segments: number;
}

const NO_EVENTS: PackagerEvent[] = [];

function segmentInfo(fields: Omit<SegmentInfo, 'data'>): SegmentInfo {
  let joined: Buffer | undefined;
  return {
    ...fields,
    get data(): Buffer {
      joined ??= Buffer.concat(fields.chunks, fields.size);
      return joined;
    },
  };
}
const ONCE_CODES = new Set<NoticeCode>(['unsupported-video', 'unsupported-audio']);

/**
 * The live HLS packager as a pure state machine: feed it FLV tags, it returns the
 * actions for the caller to carry out in order (store segment, write playlist, ...).
 */
export class LivePackager {
  readonly stats: PackagerStats = { videoFrames: 0, audioFrames: 0, droppedFrames: 0, segments: 0 };
  private readonly muxer = new TsMuxer();
  private readonly segmenter: Segmenter;
  private readonly timeline: Timeline;
  private readonly window: LiveWindow;
  private readonly scan = new AccessUnitScan();
  private readonly fps = new FrameRateEstimator();
  private readonly audioClock = new AudioClock();
  private readonly videoClock = new VideoClock();
  private readonly segmentUri: (sequence: number) => string;
  private readonly noticed = new Set<NoticeCode>();
  private video: AvcConfig | HevcConfig | undefined;
  private aac: AacConfig | undefined;
  private nextSequence: number;
  private pendingDiscontinuity: boolean;
  /** Added to this push's timeline so that it continues the previous push's. */
  private readonly originMs: number;
  private segmentForced = false;
  private segmentDiscontinuity = false;
  private segmentStartMs = 0;
  private segmentIdr = false;
  private lastEndMs = 0;
  private events: PackagerEvent[] = NO_EVENTS;
  private finished = false;
  private readonly keyframeIntervalMs: number | undefined;
  private lastKeyframeSlot = -1;
  /** The sequence header's SPS as keyframe pictures carry it. */
  private pictureSps: Uint8Array[] = [];

  constructor(options: PackagerOptions) {
    this.segmenter = new Segmenter(options.fragDuration);
    this.timeline = new Timeline(options.timeline);
    this.window = new LiveWindow(options.fragCount, options.resume?.playlist);
    this.nextSequence = options.resume?.nextSequence ?? 0;
    this.pendingDiscontinuity = (options.resume?.playlist.entries.length ?? 0) > 0 || this.nextSequence > 0;
    this.segmentUri = options.segmentUri ?? ((n) => `${n}.ts`);
    this.keyframeIntervalMs = options.keyframeIntervalMs;
    const previousEnd = options.resume?.timelineEndMs;
    this.originMs = OUTPUT_ORIGIN_MS + (previousEnd === undefined ? 0 : previousEnd + PUSH_GAP_MS);
  }

  /** Feeds one FLV tag (RTMP message). `data` may be reused by the caller after the call. */
  push(type: number, timestamp: number, data: Uint8Array): PackagerEvent[] {
    if (this.finished) throw new Error('packager already finished');
    this.events = NO_EVENTS;
    if (type === TAG_VIDEO) this.onVideo(timestamp, data);
    else if (type === TAG_AUDIO) this.onAudio(timestamp, data);
    return this.events;
  }

  /** Ends the stream: flushes the open segment and writes the playlist with EXT-X-ENDLIST. */
  finish(): PackagerEvent[] {
    if (this.finished) return NO_EVENTS;
    this.finished = true;
    this.events = NO_EVENTS;
    if (this.segmenter.open) this.closeSegment(this.lastEndMs);
    if (this.window.state.entries.length > 0) this.emit({ type: 'playlist', text: this.window.render(true), ended: true });
    return this.events;
  }

  mediaInfo(): MediaInfo {
    const info: MediaInfo = {};
    const video = this.video;
    if (video?.codec === 'H264') {
      const sps = video.info;
      info.video = {
        codec: 'H264',
        width: sps.width,
        height: sps.height,
        profile: profileName(sps.profileIdc),
        level: sps.levelIdc / 10,
        frameRate: sps.frameRate ?? this.fps.fps,
      };
    } else if (video?.codec === 'H265') {
      const sps = video.info;
      info.video = { codec: 'H265', width: sps.width, height: sps.height, profile: hevcProfileName(sps.profileIdc), level: sps.levelIdc / 30, frameRate: this.fps.fps };
    }
    if (this.aac) {
      info.audio = {
        codec: 'AAC',
        sampleRate: this.aac.extensionSampleRate ?? this.aac.sampleRate,
        channels: this.aac.channelConfig,
      };
    }
    return info;
  }

  /** Playlist state to hand to the next push's packager (see PackagerOptions.resume). */
  resumeState(): PackagerResume {
    const s = this.window.state;
    return {
      playlist: { ...s, entries: [...s.entries] },
      nextSequence: this.nextSequence,
      timelineEndMs: this.originMs - OUTPUT_ORIGIN_MS + this.lastEndMs,
    };
  }

  private emit(e: PackagerEvent): void {
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push(e);
  }

  private notice(code: NoticeCode, message: string): void {
    if (ONCE_CODES.has(code)) {
      if (this.noticed.has(code)) return;
      this.noticed.add(code);
    }
    this.emit({ type: 'notice', code, message });
  }

  private onVideo(timestamp: number, data: Uint8Array): void {
    const tag = parseVideoTag(data);
    switch (tag.kind) {
      case 'ignored':
        return;
      case 'unsupported':
        this.stats.droppedFrames++;
        return this.notice('unsupported-video', `video codec ${tag.codec} is not supported (H.264 and HEVC only); video dropped`);
      case 'malformed':
        this.stats.droppedFrames++;
        return this.notice('malformed-video', tag.reason);
      case 'avc-config':
        return this.onVideoConfig(tag.data, false);
      case 'hevc-config':
        return this.onVideoConfig(tag.data, true);
      case 'avc-frame':
      case 'hevc-frame':
        break;
    }
    const video = this.video;
    const hevc = tag.kind === 'hevc-frame';
    // no sequence header yet, or frames of another codec than the sequence header's
    if (!video || hevc !== (video.codec === 'H265')) {
      this.stats.droppedFrames++;
      return;
    }
    const error = this.scan.scan(tag.data, video.lengthSize, hevc);
    if (error) {
      this.stats.droppedFrames++;
      return this.notice('malformed-video', error);
    }
    if (this.scan.count === 0) return;
    const dts = this.mapTime(timestamp, TRACK_VIDEO);
    const idr = this.scan.hasIdr;
    if (!this.apply(this.segmenter.decide({ video: true, idr, dts }), dts, idr)) {
      this.stats.droppedFrames++;
      return;
    }
    this.stats.videoFrames++;
    this.fps.add(dts);
    if (this.videoClock.frameRate === undefined && this.stats.videoFrames % 16 === 0) {
      this.videoClock.setFrameRate(this.fps.fps);
    }
    const [dts90, pts90] = this.videoClock.next(dts + this.originMs, tag.cts);
    this.muxer.writeVideo(tag.data, this.scan, video, dts90, Math.max(0, pts90), idr);
    if (idr && this.keyframeIntervalMs !== undefined && video.codec === 'H264') this.offerKeyframe(video, tag.data, dts);
    this.lastEndMs = Math.max(this.lastEndMs, dts + this.timeline.frameStep(TRACK_VIDEO));
  }

  private offerKeyframe(avc: AvcConfig, frame: Uint8Array, dts: number): void {
    const slot = Math.floor(dts / this.keyframeIntervalMs!);
    if (slot === this.lastKeyframeSlot) return;
    this.lastKeyframeSlot = slot;
    const picture = keyframePicture(avc, frame, this.scan, this.pictureSps);
    this.emit({ type: 'keyframe', keyframe: { ms: dts, width: avc.info.width, height: avc.info.height, picture } });
  }

  private onAudio(timestamp: number, data: Uint8Array): void {
    const tag = parseAudioTag(data);
    switch (tag.kind) {
      case 'unsupported':
        this.stats.droppedFrames++;
        return this.notice('unsupported-audio', `audio codec ${tag.codec} is not supported (AAC only); audio dropped`);
      case 'malformed':
        this.stats.droppedFrames++;
        return this.notice('malformed-audio', tag.reason);
      case 'aac-config':
        return this.onAacConfig(tag.data);
      case 'aac-frame':
        break;
    }
    const aac = this.aac;
    if (!aac || tag.data.length === 0) {
      this.stats.droppedFrames++;
      return;
    }
    if (tag.data.length + 7 > 0x1fff) {
      this.stats.droppedFrames++;
      return this.notice('malformed-audio', `AAC frame of ${tag.data.length} bytes is larger than ADTS allows`);
    }
    const dts = this.mapTime(timestamp, TRACK_AUDIO);
    if (!this.apply(this.segmenter.decide({ video: false, idr: false, dts }), dts, false)) {
      this.stats.droppedFrames++;
      return;
    }
    this.stats.audioFrames++;
    this.muxer.writeAudio(tag.data, aac, this.audioClock.next(dts + this.originMs, aac.sampleRate));
    this.lastEndMs = Math.max(this.lastEndMs, dts + this.timeline.frameStep(TRACK_AUDIO));
  }

  private onVideoConfig(data: Uint8Array, hevc: boolean): void {
    let config: AvcConfig | HevcConfig;
    try {
      config = hevc ? parseHevcDecoderConfig(data) : parseAvcDecoderConfig(data);
    } catch (err) {
      return this.notice('bad-video-config', `${hevc ? 'HEVC' : 'AVC'} sequence header rejected: ${(err as Error).message}`);
    }
    const previous = this.video;
    if (previous && sameVideoConfig(previous, config)) return;
    this.video = config;
    if (this.keyframeIntervalMs !== undefined && config.codec === 'H264') this.pictureSps = config.sps.map(withoutReorderDelay);
    this.videoClock.setFrameRate(config.codec === 'H264' ? config.info.frameRate : undefined);
    this.segmenter.videoExpected = true;
    if (previous) {
      const was = `${previous.codec === 'H265' ? 'HEVC ' : ''}${previous.info.width}x${previous.info.height}`;
      const now = `${config.codec === 'H265' ? 'HEVC ' : ''}${config.info.width}x${config.info.height}`;
      this.notice('video-config-changed', `${config.codec === 'H265' ? 'HEVC' : 'H.264'} parameters changed (${was} → ${now}); next segment starts a discontinuity`);
      this.configChanged();
    }
    this.tracksChanged();
    this.emit({ type: 'media', info: this.mediaInfo() });
  }

  private onAacConfig(data: Uint8Array): void {
    let config: AacConfig;
    try {
      config = parseAudioSpecificConfig(data);
    } catch (err) {
      return this.notice('bad-audio-config', `AAC sequence header rejected: ${(err as Error).message}`);
    }
    const previous = this.aac;
    if (previous && sameAacConfig(previous, config)) return;
    this.aac = config;
    this.audioClock.reset();
    if (previous) {
      this.notice('audio-config-changed', 'AAC configuration changed; next segment starts a discontinuity');
      this.configChanged();
    }
    this.tracksChanged();
    this.emit({ type: 'media', info: this.mediaInfo() });
  }

  private configChanged(): void {
    if (!this.segmenter.open) return;
    this.segmenter.requestCut();
    this.pendingDiscontinuity = true;
  }

  private tracksChanged(): void {
    if (this.segmenter.open) this.muxer.updateTracks(this.trackSet());
  }

  private trackSet() {
    return { video: this.video !== undefined, audio: this.aac !== undefined, ...(this.video?.codec === 'H265' ? { hevc: true } : {}) };
  }

  private mapTime(timestamp: number, track: number): number {
    const mapped = this.timeline.map(timestamp, track);
    if (mapped.wrapped) this.notice('timestamp-wrap', 'RTMP timestamp wrapped past 2^32 ms');
    if (mapped.jumpMs !== undefined) {
      this.notice('timestamp-jump', `timestamp jumped by ${mapped.jumpMs} ms; output re-based to stay continuous`);
    }
    return mapped.dts;
  }

  /** Carries out a cut decision; returns false when the frame is to be dropped. */
  private apply(decision: CutDecision, dts: number, idr: boolean): boolean {
    switch (decision) {
      case 'drop':
        return false;
      case 'append':
        return true;
      case 'start':
        this.openSegment(dts, idr, false);
        return true;
      case 'cut':
      case 'cut-forced':
        this.closeSegment(dts);
        this.openSegment(dts, idr, decision === 'cut-forced');
        return true;
    }
  }

  private openSegment(startMs: number, idr: boolean, forced: boolean): void {
    if (this.pendingDiscontinuity) this.muxer.markDiscontinuity();
    this.muxer.startSegment(this.trackSet());
    this.segmentStartMs = startMs;
    this.segmentIdr = idr;
    this.segmentForced = forced;
    this.segmentDiscontinuity = this.pendingDiscontinuity;
    this.pendingDiscontinuity = false;
  }

  private closeSegment(endMs: number): void {
    const startMs = this.segmentStartMs;
    const { chunks, size } = this.muxer.endSegment();
    const sequence = this.nextSequence++;
    const durationMs = Math.max(1, endMs - startMs);
    const uri = this.segmentUri(sequence);
    const discontinuity = this.segmentDiscontinuity;
    this.stats.segments++;
    this.emit({
      type: 'segment',
      segment: segmentInfo({ sequence, uri, startMs, durationMs, discontinuity, forced: this.segmentForced, startsWithIdr: this.segmentIdr, chunks, size }),
    });
    const expired = this.window.push({ sequence, uri, duration: durationMs / 1000, discontinuity });
    this.emit({ type: 'playlist', text: this.window.render(false), ended: false });
    if (expired.length > 0) this.emit({ type: 'expired', entries: expired });
  }
}
