import { copyBytes } from './bytes.js';
import { BitReader, unescapeRbsp } from './bit-reader.js';
import { BitWriter, escapeRbsp } from './bit-writer.js';

export const HEVC_NAL_VPS = 32;
export const HEVC_NAL_SPS = 33;
export const HEVC_NAL_PPS = 34;
export const HEVC_NAL_AUD = 35;

/** An HEVC access unit delimiter (type 35, pic_type 2: any slice type), start code included. */
export const HEVC_AUD = Uint8Array.of(0, 0, 0, 1, 0x46, 0x01, 0x50);

/** NAL unit type of an HEVC NAL unit (first header byte). */
export const hevcNalType = (firstByte: number) => (firstByte >> 1) & 0x3f;
/** IRAP pictures (BLA, IDR, CRA): where a decoder can start, and where segments may be cut. */
export const isHevcIrap = (type: number) => type >= 16 && type <= 23;

export interface HevcSpsInfo {
  profileIdc: number;
  tierFlag: number;
  levelIdc: number;
  chromaFormatIdc: number;
  width: number;
  height: number;
}

export interface HevcConfig {
  codec: 'H265';
  profileIdc: number;
  /** general_level_idc: 30 × the level (93 = level 3.1). */
  levelIdc: number;
  /** Bytes in each NALU length prefix (1, 2 or 4). */
  lengthSize: number;
  vps: Uint8Array[];
  sps: Uint8Array[];
  pps: Uint8Array[];
  /** What a keyframe lacking them is given, in order: VPS, SPS, PPS. */
  paramSets: Uint8Array[];
  info: HevcSpsInfo;
  /** The record as received: the hvcC box payload of an fMP4 init segment. */
  record: Uint8Array;
}

function skipProfileTierLevel(r: BitReader, maxSubLayersMinus1: number): { profileIdc: number; tierFlag: number; levelIdc: number } {
  r.skipBits(2); // general_profile_space
  const tierFlag = r.readBit();
  const profileIdc = r.readBits(5);
  r.skipBits(32); // general_profile_compatibility_flags
  r.skipBits(48); // source and constraint flags
  const levelIdc = r.readBits(8);
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.readFlag());
    levelPresent.push(r.readFlag());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skipBits(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skipBits(88);
    if (levelPresent[i]) r.skipBits(8);
  }
  return { profileIdc, tierFlag, levelIdc };
}

/** Parses an HEVC sequence parameter set NAL unit (its two header bytes included) for what stat and playlists need. */
export function parseHevcSps(nal: Uint8Array): HevcSpsInfo {
  if (nal.length < 4 || hevcNalType(nal[0]!) !== HEVC_NAL_SPS) throw new Error('not an HEVC SPS NAL unit');
  const r = new BitReader(unescapeRbsp(nal.subarray(2)));
  r.skipBits(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.readBits(3);
  if (maxSubLayersMinus1 > 6) throw new Error(`sps_max_sub_layers_minus1 ${maxSubLayersMinus1} out of range`);
  r.skipBits(1); // sps_temporal_id_nesting_flag
  const ptl = skipProfileTierLevel(r, maxSubLayersMinus1);
  r.readUE(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.readUE();
  if (chromaFormatIdc > 3) throw new Error(`invalid chroma_format_idc ${chromaFormatIdc}`);
  const separateColourPlane = chromaFormatIdc === 3 ? r.readFlag() : false;
  let width = r.readUE();
  let height = r.readUE();
  if (r.readFlag()) {
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const left = r.readUE();
    const right = r.readUE();
    const top = r.readUE();
    const bottom = r.readUE();
    width -= subWidthC * (left + right);
    height -= subHeightC * (top + bottom);
  }
  if (width <= 0 || height <= 0) throw new Error('HEVC SPS gives no picture');
  return { ...ptl, chromaFormatIdc, width, height };
}

/**
 * An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3) from one VPS, SPS and PPS (NAL
 * headers included): the profile_tier_level bytes copied from the SPS, chroma format and bit
 * depths read from it, 4-byte NAL lengths. What Enhanced RTMP's HEVC sequence start carries.
 */
export function hevcDecoderConfig(vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): Uint8Array {
  const rbsp = unescapeRbsp(sps.subarray(2));
  if (rbsp.length < 13) throw new Error('HEVC SPS too short for its profile_tier_level');
  const maxSubLayersMinus1 = (rbsp[0]! >> 1) & 7;
  const temporalIdNested = rbsp[0]! & 1;
  // general profile_tier_level: profile space/tier/idc (1), compatibility (4), constraints (6), level (1)
  const ptl = rbsp.subarray(1, 13);
  const r = new BitReader(rbsp);
  r.skipBits(8);
  skipProfileTierLevel(r, maxSubLayersMinus1);
  r.readUE(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.readUE();
  if (chromaFormatIdc === 3) r.skipBits(1);
  r.readUE();
  r.readUE();
  if (r.readFlag()) for (let i = 0; i < 4; i++) r.readUE();
  const bitDepthLumaMinus8 = r.readUE();
  const bitDepthChromaMinus8 = r.readUE();
  const arrays = [
    [HEVC_NAL_VPS, vps],
    [HEVC_NAL_SPS, sps],
    [HEVC_NAL_PPS, pps],
  ] as const;
  const size = 23 + arrays.reduce((n, [, nal]) => n + 5 + nal.length, 0);
  const out = new Uint8Array(size);
  out[0] = 1;
  out.set(ptl, 1);
  out[13] = 0xf0; // reserved, min_spatial_segmentation_idc 0
  out[14] = 0x00;
  out[15] = 0xfc; // reserved, parallelismType 0
  out[16] = 0xfc | (chromaFormatIdc & 3);
  out[17] = 0xf8 | (bitDepthLumaMinus8 & 7);
  out[18] = 0xf8 | (bitDepthChromaMinus8 & 7);
  out[19] = 0; // avgFrameRate
  out[20] = 0;
  out[21] = (((maxSubLayersMinus1 + 1) & 7) << 3) | (temporalIdNested << 2) | 3;
  out[22] = arrays.length;
  let p = 23;
  for (const [type, nal] of arrays) {
    out[p++] = 0x80 | type; // array_completeness
    out[p++] = 0;
    out[p++] = 1;
    out[p++] = nal.length >> 8;
    out[p++] = nal.length & 0xff;
    out.set(nal, p);
    p += nal.length;
  }
  return out;
}

/** Parses an HEVCDecoderConfigurationRecord (hvcC: Enhanced RTMP's HEVC sequence start). Copies what it keeps. */
export function parseHevcDecoderConfig(data: Uint8Array): HevcConfig {
  if (data.length < 23) throw new Error(`hvcC too short (${data.length} bytes)`);
  if (data[0] !== 1) throw new Error(`unsupported hvcC version ${data[0]}`);
  const lengthSize = (data[21]! & 0x03) + 1;
  if (lengthSize === 3) throw new Error('hvcC length size 3 is not allowed');
  const sets = new Map<number, Uint8Array[]>([[HEVC_NAL_VPS, []], [HEVC_NAL_SPS, []], [HEVC_NAL_PPS, []]]);
  let p = 23;
  for (let a = 0, arrays = data[22]!; a < arrays; a++) {
    if (p + 3 > data.length) throw new Error('hvcC truncated in its NAL unit arrays');
    const type = data[p]! & 0x3f;
    const count = (data[p + 1]! << 8) | data[p + 2]!;
    p += 3;
    for (let i = 0; i < count; i++) {
      if (p + 2 > data.length) throw new Error('hvcC truncated in a NAL unit length');
      const len = (data[p]! << 8) | data[p + 1]!;
      p += 2;
      if (p + len > data.length) throw new Error('hvcC NAL unit overruns the record');
      sets.get(type)?.push(copyBytes(data, p, p + len));
      p += len;
    }
  }
  const [vps, sps, pps] = [sets.get(HEVC_NAL_VPS)!, sets.get(HEVC_NAL_SPS)!, sets.get(HEVC_NAL_PPS)!];
  if (vps.length === 0) throw new Error('hvcC contains no VPS');
  if (sps.length === 0) throw new Error('hvcC contains no SPS');
  if (pps.length === 0) throw new Error('hvcC contains no PPS');
  const info = parseHevcSps(sps[0]!);
  return { codec: 'H265', profileIdc: info.profileIdc, levelIdc: info.levelIdc, lengthSize, vps, sps, pps, paramSets: [...vps, ...sps, ...pps], info, record: copyBytes(data) };
}

/**
 * The SPS with sps_max_num_reorder_pics and sps_max_latency_increase_plus1 set to 0 for every
 * sub-layer: a decoder then outputs each picture as soon as it is decoded (one IRAP picture at a
 * time, fed to a long-lived decoder, would otherwise come out only pictures later). The rest of
 * the SPS is copied bit for bit. An SPS it cannot read is returned as it is.
 */
export function hevcWithoutReorderDelay(nal: Uint8Array): Uint8Array {
  try {
    const rbsp = unescapeRbsp(nal.subarray(2));
    const r = new BitReader(rbsp);
    r.skipBits(4);
    const maxSubLayersMinus1 = r.readBits(3);
    r.skipBits(1);
    skipProfileTierLevel(r, maxSubLayersMinus1);
    r.readUE(); // sps_seq_parameter_set_id
    if (r.readUE() === 3) r.skipBits(1); // chroma_format_idc, separate_colour_plane_flag
    r.readUE();
    r.readUE(); // pic_width/height_in_luma_samples
    if (r.readFlag()) for (let i = 0; i < 4; i++) r.readUE(); // conformance window
    r.readUE();
    r.readUE();
    r.readUE(); // bit depths, log2_max_pic_order_cnt_lsb_minus4
    const orderingAt = r.position;
    const allSubLayers = r.readFlag();
    const buffering: number[] = [];
    let reorderDelay = 0;
    for (let i = allSubLayers ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
      buffering.push(r.readUE());
      reorderDelay += r.readUE() + r.readUE();
    }
    if (reorderDelay === 0) return nal;
    const restAt = r.position;
    const end = stopBit(rbsp);
    if (end < restAt) return nal;
    const w = new BitWriter().copyBits(rbsp, 0, orderingAt).flag(allSubLayers);
    for (const b of buffering) w.ue(b).ue(0).ue(0);
    w.copyBits(rbsp, restAt, end);
    return Uint8Array.from([nal[0]!, nal[1]!, ...escapeRbsp(w.bytes())]);
  } catch {
    return nal;
  }
}

/** Where rbsp_trailing_bits start: the last bit set. */
function stopBit(rbsp: Uint8Array): number {
  let i = rbsp.length - 1;
  while (i >= 0 && rbsp[i] === 0) i--;
  if (i < 0) return 0;
  let b = rbsp[i]!;
  let tz = 0;
  while ((b & 1) === 0) {
    b >>= 1;
    tz++;
  }
  return i * 8 + 7 - tz;
}

const HEVC_PROFILES: Record<number, string> = { 1: 'Main', 2: 'Main 10', 3: 'Main Still Picture', 4: 'Range Extensions' };

export function hevcProfileName(profileIdc: number): string {
  return HEVC_PROFILES[profileIdc] ?? `profile ${profileIdc}`;
}
