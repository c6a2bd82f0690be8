import { AV1_TEMPORAL_DELIMITER, OBU_SEQUENCE_HEADER, splitObus, type Av1Config } from './av1.js';
import { H264_AUD, NAL_SPS, START_CODE, type AccessUnitScan, type AvcConfig } from './avc.js';
import { BitWriter, escapeRbsp } from './bit-writer.js';
import { unescapeRbsp } from './bit-reader.js';
import { HEVC_AUD, HEVC_NAL_SPS, hevcWithoutReorderDelay, type HevcConfig } from './hevc.js';
import { parseSps } from './sps.js';

/**
 * The SPS without its bitstream restriction: a decoder then outputs each picture as soon as it
 * is decoded instead of holding max_num_reorder_frames pictures back (one IDR at a time, fed
 * to a long-lived decoder, would otherwise come out only pictures later).
 */
export function withoutReorderDelay(sps: Uint8Array): Uint8Array {
  let at: number | undefined;
  try {
    at = parseSps(sps).restrictionBit;
  } catch {
    return sps;
  }
  if (at === undefined) return sps;
  const rbsp = unescapeRbsp(sps.subarray(1));
  const w = new BitWriter().copyBits(rbsp, 0, at).flag(false); // bitstream_restriction_flag
  return Uint8Array.from([sps[0]!, ...escapeRbsp(w.bytes())]);
}

/** The sequence header's SPSs as keyframe pictures carry them: without reorder delay. */
export function lowDelaySps(config: AvcConfig | HevcConfig): Uint8Array[] {
  return config.sps.map(config.codec === 'H265' ? hevcWithoutReorderDelay : withoutReorderDelay);
}

/**
 * One keyframe as a picture a decoder can show alone, in Annex B: the parameter sets (the
 * frame's own when it carries them, else the sequence header's, the SPS from lowDelaySps), the
 * frame's NAL units and an access unit delimiter that closes it. `scan` is the frame's NALU
 * layout (AccessUnitScan).
 */
export function keyframePicture(config: AvcConfig | HevcConfig, frame: Uint8Array, scan: AccessUnitScan, lowDelay: readonly Uint8Array[]): Buffer {
  const hevc = config.codec === 'H265';
  const parts: Uint8Array[] = [];
  if (!scan.hasParamSets(hevc)) {
    if (hevc) for (const vps of config.vps) parts.push(START_CODE, vps);
    for (const sps of lowDelay) parts.push(START_CODE, sps);
    for (const pps of config.pps) parts.push(START_CODE, pps);
  }
  for (let i = 0; i < scan.count; i++) {
    const nal = frame.subarray(scan.starts[i]!, scan.starts[i]! + scan.lengths[i]!);
    const sps = scan.types[i] === (hevc ? HEVC_NAL_SPS : NAL_SPS);
    parts.push(START_CODE, !sps ? nal : hevc ? hevcWithoutReorderDelay(nal) : withoutReorderDelay(nal));
  }
  // tells a decoder's parser that the picture before it is complete
  parts.push(hevc ? HEVC_AUD : H264_AUD);
  return Buffer.concat(parts);
}

/**
 * An AV1 keyframe as a temporal unit a decoder can start with, in the low-overhead format: a
 * temporal delimiter, the sequence header (unless the unit carries one), the unit's OBUs.
 */
export function av1KeyframePicture(config: Av1Config, sample: Uint8Array): Buffer {
  const hasSequenceHeader = splitObus(sample).some((o) => o.type === OBU_SEQUENCE_HEADER);
  return Buffer.concat([AV1_TEMPORAL_DELIMITER, ...(hasSequenceHeader ? [] : config.paramSets), sample]);
}
