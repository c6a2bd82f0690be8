import { copyBytes } from './bytes.js';
import { BitReader } from './bit-reader.js';

/** AV1 OBU types (AV1 spec 6.2.2) that the gateway looks at. */
export const OBU_SEQUENCE_HEADER = 1;
export const OBU_TEMPORAL_DELIMITER = 2;
/** A temporal delimiter OBU (with its size field): what starts a temporal unit in a low-overhead stream. */
export const AV1_TEMPORAL_DELIMITER = Uint8Array.of(0x12, 0x00);

export interface Av1SequenceInfo {
  profile: number;
  /** seq_level_idx of operating point 0: level = 2 + (idx >> 2) + (idx & 3) / 10. */
  levelIdx: number;
  tier: number;
  width: number;
  height: number;
}

export interface Av1Config {
  codec: 'AV1';
  /** The AV1CodecConfigurationRecord as received: the av1C box payload of an fMP4 init segment. */
  record: Uint8Array;
  /** The sequence header OBU the record carries: compared to tell a changed configuration. */
  paramSets: Uint8Array[];
  /** No NAL units: kept so that sameVideoConfig compares AV1 configs like the others. */
  lengthSize: 0;
  info: Av1SequenceInfo;
}

export interface Obu {
  type: number;
  /** The whole OBU, header included. */
  start: number;
  end: number;
  /** Where its payload starts. */
  payload: number;
}

/** Reads a leb128 value at `p`; returns [value, bytes read]. */
export function readLeb128(d: Uint8Array, p: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    if (p + i >= d.length) throw new Error('truncated leb128');
    const b = d[p + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (!(b & 0x80)) return [value, i + 1];
  }
  throw new Error('leb128 longer than 8 bytes');
}

/**
 * Splits a low-overhead bitstream (every OBU with obu_has_size_field, as RTMP and MP4
 * carry it; the last one may lack it and run to the end).
 */
export function splitObus(d: Uint8Array): Obu[] {
  const obus: Obu[] = [];
  let p = 0;
  while (p < d.length) {
    const header = d[p]!;
    if (header & 0x80) throw new Error('OBU forbidden bit set');
    const type = (header >> 3) & 0x0f;
    const extension = (header >> 2) & 1;
    const hasSize = (header >> 1) & 1;
    let payload = p + 1 + extension;
    let end: number;
    if (hasSize) {
      const [size, n] = readLeb128(d, payload);
      payload += n;
      end = payload + size;
    } else {
      end = d.length;
    }
    if (end > d.length) throw new Error(`OBU of type ${type} overruns its frame`);
    obus.push({ type, start: p, end, payload });
    p = end;
  }
  return obus;
}

/** Parses a sequence header OBU's payload far enough for the stat and the sample entry. */
export function parseAv1SequenceHeader(payload: Uint8Array): Av1SequenceInfo {
  const r = new BitReader(payload);
  const profile = r.readBits(3);
  r.skipBits(1); // still_picture
  const reduced = r.readFlag();
  let levelIdx: number;
  let tier = 0;
  if (reduced) {
    levelIdx = r.readBits(5);
  } else {
    let bufferDelayLength = 0;
    let decoderModelInfo = false;
    if (r.readFlag()) {
      // timing_info
      r.skipBits(64);
      if (r.readFlag()) readUvlc(r); // num_ticks_per_picture_minus_1
      decoderModelInfo = r.readFlag();
      if (decoderModelInfo) {
        bufferDelayLength = r.readBits(5) + 1;
        r.skipBits(32 + 5 + 5);
      }
    }
    const initialDisplayDelay = r.readFlag();
    const points = r.readBits(5) + 1;
    levelIdx = 0;
    for (let i = 0; i < points; i++) {
      r.skipBits(12); // operating_point_idc
      const level = r.readBits(5);
      const pointTier = level > 7 ? r.readBit() : 0;
      if (i === 0) {
        levelIdx = level;
        tier = pointTier;
      }
      if (decoderModelInfo && r.readFlag()) r.skipBits(2 * bufferDelayLength + 1);
      if (initialDisplayDelay && r.readFlag()) r.skipBits(4);
    }
  }
  const widthBits = r.readBits(4) + 1;
  const heightBits = r.readBits(4) + 1;
  const width = r.readBits(widthBits) + 1;
  const height = r.readBits(heightBits) + 1;
  return { profile, levelIdx, tier, width, height };
}

function readUvlc(r: BitReader): number {
  let zeros = 0;
  while (!r.readFlag()) if (++zeros >= 32) return 2 ** 32 - 1;
  return r.readBits(zeros) + 2 ** zeros - 1;
}

/** Parses an AV1CodecConfigurationRecord (Enhanced RTMP SequenceStart for 'av01'). Copies what it keeps. */
export function parseAv1CodecConfig(data: Uint8Array): Av1Config {
  if (data.length < 4) throw new Error(`av1C too short (${data.length} bytes)`);
  if (data[0] !== 0x81) throw new Error(`unsupported av1C marker/version 0x${data[0]!.toString(16)}`);
  const obus = splitObus(data.subarray(4));
  const seq = obus.find((o) => o.type === OBU_SEQUENCE_HEADER);
  if (!seq) throw new Error('av1C carries no sequence header OBU');
  const body = data.subarray(4);
  let info: Av1SequenceInfo;
  try {
    info = parseAv1SequenceHeader(body.subarray(seq.payload, seq.end));
  } catch (err) {
    throw new Error(`AV1 sequence header: ${(err as Error).message}`);
  }
  return { codec: 'AV1', record: copyBytes(data), paramSets: [copyBytes(body, seq.start, seq.end)], lengthSize: 0, info };
}

/** "Main", "High", "Professional". */
export function av1ProfileName(profile: number): string {
  return ['Main', 'High', 'Professional'][profile] ?? `profile ${profile}`;
}

/** The level as a number (seq_level_idx 8 → 4.0). */
export function av1Level(levelIdx: number): number {
  return 2 + (levelIdx >> 2) + (levelIdx & 3) / 10;
}

/**
 * A temporal unit as an MP4 sample wants it: without temporal delimiter OBUs (ISO/IEC 14496-15
 * AV1 binding, 2.4). Returns `data` itself when there are none.
 */
export function withoutTemporalDelimiters(data: Uint8Array): Uint8Array {
  const obus = splitObus(data);
  if (!obus.some((o) => o.type === OBU_TEMPORAL_DELIMITER)) return data;
  const kept = obus.filter((o) => o.type !== OBU_TEMPORAL_DELIMITER);
  const out = new Uint8Array(kept.reduce((n, o) => n + o.end - o.start, 0));
  let p = 0;
  for (const o of kept) {
    out.set(data.subarray(o.start, o.end), p);
    p += o.end - o.start;
  }
  return out;
}
