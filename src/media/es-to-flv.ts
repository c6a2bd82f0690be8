import { NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS } from './avc.js';
import { HEVC_NAL_AUD, HEVC_NAL_PPS, HEVC_NAL_SPS, HEVC_NAL_VPS, hevcDecoderConfig, hevcNalType, isHevcIrap } from './hevc.js';
import { STREAM_AAC_ADTS, STREAM_H264, STREAM_HEVC, type PesPacket } from './ts-demuxer.js';
import { TAG_AUDIO, TAG_VIDEO } from './flv.js';

/** An FLV tag body, as RTMP carries it: what every front door hands the one publish session. */
export interface FlvTagOut {
  type: typeof TAG_AUDIO | typeof TAG_VIDEO;
  /** Milliseconds (DTS), from the stream's start. */
  timestamp: number;
  data: Uint8Array;
}

const WRAP = 2 ** 33;
/** Room below the first timestamp for a stream whose first packet is a little earlier than another's. */
const HEADROOM_90K = 90_000;
/** AAC's FLV sound byte: format 10, and the 44.1 kHz stereo 16-bit flags decoders ignore for AAC. */
const AAC_SOUND = 0xaf;
const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * Elementary-stream packets (from the TS demuxer) to FLV tag bodies: H.264 access units from
 * Annex B to AVC sequence headers and length-prefixed NAL units, AAC from ADTS frames to an
 * AudioSpecificConfig and raw frames, 90 kHz timestamps (33-bit, wrapping) to milliseconds.
 * HEVC goes out as Enhanced RTMP ('hvc1'). Pure. A stream type it does not take yields one
 * notice and nothing else.
 */
export class EsToFlv {
  private base: number | undefined;
  private readonly last = new Map<number, number>();
  private avcConfig: Uint8Array | undefined;
  private aacConfig: Uint8Array | undefined;
  private hevcConfig: Uint8Array | undefined;
  private readonly refused = new Set<number>();
  readonly notices: string[] = [];

  push(pes: PesPacket): FlvTagOut[] {
    if (pes.streamType === STREAM_H264) return this.h264(pes);
    if (pes.streamType === STREAM_HEVC) return this.hevc(pes);
    if (pes.streamType === STREAM_AAC_ADTS) return this.aac(pes);
    if (!this.refused.has(pes.streamType)) {
      this.refused.add(pes.streamType);
      this.notices.push(`stream type 0x${pes.streamType.toString(16)} is not converted yet; its packets are dropped`);
    }
    return [];
  }

  /** A 90 kHz timestamp of `pid`, unwrapped past 2^33, to ms from the stream's start. */
  private ms(pid: number, ts90k: number): number {
    const prev = this.last.get(pid);
    let t = ts90k;
    if (prev !== undefined) {
      // the nearest value congruent to ts90k modulo 2^33
      t += Math.round((prev - t) / WRAP) * WRAP;
    }
    this.last.set(pid, t);
    this.base ??= t - HEADROOM_90K;
    return Math.max(0, Math.round((t - this.base) / 90));
  }

  private h264(pes: PesPacket): FlvTagOut[] {
    const dts = this.ms(pes.pid, pes.dts);
    const cts = Math.round((((pes.pts - pes.dts + WRAP) % WRAP) / 90));
    const nals = splitAnnexB(pes.data);
    let sps: Uint8Array | undefined;
    let pps: Uint8Array | undefined;
    let keyframe = false;
    const frame: Uint8Array[] = [];
    for (const nal of nals) {
      const type = nal[0]! & 0x1f;
      if (type === NAL_SPS) sps = nal;
      else if (type === NAL_PPS) pps = nal;
      else if (type !== NAL_AUD) {
        if (type === NAL_IDR) keyframe = true;
        frame.push(nal);
      }
    }
    const out: FlvTagOut[] = [];
    if (sps && pps && sps.length >= 4) {
      const record = avcDecoderConfig(sps, pps);
      if (!this.avcConfig || !sameBytes(record, this.avcConfig)) {
        this.avcConfig = record;
        out.push({ type: TAG_VIDEO, timestamp: dts, data: concat([Uint8Array.of(0x17, 0, 0, 0, 0), record]) });
      }
    }
    if (frame.length === 0) return out;
    const header = Uint8Array.of(keyframe ? 0x17 : 0x27, 1, (cts >> 16) & 0xff, (cts >> 8) & 0xff, cts & 0xff);
    out.push({ type: TAG_VIDEO, timestamp: dts, data: concat([header, ...lengthPrefixed(frame)]) });
    return out;
  }

  /** HEVC as Enhanced RTMP carries it: 'hvc1' sequence start (hvcC), then coded frames with their CTS. */
  private hevc(pes: PesPacket): FlvTagOut[] {
    const dts = this.ms(pes.pid, pes.dts);
    const cts = Math.round(((pes.pts - pes.dts + WRAP) % WRAP) / 90);
    let vps: Uint8Array | undefined;
    let sps: Uint8Array | undefined;
    let pps: Uint8Array | undefined;
    let keyframe = false;
    const frame: Uint8Array[] = [];
    for (const nal of splitAnnexB(pes.data)) {
      if (nal.length < 2) continue;
      const type = hevcNalType(nal[0]!);
      if (type === HEVC_NAL_VPS) vps = nal;
      else if (type === HEVC_NAL_SPS) sps = nal;
      else if (type === HEVC_NAL_PPS) pps = nal;
      else if (type !== HEVC_NAL_AUD) {
        if (isHevcIrap(type)) keyframe = true;
        frame.push(nal);
      }
    }
    const out: FlvTagOut[] = [];
    if (vps && sps && pps) {
      let record: Uint8Array | undefined;
      try {
        record = hevcDecoderConfig(vps, sps, pps);
      } catch (err) {
        this.notices.push(`HEVC parameter sets not read: ${(err as Error).message}`);
      }
      if (record && (!this.hevcConfig || !sameBytes(record, this.hevcConfig))) {
        this.hevcConfig = record;
        out.push({ type: TAG_VIDEO, timestamp: dts, data: concat([Uint8Array.of(0x80 | (1 << 4) | 0), HVC1, record]) });
      }
    }
    if (frame.length === 0) return out;
    const header = Uint8Array.of(0x80 | ((keyframe ? 1 : 2) << 4) | 1, ...HVC1, (cts >> 16) & 0xff, (cts >> 8) & 0xff, cts & 0xff);
    out.push({ type: TAG_VIDEO, timestamp: dts, data: concat([header, ...lengthPrefixed(frame)]) });
    return out;
  }

  private aac(pes: PesPacket): FlvTagOut[] {
    const out: FlvTagOut[] = [];
    const d = pes.data;
    let p = 0;
    let index = 0;
    while (p + 7 <= d.length) {
      if (d[p] !== 0xff || (d[p + 1]! & 0xf0) !== 0xf0) {
        this.notices.push(`ADTS sync lost in a PES at byte ${p}; the rest of it is dropped`);
        break;
      }
      const protectionAbsent = d[p + 1]! & 1;
      const objectType = ((d[p + 2]! >> 6) & 3) + 1;
      const rateIndex = (d[p + 2]! >> 2) & 0x0f;
      const channels = ((d[p + 2]! & 1) << 2) | (d[p + 3]! >> 6);
      const frameLength = ((d[p + 3]! & 3) << 11) | (d[p + 4]! << 3) | (d[p + 5]! >> 5);
      const headerLength = protectionAbsent ? 7 : 9;
      const rate = AAC_SAMPLE_RATES[rateIndex];
      if (rate === undefined || frameLength < headerLength || p + frameLength > d.length) {
        this.notices.push('an ADTS frame header that does not fit its PES; the rest of it is dropped');
        break;
      }
      const config = Uint8Array.of((objectType << 3) | (rateIndex >> 1), ((rateIndex & 1) << 7) | (channels << 3));
      const timestamp = this.ms(pes.pid, pes.pts + Math.round((index * 1024 * 90000) / rate));
      if (!this.aacConfig || !sameBytes(config, this.aacConfig)) {
        this.aacConfig = config;
        out.push({ type: TAG_AUDIO, timestamp, data: concat([Uint8Array.of(AAC_SOUND, 0), config]) });
      }
      out.push({ type: TAG_AUDIO, timestamp, data: concat([Uint8Array.of(AAC_SOUND, 1), d.subarray(p + headerLength, p + frameLength)]) });
      p += frameLength;
      index++;
    }
    return out;
  }
}

/** The NAL units of an Annex B byte stream (3- or 4-byte start codes), without their start codes. */
export function splitAnnexB(d: Uint8Array): Uint8Array[] {
  // the start codes are found by Buffer's native search: this runs over every byte of video
  const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const nals: Uint8Array[] = [];
  let start = -1;
  for (let i = b.indexOf(START_CODE_3); i >= 0; i = b.indexOf(START_CODE_3, i)) {
    if (start >= 0) {
      let end = i;
      while (end > start && d[end - 1] === 0) end--; // a 4-byte start code's zero, or trailing zeros
      if (end > start) nals.push(d.subarray(start, end));
    }
    i += 3;
    start = i;
  }
  if (start >= 0 && start < d.length) nals.push(d.subarray(start));
  return nals;
}

const START_CODE_3 = Buffer.from([0, 0, 1]);

/** An AVCDecoderConfigurationRecord with one SPS and one PPS, 4-byte NAL lengths. */
export function avcDecoderConfig(sps: Uint8Array, pps: Uint8Array): Uint8Array {
  return concat([
    Uint8Array.of(1, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1, sps.length >> 8, sps.length & 0xff),
    sps,
    Uint8Array.of(1, pps.length >> 8, pps.length & 0xff),
    pps,
  ]);
}

const HVC1 = Uint8Array.of(0x68, 0x76, 0x63, 0x31);

/** NAL units with 4-byte length prefixes, as avcC/hvcC with lengthSizeMinusOne 3 say. */
function lengthPrefixed(nals: Uint8Array[]): Uint8Array[] {
  return nals.flatMap((nal) => [Uint8Array.of(nal.length >>> 24, (nal.length >> 16) & 0xff, (nal.length >> 8) & 0xff, nal.length & 0xff), nal]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
