import { H264_AUD, NAL_SPS, START_CODE, type AccessUnitScan, type AvcConfig } from './avc.js';
import { BitWriter, escapeRbsp } from './bit-writer.js';
import { unescapeRbsp } from './bit-reader.js';
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
  const w = new BitWriter();
  for (let i = 0; i < at; i++) w.u(1, (rbsp[i >> 3]! >> (7 - (i & 7))) & 1);
  w.flag(false); // bitstream_restriction_flag
  return Uint8Array.from([sps[0]!, ...escapeRbsp(w.bytes())]);
}

/**
 * One keyframe as a picture a decoder can show alone, in Annex B: the parameter sets (the
 * frame's own when it carries them, else the sequence header's), the frame's NAL units and an
 * access unit delimiter that closes it. `scan` is the frame's NALU layout (AccessUnitScan).
 */
export function keyframePicture(avc: AvcConfig, frame: Uint8Array, scan: AccessUnitScan, lowDelaySps: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  if (!scan.hasParamSets(false)) {
    for (const sps of lowDelaySps) parts.push(START_CODE, sps);
    for (const pps of avc.pps) parts.push(START_CODE, pps);
  }
  for (let i = 0; i < scan.count; i++) {
    const nal = frame.subarray(scan.starts[i]!, scan.starts[i]! + scan.lengths[i]!);
    parts.push(START_CODE, scan.types[i] === NAL_SPS ? withoutReorderDelay(nal) : nal);
  }
  parts.push(H264_AUD); // tells a decoder's parser that the picture before it is complete
  return Buffer.concat(parts);
}
