import { copyBytes } from './bytes.js';
import { HEVC_NAL_AUD, HEVC_NAL_PPS, HEVC_NAL_SPS, HEVC_NAL_VPS, hevcNalType, isHevcIrap } from './hevc.js';
import { parseSps, type SpsInfo } from './sps.js';

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

/** Annex B start code, as written before every NAL unit. */
export const START_CODE = Uint8Array.of(0, 0, 0, 1);
/** An H.264 access unit delimiter (primary_pic_type 7: any slice type), start code included. */
export const H264_AUD = Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0);

export interface AvcConfig {
  codec: 'H264';
  profileIdc: number;
  levelIdc: number;
  /** Bytes in each NALU length prefix (1, 2 or 4). */
  lengthSize: number;
  sps: Uint8Array[];
  pps: Uint8Array[];
  /** What a keyframe lacking them is given, in order: SPS, PPS. */
  paramSets: Uint8Array[];
  info: SpsInfo;
  /** The record as received: the avcC box payload of an fMP4 init segment. */
  record: Uint8Array;
}

/** Parses an AVCDecoderConfigurationRecord (the AVC sequence header payload). Copies what it keeps. */
export function parseAvcDecoderConfig(data: Uint8Array): AvcConfig {
  if (data.length < 7) throw new Error('AVC sequence header shorter than 7 bytes');
  if (data[0] !== 1) throw new Error(`unsupported avcC version ${data[0]}`);
  const lengthSize = (data[4]! & 3) + 1;
  if (lengthSize === 3) throw new Error('avcC NALU length size of 3 bytes is invalid');
  let p = 6; // byte 5 holds the SPS count
  const readSet = (count: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      if (p + 2 > data.length) throw new Error('avcC truncated');
      const len = (data[p]! << 8) | data[p + 1]!;
      p += 2;
      if (len === 0 || p + len > data.length) throw new Error('avcC parameter set truncated');
      out.push(copyBytes(data, p, p + len));
      p += len;
    }
    return out;
  };
  const sps = readSet(data[5]! & 0x1f);
  if (p >= data.length) throw new Error('avcC has no PPS count');
  const ppsCount = data[p++]!;
  const pps = readSet(ppsCount);
  if (sps.length === 0) throw new Error('avcC contains no SPS');
  if (pps.length === 0) throw new Error('avcC contains no PPS');
  return { codec: 'H264', profileIdc: data[1]!, levelIdc: data[3]!, lengthSize, sps, pps, paramSets: [...sps, ...pps], info: parseSps(sps[0]!), record: copyBytes(data) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether two sequence headers (H.264 or HEVC) say the same: codec, NALU length size, parameter sets. */
export function sameVideoConfig(
  a: { codec: string; lengthSize: number; paramSets: readonly Uint8Array[] },
  b: { codec: string; lengthSize: number; paramSets: readonly Uint8Array[] },
): boolean {
  return (
    a.codec === b.codec &&
    a.lengthSize === b.lengthSize &&
    a.paramSets.length === b.paramSets.length &&
    a.paramSets.every((v, i) => sameBytes(v, b.paramSets[i]!))
  );
}

/**
 * NALU layout of one length-prefixed access unit, H.264 or HEVC. One instance is reused for
 * every frame so that scanning allocates nothing.
 */
export class AccessUnitScan {
  count = 0;
  starts = new Int32Array(64);
  lengths = new Int32Array(64);
  types = new Uint8Array(64);
  /** An IDR picture (H.264) or an IRAP picture (HEVC: BLA, IDR, CRA). */
  hasIdr = false;
  hasSps = false;
  hasPps = false;
  /** HEVC only. */
  hasVps = false;
  /** Total NALU payload bytes, AUDs excluded. */
  payloadBytes = 0;

  /** Whether the access unit carries every parameter set a decoder starting there needs. */
  hasParamSets(hevc: boolean): boolean {
    return this.hasSps && this.hasPps && (!hevc || this.hasVps);
  }

  /** Returns an error message when the data is not a well-formed sequence of NALUs. */
  scan(data: Uint8Array, lengthSize: number, hevc = false): string | undefined {
    this.count = 0;
    this.hasIdr = this.hasSps = this.hasPps = this.hasVps = false;
    this.payloadBytes = 0;
    let p = 0;
    while (p < data.length) {
      if (p + lengthSize > data.length) return 'truncated NALU length prefix';
      let len = 0;
      for (let i = 0; i < lengthSize; i++) len = len * 256 + data[p + i]!;
      p += lengthSize;
      if (len === 0) continue;
      if (p + len > data.length) return `NALU of ${len} bytes overruns the ${data.length}-byte frame`;
      if (hevc) {
        const type = hevcNalType(data[p]!);
        if (type === HEVC_NAL_AUD) {
          p += len;
          continue;
        }
        this.add(p, len, type);
        if (isHevcIrap(type)) this.hasIdr = true;
        else if (type === HEVC_NAL_VPS) this.hasVps = true;
        else if (type === HEVC_NAL_SPS) this.hasSps = true;
        else if (type === HEVC_NAL_PPS) this.hasPps = true;
        p += len;
        continue;
      }
      const type = data[p]! & 0x1f;
      if (type === NAL_AUD) {
        p += len;
        continue;
      }
      this.add(p, len, type);
      if (type === NAL_IDR) this.hasIdr = true;
      else if (type === NAL_SPS) this.hasSps = true;
      else if (type === NAL_PPS) this.hasPps = true;
      p += len;
    }
    return undefined;
  }

  private add(start: number, len: number, type: number): void {
    if (this.count === this.starts.length) this.grow();
    this.starts[this.count] = start;
    this.lengths[this.count] = len;
    this.types[this.count] = type;
    this.count++;
    this.payloadBytes += len;
  }

  private grow(): void {
    const n = this.starts.length * 2;
    const starts = new Int32Array(n);
    starts.set(this.starts);
    const lengths = new Int32Array(n);
    lengths.set(this.lengths);
    const types = new Uint8Array(n);
    types.set(this.types);
    this.starts = starts;
    this.lengths = lengths;
    this.types = types;
  }
}
