import { writeAdtsHeader, type AacConfig } from './aac.js';
import { H264_AUD, START_CODE, type AccessUnitScan } from './avc.js';
import { HEVC_AUD } from './hevc.js';
import { crc32Mpeg } from './crc32-mpeg.js';

export const TS_PACKET = 188;
export const PID_PAT = 0;
export const PID_PMT = 0x1000;
export const PID_VIDEO = 0x100;
export const PID_AUDIO = 0x101;
const STREAM_TYPE_H264 = 0x1b;
const STREAM_TYPE_HEVC = 0x24;
const STREAM_TYPE_AAC_ADTS = 0x0f;

/** 90 kHz clock values wrap at 2^33. */
export const TS_CLOCK_WRAP = 2 ** 33;
/** Audio frames are grouped into PES packets of about this size, as ffmpeg does. */
const AUDIO_PES_PAYLOAD = 2930;
/** PCR runs this far (90 kHz) ahead of the DTS of the picture it precedes. */
const PCR_LEAD = 9000;
/** Output is gathered in chunks of this many packets (96 KiB): small per stream, few allocations. */
const CHUNK_PACKETS = 512;
export const TS_CHUNK_BYTES = TS_PACKET * CHUNK_PACKETS;

/**
 * Spare output chunks. A segment's chunks live for its whole duration, long enough to reach
 * the old generation, so at hundreds of streams allocating fresh ones drives full GCs; the
 * storage pipeline gives chunks back here once they are written.
 */
export const tsChunkPool = {
  spare: [] as Uint8Array[],
  limit: 2048,
  take(): Uint8Array {
    return this.spare.pop() ?? new Uint8Array(TS_CHUNK_BYTES);
  },
  /** Hand back chunks nobody references any more (only whole chunks are kept). */
  give(chunks: readonly Uint8Array[]): void {
    for (const c of chunks) {
      if (c.byteOffset === 0 && c.buffer.byteLength === TS_CHUNK_BYTES && this.spare.length < this.limit) {
        this.spare.push(new Uint8Array(c.buffer));
      }
    }
  },
};

/** A word view of a whole pool chunk (offset 0, length a multiple of 4). */
function words(chunk: Uint8Array): Uint32Array {
  return new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >> 2);
}

/**
 * One staging area shared by every muxer (writes are synchronous): a PES's bytes after its
 * first packet, copied to offset 0 so that whole packet payloads are word-aligned.
 */
let stageBytes = new Uint8Array(256 * 1024);
let stage32 = new Uint32Array(stageBytes.buffer);
/** PES offset that stage offset 0 holds. */
let stagedFrom = 0;

function stage(src: Uint8Array, from: number, to: number): void {
  if (to - from > stageBytes.length) {
    stageBytes = new Uint8Array(Math.ceil(((to - from) * 1.5) / 4) * 4);
    stage32 = new Uint32Array(stageBytes.buffer);
  }
  stageBytes.set(src.subarray(from, to));
  stagedFrom = from;
}


export interface TrackSet {
  video: boolean;
  audio: boolean;
  /** The video is HEVC (stream type 0x24), not H.264. */
  hevc?: boolean;
}

/** What the muxer needs of a video sequence header. */
export interface VideoParams {
  readonly codec: 'H264' | 'H265';
  /** Put before a keyframe that lacks them, in this order. */
  readonly paramSets: readonly Uint8Array[];
}

function wrap90(t: number): number {
  const r = t % TS_CLOCK_WRAP;
  return r < 0 ? r + TS_CLOCK_WRAP : r;
}

function writeTimestamp(buf: Uint8Array, o: number, prefix: number, t: number): void {
  buf[o] = (prefix << 4) | ((Math.floor(t / 2 ** 30) & 7) << 1) | 1;
  buf[o + 1] = (t >>> 22) & 0xff;
  buf[o + 2] = (((t >>> 15) & 0x7f) << 1) | 1;
  buf[o + 3] = (t >>> 7) & 0xff;
  buf[o + 4] = ((t & 0x7f) << 1) | 1;
}

/**
 * Writes H.264 and AAC into MPEG-TS packets. The caller frames segments with
 * startSegment()/endSegment(); continuity counters run on across segments.
 */
export class TsMuxer {
  // Plain Uint8Arrays: Buffer's subarray/copy wrappers cost more than the copies themselves.
  private chunks: Uint8Array[] = [];
  private cur = tsChunkPool.take();
  /** The same bytes as words, for copying whole packet payloads. */
  private cur32 = words(this.cur);
  private pos = 0;
  private scratch = new Uint8Array(64 * 1024); // grows to the largest access unit seen
  private audioBuf = new Uint8Array(4 * 1024);
  private audioLen = 0;
  private audioPts = 0;
  private ccPat = 0;
  private ccPmt = 0;
  private ccVideo = 0;
  private ccAudio = 0;
  private pmtVersion = 0;
  private tracks: TrackSet = { video: false, audio: false };
  private segmentBytes = 0;
  /** PIDs whose next packet carries discontinuity_indicator (continuity counters restart). */
  private readonly discontinuityPids = new Set<number>();

  /**
   * Flags the next packet of every PID with discontinuity_indicator: the segment about to
   * start follows a break (a new push: fresh continuity counters), so demuxers that check
   * continuity counters across segments do not report corruption.
   */
  markDiscontinuity(): void {
    for (const pid of [PID_PAT, PID_PMT, PID_VIDEO, PID_AUDIO]) this.discontinuityPids.add(pid);
  }

  /** Starts a segment with PAT and PMT for the given tracks. */
  startSegment(tracks: TrackSet): void {
    this.tracks = { ...tracks };
    this.writePat();
    this.writePmt();
  }

  /** Announces a track set change inside the current segment (new PMT version). */
  updateTracks(tracks: TrackSet): void {
    if (tracks.video === this.tracks.video && tracks.audio === this.tracks.audio && Boolean(tracks.hevc) === Boolean(this.tracks.hevc)) return;
    this.flushAudio();
    this.tracks = { ...tracks };
    this.pmtVersion = (this.pmtVersion + 1) & 0x1f;
    this.writePat();
    this.writePmt();
  }

  /**
   * Finishes the segment and hands over its bytes as the chunks they were written into
   * (no concatenation: the caller writes them out, e.g. with writev).
   */
  endSegment(): { chunks: Uint8Array[]; size: number } {
    this.flushAudio();
    const chunks = this.chunks;
    if (this.pos > 0) chunks.push(this.cur.subarray(0, this.pos));
    const size = this.segmentBytes;
    this.chunks = [];
    this.cur = tsChunkPool.take(); // the old one now belongs to the caller
    this.cur32 = words(this.cur);
    this.pos = 0;
    this.segmentBytes = 0;
    return { chunks, size };
  }

  /**
   * Writes one access unit. `data` holds length-prefixed NALUs laid out as `scan` describes;
   * an AUD is prepended, the parameter sets are inserted before keyframes (IDR, or HEVC IRAP)
   * that lack them. Times are 90 kHz ticks (any range; wrapped to 33 bits here).
   */
  writeVideo(data: Uint8Array, scan: AccessUnitScan, config: VideoParams, dts: number, pts: number, idr: boolean): void {
    const hevc = config.codec === 'H265';
    const aud = hevc ? HEVC_AUD : H264_AUD;
    const insertParams = idr && !scan.hasParamSets(hevc);
    let paramBytes = 0;
    if (insertParams) for (const set of config.paramSets) paramBytes += 4 + set.length;
    const needed = 19 + aud.length + paramBytes + scan.count * 4 + scan.payloadBytes;
    if (needed > this.scratch.length) this.scratch = new Uint8Array(Math.ceil(needed * 1.5));
    const s = this.scratch;
    const dts90 = wrap90(dts);
    const pts90 = wrap90(pts);
    // PES header: unbounded length (0) as video PES may exceed 64 KiB.
    s[0] = 0; s[1] = 0; s[2] = 1; s[3] = 0xe0; s[4] = 0; s[5] = 0; s[6] = 0x80;
    let o: number;
    if (pts90 !== dts90) {
      s[7] = 0xc0; s[8] = 10;
      writeTimestamp(s, 9, 3, pts90);
      writeTimestamp(s, 14, 1, dts90);
      o = 19;
    } else {
      s[7] = 0x80; s[8] = 5;
      writeTimestamp(s, 9, 2, pts90);
      o = 14;
    }
    s.set(aud, o);
    o += aud.length;
    if (insertParams) {
      for (const nal of config.paramSets) {
        s.set(START_CODE, o);
        s.set(nal, o + 4);
        o += 4 + nal.length;
      }
    }
    const { starts, lengths } = scan;
    for (let i = 0; i < scan.count; i++) {
      s[o] = 0; s[o + 1] = 0; s[o + 2] = 0; s[o + 3] = 1;
      const start = starts[i]!;
      const len = lengths[i]!;
      s.set(data.subarray(start, start + len), o + 4);
      o += 4 + len;
    }
    this.writePes(PID_VIDEO, o, wrap90(dts90 - PCR_LEAD), idr);
  }

  /** Queues one raw AAC frame (ADTS header added). `pts` in 90 kHz ticks. */
  writeAudio(frame: Uint8Array, config: AacConfig, pts: number): void {
    const size = frame.length + 7;
    if (this.audioLen > 0 && this.audioLen + size > AUDIO_PES_PAYLOAD) this.flushAudio();
    if (this.audioLen === 0) this.audioPts = wrap90(pts);
    if (14 + this.audioLen + size > this.audioBuf.length) {
      const bigger = new Uint8Array((14 + this.audioLen + size) * 2);
      bigger.set(this.audioBuf.subarray(0, 14 + this.audioLen));
      this.audioBuf = bigger;
    }
    const o = 14 + this.audioLen; // room for the PES header in front
    writeAdtsHeader(this.audioBuf, o, config, frame.length);
    this.audioBuf.set(frame, o + 7);
    this.audioLen += size;
  }

  flushAudio(): void {
    if (this.audioLen === 0) return;
    const b = this.audioBuf;
    const pesLength = 8 + this.audioLen;
    b[0] = 0; b[1] = 0; b[2] = 1; b[3] = 0xc0;
    b[4] = pesLength > 0xffff ? 0 : pesLength >> 8;
    b[5] = pesLength > 0xffff ? 0 : pesLength & 0xff;
    b[6] = 0x80; b[7] = 0x80; b[8] = 5;
    writeTimestamp(b, 9, 2, this.audioPts);
    const pcr = this.tracks.video ? -1 : wrap90(this.audioPts - PCR_LEAD);
    const len = 14 + this.audioLen;
    this.audioLen = 0;
    this.writePesFrom(b, PID_AUDIO, len, pcr, false);
  }

  private writePes(pid: number, len: number, pcr: number, randomAccess: boolean): void {
    this.writePesFrom(this.scratch, pid, len, pcr, randomAccess);
  }

  private nextPacket(): number {
    if (this.pos === this.cur.length) {
      this.chunks.push(this.cur);
      this.cur = tsChunkPool.take();
      this.cur32 = words(this.cur);
      this.pos = 0;
    }
    const o = this.pos;
    this.pos += TS_PACKET;
    this.segmentBytes += TS_PACKET;
    return o;
  }

  private nextCc(pid: number): number {
    if (pid === PID_VIDEO) return (this.ccVideo = (this.ccVideo + 1) & 15);
    return (this.ccAudio = (this.ccAudio + 1) & 15);
  }

  private writePesFrom(src: Uint8Array, pid: number, len: number, pcr: number, randomAccess: boolean): void {
    let p = 0;
    let first = true;
    let staged = false;
    while (p < len) {
      const remaining = len - p;
      const o = this.nextPacket();
      const buf = this.cur;
      const cc = this.nextCc(pid);
      buf[o] = 0x47;
      buf[o + 1] = (first ? 0x40 : 0) | (pid >> 8);
      buf[o + 2] = pid & 0xff;
      if (!first && remaining >= 184) {
        // a middle packet: header, then 184 payload bytes copied as 46 words from the
        // word-aligned staging copy (set(src.subarray(…)) would allocate a view per packet,
        // which at hundreds of streams was most of the gateway's garbage)
        buf[o + 3] = 0x10 | cc;
        if (!staged) {
          stage(src, p, len);
          staged = true;
        }
        const out = this.cur32;
        const d = (o + 4) >> 2;
        const from = (p - stagedFrom) >> 2;
        for (let i = 0; i < 46; i++) out[d + i] = stage32[from + i]!;
        p += 184;
        continue;
      }
      const withPcr = first && pcr >= 0;
      const discontinuity = first && this.discontinuityPids.delete(pid);
      const flags = (discontinuity ? 0x80 : 0) | (withPcr ? 0x10 : 0) | (first && randomAccess ? 0x40 : 0);
      let afLen = flags ? (withPcr ? 8 : 2) : 0;
      let payload = 184 - afLen;
      if (remaining < payload) {
        afLen += payload - remaining;
        payload = remaining;
      }
      if (afLen > 0) {
        buf[o + 3] = 0x30 | cc;
        buf[o + 4] = afLen - 1;
        if (afLen > 1) {
          buf[o + 5] = flags;
          let f = o + 6;
          if (withPcr) {
            buf[f] = Math.floor(pcr / 2 ** 25) & 0xff;
            buf[f + 1] = (pcr >>> 17) & 0xff;
            buf[f + 2] = (pcr >>> 9) & 0xff;
            buf[f + 3] = (pcr >>> 1) & 0xff;
            buf[f + 4] = ((pcr & 1) << 7) | 0x7e;
            buf[f + 5] = 0;
            f += 6;
          }
          buf.fill(0xff, f, o + 4 + afLen);
        }
      } else {
        buf[o + 3] = 0x10 | cc;
      }
      // first and last packets: at most two per PES, byte by byte (no view allocated)
      const dst = o + 4 + afLen;
      for (let i = 0; i < payload; i++) buf[dst + i] = src[p + i]!;
      p += payload;
      first = false;
    }
  }

  private writeSection(pid: number, cc: number, section: number[]): void {
    const o = this.nextPacket();
    const buf = this.cur;
    buf[o] = 0x47;
    buf[o + 1] = 0x40 | (pid >> 8);
    buf[o + 2] = pid & 0xff;
    let p = o + 4;
    if (this.discontinuityPids.delete(pid)) {
      buf[o + 3] = 0x30 | cc;
      buf[p++] = 1; // adaptation_field_length
      buf[p++] = 0x80; // discontinuity_indicator
    } else {
      buf[o + 3] = 0x10 | cc;
    }
    buf[p] = 0; // pointer_field
    const start = p + 1;
    for (let i = 0; i < section.length; i++) buf[start + i] = section[i]!;
    const crc = crc32Mpeg(buf, start, start + section.length);
    const c = start + section.length;
    buf[c] = crc >>> 24;
    buf[c + 1] = (crc >>> 16) & 0xff;
    buf[c + 2] = (crc >>> 8) & 0xff;
    buf[c + 3] = crc & 0xff;
    buf.fill(0xff, start + section.length + 4, o + TS_PACKET);
  }

  private writePat(): void {
    this.ccPat = (this.ccPat + 1) & 15;
    // table 0, section length 13, TSID 1, version, program 1 → PMT PID
    this.writeSection(PID_PAT, this.ccPat, [
      0x00, 0xb0, 13, 0x00, 0x01, 0xc1, 0, 0,
      0x00, 0x01, 0xe0 | (PID_PMT >> 8), PID_PMT & 0xff,
    ]);
  }

  private writePmt(): void {
    this.ccPmt = (this.ccPmt + 1) & 15;
    const streams: number[] = [];
    if (this.tracks.video) streams.push(this.tracks.hevc ? STREAM_TYPE_HEVC : STREAM_TYPE_H264, 0xe0 | (PID_VIDEO >> 8), PID_VIDEO & 0xff, 0xf0, 0);
    if (this.tracks.audio) streams.push(STREAM_TYPE_AAC_ADTS, 0xe0 | (PID_AUDIO >> 8), PID_AUDIO & 0xff, 0xf0, 0);
    const pcrPid = this.tracks.video || !this.tracks.audio ? PID_VIDEO : PID_AUDIO;
    const sectionLength = 9 + streams.length + 4;
    this.writeSection(PID_PMT, this.ccPmt, [
      0x02, 0xb0 | (sectionLength >> 8), sectionLength & 0xff, 0x00, 0x01,
      0xc1 | (this.pmtVersion << 1), 0, 0,
      0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0,
      ...streams,
    ]);
  }
}
