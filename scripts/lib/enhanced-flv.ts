// Enhanced RTMP video tags (the published "Enhanced RTMP" spec, v1/v2) built from HEVC and AV1
// elementary streams, for tests and fixtures: Debian's ffmpeg 5.1 cannot write them.
import { OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER, parseAv1SequenceHeader, splitObus } from '../../src/media/av1.js';
import { EX_CODED_FRAMES, EX_CODED_FRAMES_X, EX_SEQUENCE_START } from '../../src/media/flv-tags.js';
import type { FlvTag } from '../../src/media/flv.js';
import { HEVC_NAL_AUD as AUD, HEVC_NAL_PPS as PPS, HEVC_NAL_SPS as SPS, HEVC_NAL_VPS as VPS, hevcNalType, isHevcIrap } from '../../src/media/hevc.js';

/** The NAL units of an Annex B byte stream (start codes removed). */
export function annexBNalUnits(data: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((s, k) => {
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : data.length;
    while (end > s && data[end - 1] === 0) end--; // the zero byte of a 4-byte start code
    return data.subarray(s, end);
  });
}

const nalType = (nal: Uint8Array) => hevcNalType(nal[0]!);

/** An HEVCDecoderConfigurationRecord (hvcC) for one VPS, SPS and PPS, its general profile fields copied from the SPS. */
export function hvcC(vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): Uint8Array {
  // sps_video_parameter_set_id .. nesting flag fill byte 2; profile_tier_level's general part is the next 12
  // (no emulation prevention expected there for the streams x265 writes)
  const ptl = sps.subarray(3, 15);
  const head = Uint8Array.from([
    1, ...ptl.subarray(0, 12),
    0xf0, 0x00, // min_spatial_segmentation_idc
    0xfc, // parallelismType
    0xfd, // chroma_format_idc 1
    0xf8, 0xf8, // bit depths 8
    0x00, 0x00, // avgFrameRate
    0x0f, // constantFrameRate 0, numTemporalLayers 1, temporalIdNested 1, lengthSizeMinusOne 3
    3,
  ]);
  const array = (type: number, nal: Uint8Array) => [0x80 | type, 0, 1, nal.length >> 8, nal.length & 0xff, ...nal];
  return Uint8Array.from([...head, ...array(VPS, vps), ...array(SPS, sps), ...array(PPS, pps)]);
}

function exTag(timestamp: number, keyframe: boolean, packetType: number, body: Uint8Array, fourcc = 'hvc1'): FlvTag {
  const header = [0x80 | ((keyframe ? 1 : 2) << 4) | packetType, ...Buffer.from(fourcc, 'latin1')];
  return { type: 9, timestamp, data: Uint8Array.from([...header, ...body]) };
}

/**
 * FLV video tags for an HEVC Annex B stream whose access units each begin with an AUD (x265's
 * `aud=1`) and that has no B-frames: a SequenceStart with the hvcC, then one CodedFramesX
 * (or, with `withCts`, CodedFrames with a zero composition offset) per access unit.
 */
export function hevcTags(annexB: Uint8Array, fps: number, opts: { withCts?: boolean } = {}): FlvTag[] {
  const units: Uint8Array[][] = [];
  for (const nal of annexBNalUnits(annexB)) {
    if (nalType(nal) === AUD || units.length === 0) units.push([]);
    if (nalType(nal) !== AUD) units.at(-1)!.push(nal);
  }
  const all = units.flat();
  const find = (type: number) => all.find((n) => nalType(n) === type)!;
  const tags: FlvTag[] = [exTag(0, true, EX_SEQUENCE_START, hvcC(find(VPS), find(SPS), find(PPS)))];
  units.forEach((nals, i) => {
    const frame = nals.filter((n) => ![VPS, SPS, PPS].includes(nalType(n)));
    if (frame.length === 0) return;
    const keyframe = frame.some((n) => isHevcIrap(nalType(n)));
    const body = Buffer.concat(frame.flatMap((n) => [Buffer.from([n.length >>> 24, (n.length >> 16) & 0xff, (n.length >> 8) & 0xff, n.length & 0xff]), n]));
    const ts = Math.round((i * 1000) / fps);
    tags.push(opts.withCts ? exTag(ts, keyframe, EX_CODED_FRAMES, Uint8Array.from([0, 0, 0, ...body])) : exTag(ts, keyframe, EX_CODED_FRAMES_X, body));
  });
  return tags;
}

const OBU_FRAME_HEADER = 3;
const OBU_FRAME = 6;

/** An AV1CodecConfigurationRecord (av1C) for a sequence header OBU of an 8-bit 4:2:0 stream. */
export function av1C(sequenceHeaderObu: Uint8Array): Uint8Array {
  const [obu] = splitObus(sequenceHeaderObu);
  const info = parseAv1SequenceHeader(sequenceHeaderObu.subarray(obu!.payload, obu!.end));
  return Uint8Array.from([0x81, (info.profile << 5) | info.levelIdx, (info.tier << 7) | 0x0c, 0, ...sequenceHeaderObu]);
}

/**
 * FLV video tags for an AV1 low-overhead bitstream (ffmpeg's `-f obu`: a temporal delimiter
 * before each temporal unit): a SequenceStart with the av1C, then one CodedFrames tag per
 * temporal unit, its delimiter left out; a unit whose frame header says KEY_FRAME is a keyframe.
 */
export function av1Tags(obuStream: Uint8Array, fps: number): FlvTag[] {
  const units: Uint8Array[][] = [];
  let sequenceHeader: Uint8Array | undefined;
  for (const o of splitObus(obuStream)) {
    if (o.type === OBU_TEMPORAL_DELIMITER || units.length === 0) units.push([]);
    if (o.type === OBU_TEMPORAL_DELIMITER) continue;
    const bytes = obuStream.subarray(o.start, o.end);
    if (o.type === OBU_SEQUENCE_HEADER) sequenceHeader ??= bytes;
    units.at(-1)!.push(bytes);
  }
  if (!sequenceHeader) throw new Error('no AV1 sequence header in the stream');
  const isKey = (obus: Uint8Array[]) =>
    obus.some((bytes) => {
      const [o] = splitObus(bytes);
      if (o!.type !== OBU_FRAME && o!.type !== OBU_FRAME_HEADER) return false;
      const first = bytes[o!.payload]!;
      return (first & 0x80) === 0 && ((first >> 5) & 3) === 0; // !show_existing_frame, frame_type KEY_FRAME
    });
  const tags: FlvTag[] = [exTag(0, true, EX_SEQUENCE_START, av1C(sequenceHeader), 'av01')];
  units.forEach((obus, i) => {
    if (obus.length === 0) return;
    tags.push(exTag(Math.round((i * 1000) / fps), isKey(obus), EX_CODED_FRAMES, Buffer.concat(obus), 'av01'));
  });
  return tags;
}
