import { BitReader, unescapeRbsp } from './bit-reader.js';

export interface SpsInfo {
  profileIdc: number;
  constraintFlags: number;
  levelIdc: number;
  chromaFormatIdc: number;
  width: number;
  height: number;
  /** Frames per second from VUI timing info, or undefined when the SPS carries none. */
  frameRate?: number;
  sarWidth: number;
  sarHeight: number;
  /**
   * RBSP bit offset of a set bitstream_restriction_flag (whose max_num_reorder_frames makes a
   * decoder hold pictures back); undefined when the SPS has none.
   */
  restrictionBit?: number;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

const SAR_TABLE: ReadonlyArray<readonly [number, number]> = [
  [0, 0], [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11],
  [32, 11], [80, 33], [18, 11], [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
];

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.readSE() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Parses an H.264 sequence parameter set NAL unit (header byte included). */
export function parseSps(nal: Uint8Array): SpsInfo {
  if (nal.length < 4 || (nal[0]! & 0x1f) !== 7) throw new Error('not an SPS NAL unit');
  const r = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profileIdc = r.readBits(8);
  const constraintFlags = r.readBits(8);
  const levelIdc = r.readBits(8);
  r.readUE(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.readUE();
    if (chromaFormatIdc > 3) throw new Error(`invalid chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.readFlag();
    r.readUE(); // bit_depth_luma_minus8
    r.readUE(); // bit_depth_chroma_minus8
    r.readBit(); // qpprime_y_zero_transform_bypass_flag
    if (r.readFlag()) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        if (r.readFlag()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.readUE(); // log2_max_frame_num_minus4
  const pocType = r.readUE();
  if (pocType === 0) {
    r.readUE();
  } else if (pocType === 1) {
    r.readBit();
    r.readSE();
    r.readSE();
    const cycle = r.readUE();
    if (cycle > 255) throw new Error('num_ref_frames_in_pic_order_cnt_cycle out of range');
    for (let i = 0; i < cycle; i++) r.readSE();
  }
  r.readUE(); // max_num_ref_frames
  r.readBit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.readUE() + 1;
  const heightMapUnits = r.readUE() + 1;
  const frameMbsOnly = r.readBit();
  if (!frameMbsOnly) r.readBit(); // mb_adaptive_frame_field_flag
  r.readBit(); // direct_8x8_inference_flag
  let cropLeft = 0;
  let cropRight = 0;
  let cropTop = 0;
  let cropBottom = 0;
  if (r.readFlag()) {
    cropLeft = r.readUE();
    cropRight = r.readUE();
    cropTop = r.readUE();
    cropBottom = r.readUE();
  }
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropUnitX * (cropLeft + cropRight);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom);
  if (width <= 0 || height <= 0) throw new Error('SPS cropping leaves no picture');

  let sarWidth = 1;
  let sarHeight = 1;
  let frameRate: number | undefined;
  let restrictionBit: number | undefined;
  if (r.bitsLeft > 0 && r.readFlag()) {
    if (r.readFlag()) {
      const idc = r.readBits(8);
      if (idc === 255) {
        sarWidth = r.readBits(16);
        sarHeight = r.readBits(16);
      } else if (idc < SAR_TABLE.length) {
        [sarWidth, sarHeight] = SAR_TABLE[idc]!;
      }
    }
    if (r.readFlag()) r.readBit(); // overscan
    if (r.readFlag()) {
      r.skipBits(4); // video_format, video_full_range_flag
      if (r.readFlag()) r.skipBits(24); // colour description
    }
    if (r.readFlag()) {
      r.readUE();
      r.readUE();
    }
    const timing = r.readFlag();
    if (timing) {
      const unitsInTick = r.readBits(32);
      const timeScale = r.readBits(32);
      if (unitsInTick > 0 && timeScale > 0) frameRate = timeScale / (2 * unitsInTick);
    }
    restrictionBit = findRestrictionBit(r, timing);
  }
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    chromaFormatIdc,
    width,
    height,
    frameRate,
    sarWidth,
    sarHeight,
    restrictionBit,
  };
}

function skipHrd(r: BitReader): void {
  const cpbCount = r.readUE() + 1;
  if (cpbCount > 32) throw new RangeError('cpb_cnt_minus1 out of range');
  r.skipBits(8); // bit_rate_scale, cpb_size_scale
  for (let i = 0; i < cpbCount; i++) {
    r.readUE(); // bit_rate_value_minus1
    r.readUE(); // cpb_size_value_minus1
    r.readBit(); // cbr_flag
  }
  r.skipBits(20); // four delay and offset lengths
}

/** The rest of the VUI up to bitstream_restriction_flag; undefined when it is 0 or the VUI ends early. */
function findRestrictionBit(r: BitReader, timing: boolean): number | undefined {
  try {
    if (timing) r.readBit(); // fixed_frame_rate_flag
    const nalHrd = r.readFlag();
    if (nalHrd) skipHrd(r);
    const vclHrd = r.readFlag();
    if (vclHrd) skipHrd(r);
    if (nalHrd || vclHrd) r.readBit(); // low_delay_hrd_flag
    r.readBit(); // pic_struct_present_flag
    const at = r.position;
    return r.readFlag() ? at : undefined;
  } catch {
    return undefined;
  }
}

const PROFILE_NAMES: Record<number, string> = {
  66: 'Baseline', 77: 'Main', 88: 'Extended', 100: 'High', 110: 'High 10',
  122: 'High 4:2:2', 244: 'High 4:4:4',
};

export function profileName(profileIdc: number): string {
  return PROFILE_NAMES[profileIdc] ?? `profile ${profileIdc}`;
}
