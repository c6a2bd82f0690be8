import { copyBytes } from './bytes.js';
import { AUDIO_TRACK_ID, VIDEO_TRACK_ID, audioTimescale, type Fmp4Tracks } from './fmp4-init.js';

/** An LL-HLS partial segment: one fragment (moof + mdat) of the open segment. */
export interface Fmp4Part {
  data: Uint8Array;
  /** 90 kHz. */
  duration90: number;
  /** Starts with a video sync sample (or the channel has no video). */
  independent: boolean;
}

const SYNC = 0x02000000; // sample_depends_on = 2 (does not depend on others)
const NON_SYNC = 0x01010000; // sample_depends_on = 1, sample_is_non_sync_sample

interface PendingTrack {
  samples: Uint8Array[];
  /** Decode times in the track's timescale. */
  times: number[];
  ctsOffsets: number[];
  sync: boolean[];
  bytes: number;
}

const emptyTrack = (): PendingTrack => ({ samples: [], times: [], ctsOffsets: [], sync: [], bytes: 0 });

/**
 * Writes samples into CMAF fragments. Video samples are the length-prefixed NAL units (or AV1
 * OBUs) as RTMP carries them; audio samples are raw AAC frames. A fragment is closed when a
 * segment ends, or, with `partTicks`, before the video frame that would make it longer than
 * that (audio frames when there is no video): the LL-HLS parts.
 */
export class Fmp4Muxer {
  private tracks: Fmp4Tracks = {};
  private fragmentSequence = 0;
  private video = emptyTrack();
  private audio = emptyTrack();
  private partStart90: number | undefined;
  private segmentChunks: Uint8Array[] = [];
  private segmentSize = 0;
  private parts: Fmp4Part[] = [];

  /** `partTicks`: LL-HLS part target in 90 kHz ticks; Infinity makes one fragment per segment. */
  constructor(private readonly partTicks = Infinity) {}

  startSegment(tracks: Fmp4Tracks): void {
    this.tracks = tracks;
    this.video = emptyTrack();
    this.audio = emptyTrack();
    this.partStart90 = undefined;
    this.segmentChunks = [];
    this.segmentSize = 0;
  }

  writeVideo(data: Uint8Array, dts90: number, pts90: number, sync: boolean): void {
    const times = this.video.times;
    // a part ends before the frame that would take it past the target (its duration taken as the last one's)
    if (times.length > 0 && 2 * dts90 - times[times.length - 1]! - this.partStart90! > this.partTicks) this.flush(dts90);
    this.partStart90 ??= dts90;
    const v = this.video;
    v.samples.push(copyBytes(data));
    v.times.push(dts90);
    v.ctsOffsets.push(pts90 - dts90);
    v.sync.push(sync);
    v.bytes += data.length;
  }

  writeAudio(frame: Uint8Array, pts90: number): void {
    const frame90 = (1024 * 90000) / audioTimescale(this.tracks.audio!);
    if (!this.tracks.video && this.audio.samples.length > 0 && pts90 + frame90 - this.partStart90! > this.partTicks) this.flush(pts90);
    this.partStart90 ??= pts90;
    const a = this.audio;
    a.samples.push(copyBytes(frame));
    a.times.push(Math.round((pts90 * audioTimescale(this.tracks.audio!)) / 90000));
    a.ctsOffsets.push(0);
    a.sync.push(true);
    a.bytes += frame.length;
  }

  /**
   * Closes the segment; `end90` is where the next one starts (the end of its last video frame),
   * undefined at the end of the stream (its last frame is taken to last as long as the one before).
   */
  endSegment(end90?: number): { chunks: Uint8Array[]; size: number } {
    if (this.video.samples.length > 0 || this.audio.samples.length > 0) this.flush(end90 ?? this.naturalEnd());
    const out = { chunks: this.segmentChunks, size: this.segmentSize };
    this.segmentChunks = [];
    this.segmentSize = 0;
    return out;
  }

  /** The LL-HLS parts closed since the last call, in order (none without `partTicks`). */
  takeParts(): Fmp4Part[] {
    const parts = this.parts;
    if (parts.length > 0) this.parts = [];
    return parts;
  }

  private naturalEnd(): number {
    const t = this.video.times.length > 0 ? this.video.times : this.audio.times.map((x) => (x * 90000) / audioTimescale(this.tracks.audio!));
    const n = t.length;
    return t[n - 1]! + (n > 1 ? t[n - 1]! - t[n - 2]! : 3000);
  }

  private flush(end90: number): void {
    const v = this.video;
    const a = this.audio;
    const start90 = this.partStart90!;
    const trafs: { id: number; track: PendingTrack; durations: number[]; withCts: boolean }[] = [];
    if (v.samples.length > 0) trafs.push({ id: VIDEO_TRACK_ID, track: v, durations: durations(v.times, end90), withCts: true });
    if (a.samples.length > 0) trafs.push({ id: AUDIO_TRACK_ID, track: a, durations: a.times.map(() => 1024), withCts: false });
    const trunSize = (t: (typeof trafs)[number]) => 20 + t.track.samples.length * (t.withCts ? 16 : 12);
    let moofSize = 8 + 16;
    for (const t of trafs) moofSize += 8 + 16 + 20 + trunSize(t);
    const dataSize = v.bytes + a.bytes;
    const out = new Uint8Array(moofSize + 8 + dataSize);
    const view = new DataView(out.buffer);
    let o = 0;
    const header = (size: number, type: string) => {
      view.setUint32(o, size);
      for (let i = 0; i < 4; i++) out[o + 4 + i] = type.charCodeAt(i);
      o += 8;
    };
    header(moofSize, 'moof');
    header(16, 'mfhd');
    view.setUint32(o, 0);
    view.setUint32(o + 4, ++this.fragmentSequence);
    o += 8;
    let dataOffset = moofSize + 8;
    for (const t of trafs) {
      const { track } = t;
      header(8 + 16 + 20 + trunSize(t), 'traf');
      header(16, 'tfhd');
      view.setUint32(o, 0x020000); // default-base-is-moof
      view.setUint32(o + 4, t.id);
      o += 8;
      header(20, 'tfdt');
      view.setUint32(o, 0x01000000); // version 1: 64-bit time
      view.setUint32(o + 4, Math.floor(track.times[0]! / 2 ** 32));
      view.setUint32(o + 8, track.times[0]! >>> 0);
      o += 12;
      header(trunSize(t), 'trun');
      // version 1 (signed composition offsets); data offset, duration, size, flags (+ composition offset)
      view.setUint32(o, t.withCts ? 0x01000f01 : 0x00000701);
      view.setUint32(o + 4, track.samples.length);
      view.setInt32(o + 8, dataOffset);
      o += 12;
      for (let i = 0; i < track.samples.length; i++) {
        view.setUint32(o, t.durations[i]!);
        view.setUint32(o + 4, track.samples[i]!.length);
        view.setUint32(o + 8, track.sync[i] ? SYNC : NON_SYNC);
        o += 12;
        if (t.withCts) {
          view.setInt32(o, track.ctsOffsets[i]!);
          o += 4;
        }
      }
      dataOffset += track.bytes;
    }
    header(8 + dataSize, 'mdat');
    for (const t of trafs) {
      for (const s of t.track.samples) {
        out.set(s, o);
        o += s.length;
      }
    }
    const independent = v.samples.length > 0 ? v.sync[0]! : !this.tracks.video;
    if (this.partTicks !== Infinity) this.parts.push({ data: out, duration90: Math.max(0, end90 - start90), independent });
    this.segmentChunks.push(out);
    this.segmentSize += out.length;
    this.video = emptyTrack();
    this.audio = emptyTrack();
    this.partStart90 = undefined;
  }
}

/** Each sample lasts until the next; the last until `end`. */
function durations(times: readonly number[], end: number): number[] {
  const out = new Array<number>(times.length);
  for (let i = 0; i < times.length; i++) {
    const next = i + 1 < times.length ? times[i + 1]! : end;
    out[i] = Math.max(0, next - times[i]!);
  }
  if (times.length > 1 && out[times.length - 1] === 0) out[times.length - 1] = out[times.length - 2]!;
  return out;
}
