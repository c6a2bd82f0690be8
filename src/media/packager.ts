import { parseAudioSpecificConfig, sameAacConfig, type AacConfig } from './aac.js';
import { AccessUnitScan, parseAvcDecoderConfig, sameVideoConfig } from './avc.js';
import { av1Level, av1ProfileName, parseAv1CodecConfig, withoutTemporalDelimiters } from './av1.js';
import { fmp4InitSegment, type Fmp4Tracks, type VideoConfig } from './fmp4-init.js';
import { Fmp4Muxer } from './fmp4-muxer.js';
import { hevcProfileName, parseHevcDecoderConfig } from './hevc.js';
import { AudioClock } from './audio-clock.js';
import { av1KeyframePicture, keyframePicture, lowDelaySps } from './keyframe-picture.js';
import { parseAudioTag, parseVideoTag } from './flv-tags.js';
import { TAG_AUDIO, TAG_VIDEO } from './flv.js';
import { FrameRateEstimator } from './frame-rate.js';
import { LiveWindow, type PlaylistEntry } from './playlist.js';
import { Segmenter, type CutDecision } from './segmenter.js';
import { profileName } from './sps.js';
import { Timeline, TRACK_AUDIO, TRACK_VIDEO } from './timeline.js';
import { TsMuxer } from './ts-muxer.js';
import { VideoClock } from './video-clock.js';
import { VIDEO_CODEC_NAMES, type MediaInfo, type NoticeCode, type PackagerEvent, type PackagerOptions, type PackagerResume, type PackagerStats, type PartInfo, type SegmentInfo } from './packager-events.js';
// the types callers use with the packager, from where they always came
export { VIDEO_CODEC_NAMES } from './packager-events.js';
export type { AudioInfo, Container, KeyframeInfo, MediaInfo, NoticeCode, PackagerEvent, PackagerOptions, PackagerResume, PackagerStats, PartInfo, SegmentInfo, VideoCodec, VideoInfo } from './packager-events.js';

/** Output timestamps start here, so that negative composition offsets stay positive. */
export const OUTPUT_ORIGIN_MS = 1400;

/** Gap left between pushes on the continued timeline. */
const PUSH_GAP_MS = 1000;

const NO_EVENTS: PackagerEvent[] = [];
const AV1_NEEDS_FMP4 = 'AV1 needs a channel with fMP4 segments (<SegmentFormat>fMP4</SegmentFormat> in Target); video dropped';

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
  private readonly ts: TsMuxer | undefined;
  private readonly fmp4: Fmp4Muxer | undefined;
  private readonly initUriOf: (sequence: number) => string;
  /** fMP4: the tracks the current init segment describes, and its URI. */
  private initTracks: Fmp4Tracks | undefined;
  private initUri: string | undefined;
  private segmentTracks: Fmp4Tracks = {};
  private partIndex = 0;
  private readonly segmenter: Segmenter;
  private readonly timeline: Timeline;
  private readonly window: LiveWindow;
  private readonly scan = new AccessUnitScan();
  private readonly fps = new FrameRateEstimator();
  private readonly audioClock = new AudioClock();
  private readonly videoClock = new VideoClock();
  private readonly segmentUri: (sequence: number) => string;
  private readonly noticed = new Set<NoticeCode>();
  private video: VideoConfig | undefined;
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
    const fmp4 = options.container === 'fmp4';
    if (fmp4) this.fmp4 = new Fmp4Muxer(options.partDurationMs === undefined ? Infinity : options.partDurationMs * 90);
    else this.ts = new TsMuxer();
    this.segmentUri = options.segmentUri ?? ((n) => `${n}.${fmp4 ? 'm4s' : 'ts'}`);
    this.initUriOf = options.initUri ?? ((n) => `init-${n}.mp4`);
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
    if (this.segmenter.open) this.closeSegment(this.lastEndMs, undefined);
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
    } else if (video?.codec === 'AV1') {
      const seq = video.info;
      info.video = { codec: 'AV1', width: seq.width, height: seq.height, profile: av1ProfileName(seq.profile), level: av1Level(seq.levelIdx), frameRate: this.fps.fps };
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
        return this.notice('unsupported-video', `video codec ${tag.codec} is not supported (H.264, HEVC and AV1 only); video dropped`);
      case 'malformed':
        this.stats.droppedFrames++;
        return this.notice('malformed-video', tag.reason);
      case 'avc-config':
        return this.onVideoConfig(tag.data, 'H264');
      case 'hevc-config':
        return this.onVideoConfig(tag.data, 'H265');
      case 'av1-config':
        return this.onVideoConfig(tag.data, 'AV1');
      case 'avc-frame':
      case 'hevc-frame':
      case 'av1-frame':
        break;
    }
    const video = this.video;
    const codec = tag.kind === 'avc-frame' ? 'H264' : tag.kind === 'hevc-frame' ? 'H265' : 'AV1';
    // no sequence header yet, or frames of another codec than the sequence header's
    if (!video || codec !== video.codec) {
      if (codec === 'AV1' && this.ts) this.notice('unsupported-video', AV1_NEEDS_FMP4);
      this.stats.droppedFrames++;
      return;
    }
    let sample = tag.data;
    let idr: boolean;
    if (video.codec === 'AV1') {
      try {
        sample = withoutTemporalDelimiters(tag.data);
      } catch (err) {
        this.stats.droppedFrames++;
        return this.notice('malformed-video', `AV1 frame: ${(err as Error).message}`);
      }
      if (sample.length === 0) return;
      idr = tag.keyframe;
    } else {
      const error = this.scan.scan(tag.data, video.lengthSize, video.codec === 'H265');
      if (error) {
        this.stats.droppedFrames++;
        return this.notice('malformed-video', error);
      }
      if (this.scan.count === 0) return;
      idr = this.scan.hasIdr;
    }
    const dts = this.mapTime(timestamp, TRACK_VIDEO);
    const decision = this.segmenter.decide({ video: true, idr, dts });
    if (decision === 'drop') {
      this.stats.droppedFrames++;
      return;
    }
    this.stats.videoFrames++;
    this.fps.add(dts);
    if (this.videoClock.frameRate === undefined && this.stats.videoFrames % 16 === 0) {
      this.videoClock.setFrameRate(this.fps.fps);
    }
    const [dts90, pts90] = this.videoClock.next(dts + this.originMs, tag.cts);
    this.apply(decision, dts, idr, dts90);
    if (this.ts) {
      if (video.codec !== 'AV1') this.ts.writeVideo(tag.data, this.scan, video, dts90, Math.max(0, pts90), idr);
    } else if (this.segmentTracks.video) {
      this.fmp4!.writeVideo(sample, dts90, Math.max(0, pts90), idr);
      this.takeParts();
    }
    if (idr && this.keyframeIntervalMs !== undefined) this.offerKeyframe(video, video.codec === 'AV1' ? sample : tag.data, dts);
    this.lastEndMs = Math.max(this.lastEndMs, dts + this.timeline.frameStep(TRACK_VIDEO));
  }

  private offerKeyframe(video: VideoConfig, frame: Uint8Array, dts: number): void {
    const slot = Math.floor(dts / this.keyframeIntervalMs!);
    if (slot === this.lastKeyframeSlot) return;
    this.lastKeyframeSlot = slot;
    const picture = video.codec === 'AV1' ? av1KeyframePicture(video, frame) : keyframePicture(video, frame, this.scan, this.pictureSps);
    this.emit({ type: 'keyframe', keyframe: { codec: video.codec, ms: dts, width: video.info.width, height: video.info.height, picture } });
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
    const decision = this.segmenter.decide({ video: false, idr: false, dts });
    if (decision === 'drop') {
      this.stats.droppedFrames++;
      return;
    }
    this.stats.audioFrames++;
    const pts90 = this.audioClock.next(dts + this.originMs, aac.sampleRate);
    this.apply(decision, dts, false, pts90);
    if (this.ts) {
      this.ts.writeAudio(tag.data, aac, pts90);
    } else if (this.segmentTracks.audio) {
      this.fmp4!.writeAudio(tag.data, pts90);
      this.takeParts();
    }
    this.lastEndMs = Math.max(this.lastEndMs, dts + this.timeline.frameStep(TRACK_AUDIO));
  }

  private onVideoConfig(data: Uint8Array, codec: VideoConfig['codec']): void {
    if (codec === 'AV1' && this.ts) return this.notice('unsupported-video', AV1_NEEDS_FMP4);
    let config: VideoConfig;
    try {
      config = codec === 'H265' ? parseHevcDecoderConfig(data) : codec === 'AV1' ? parseAv1CodecConfig(data) : parseAvcDecoderConfig(data);
    } catch (err) {
      return this.notice('bad-video-config', `${VIDEO_CODEC_NAMES[codec]} sequence header rejected: ${(err as Error).message}`);
    }
    const previous = this.video;
    if (previous && sameVideoConfig(previous, config)) return;
    this.video = config;
    if (this.keyframeIntervalMs !== undefined && config.codec !== 'AV1') this.pictureSps = lowDelaySps(config);
    this.videoClock.setFrameRate(config.codec === 'H264' ? config.info.frameRate : undefined);
    this.segmenter.videoExpected = true;
    if (previous) {
      const was = `${previous.codec === 'H264' ? '' : `${VIDEO_CODEC_NAMES[previous.codec]} `}${previous.info.width}x${previous.info.height}`;
      const now = `${config.codec === 'H264' ? '' : `${VIDEO_CODEC_NAMES[config.codec]} `}${config.info.width}x${config.info.height}`;
      this.notice('video-config-changed', `${VIDEO_CODEC_NAMES[config.codec]} parameters changed (${was} → ${now}); next segment starts a discontinuity`);
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
    if (!this.segmenter.open) return;
    if (this.ts) this.ts.updateTracks(this.trackSet());
    // an init segment describes every track: a new track waits for a new segment
    else if ((this.video !== undefined) !== (this.segmentTracks.video !== undefined) || (this.aac !== undefined) !== (this.segmentTracks.audio !== undefined)) this.configChanged();
  }

  private takeParts(): void {
    for (const p of this.fmp4!.takeParts()) {
      const part: PartInfo = {
        sequence: this.nextSequence,
        index: this.partIndex++,
        durationMs: p.duration90 / 90,
        independent: p.independent,
        data: p.data,
        discontinuity: this.segmentDiscontinuity,
        map: this.initUri,
      };
      this.emit({ type: 'part', part });
    }
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

  /** Carries out a cut decision for a frame at `dts` ms (`time90` on the output clock). */
  private apply(decision: Exclude<CutDecision, 'drop'>, dts: number, idr: boolean, time90: number): void {
    switch (decision) {
      case 'append':
        return;
      case 'start':
        return this.openSegment(dts, idr, false);
      case 'cut':
      case 'cut-forced':
        this.closeSegment(dts, time90);
        return this.openSegment(dts, idr, decision === 'cut-forced');
    }
  }

  private openSegment(startMs: number, idr: boolean, forced: boolean): void {
    if (this.ts) {
      if (this.pendingDiscontinuity) this.ts.markDiscontinuity();
      this.ts.startSegment(this.trackSet());
    } else {
      this.openFmp4Segment();
    }
    this.segmentStartMs = startMs;
    this.segmentIdr = idr;
    this.segmentForced = forced;
    this.segmentDiscontinuity = this.pendingDiscontinuity;
    this.pendingDiscontinuity = false;
  }

  private openFmp4Segment(): void {
    const tracks: Fmp4Tracks = { video: this.video, audio: this.aac };
    const known = this.initTracks;
    if (!known || known.video !== tracks.video || known.audio !== tracks.audio) {
      this.initTracks = tracks;
      this.initUri = this.initUriOf(this.nextSequence);
      this.emit({ type: 'init', uri: this.initUri, data: fmp4InitSegment(tracks) });
    }
    this.segmentTracks = tracks;
    this.partIndex = 0;
    this.fmp4!.startSegment(tracks);
  }

  /** `end90`: where the next segment starts on the 90 kHz clock; undefined at the end of the stream. */
  private closeSegment(endMs: number, end90: number | undefined): void {
    const startMs = this.segmentStartMs;
    let muxed: { chunks: Uint8Array[]; size: number };
    if (this.ts) {
      muxed = this.ts.endSegment();
    } else {
      muxed = this.fmp4!.endSegment(end90);
      this.takeParts();
    }
    const { chunks, size } = muxed;
    const sequence = this.nextSequence++;
    const durationMs = Math.max(1, endMs - startMs);
    const uri = this.segmentUri(sequence);
    const discontinuity = this.segmentDiscontinuity;
    this.stats.segments++;
    this.emit({
      type: 'segment',
      segment: segmentInfo({ sequence, uri, startMs, durationMs, discontinuity, forced: this.segmentForced, startsWithIdr: this.segmentIdr, initUri: this.initUri, chunks, size }),
    });
    const entry: PlaylistEntry = { sequence, uri, duration: durationMs / 1000, discontinuity };
    if (this.initUri !== undefined) entry.map = this.initUri;
    const expired = this.window.push(entry);
    this.emit({ type: 'playlist', text: this.window.render(false), ended: false });
    if (expired.length > 0) this.emit({ type: 'expired', entries: expired });
  }
}
