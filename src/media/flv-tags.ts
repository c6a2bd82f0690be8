/** Decodes the payload of FLV (RTMP) audio and video tags. */

export const CODEC_AVC = 7;
export const SOUND_AAC = 10;

const VIDEO_CODECS: Record<number, string> = {
  1: 'JPEG', 2: 'Sorenson H.263', 3: 'Screen video', 4: 'VP6', 5: 'VP6 alpha',
  6: 'Screen video v2', 7: 'H.264', 12: 'HEVC (legacy FLV)',
};
const SOUND_FORMATS: Record<number, string> = {
  0: 'PCM', 1: 'ADPCM', 2: 'MP3', 3: 'PCM LE', 4: 'Nellymoser 16k', 5: 'Nellymoser 8k',
  6: 'Nellymoser', 7: 'G.711 A-law', 8: 'G.711 mu-law', 10: 'AAC', 11: 'Speex', 13: 'Opus',
  14: 'MP3 8k', 15: 'Device-specific',
};

export type VideoTag =
  | { kind: 'avc-config'; data: Uint8Array }
  | { kind: 'avc-frame'; keyframe: boolean; cts: number; data: Uint8Array }
  /** Enhanced RTMP 'hvc1': the HEVCDecoderConfigurationRecord. */
  | { kind: 'hevc-config'; data: Uint8Array }
  | { kind: 'hevc-frame'; keyframe: boolean; cts: number; data: Uint8Array }
  /** Enhanced RTMP 'av01': the AV1CodecConfigurationRecord. */
  | { kind: 'av1-config'; data: Uint8Array }
  /** A temporal unit's OBUs (AV1 has no composition offset). */
  | { kind: 'av1-frame'; keyframe: boolean; cts: 0; data: Uint8Array }
  | { kind: 'ignored' }
  | { kind: 'unsupported'; codec: string }
  | { kind: 'malformed'; reason: string };

export type AudioTag =
  | { kind: 'aac-config'; data: Uint8Array }
  | { kind: 'aac-frame'; data: Uint8Array }
  | { kind: 'unsupported'; codec: string }
  | { kind: 'malformed'; reason: string };

const IGNORED: VideoTag = { kind: 'ignored' };

export function parseVideoTag(d: Uint8Array): VideoTag {
  if (d.length < 1) return { kind: 'malformed', reason: 'empty video tag' };
  const b0 = d[0]!;
  if (b0 & 0x80) return parseExVideoTag(d);
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  if (codecId !== CODEC_AVC) return { kind: 'unsupported', codec: VIDEO_CODECS[codecId] ?? `video codec ${codecId}` };
  if (frameType === 5) return IGNORED; // video info/command frame
  if (d.length < 5) return { kind: 'malformed', reason: 'AVC tag shorter than 5 bytes' };
  const packetType = d[1]!;
  if (packetType === 0) return { kind: 'avc-config', data: d.subarray(5) };
  if (packetType === 2) return IGNORED; // end of sequence
  if (packetType !== 1) return { kind: 'malformed', reason: `unknown AVC packet type ${packetType}` };
  // Composition time is a signed 24-bit integer.
  const cts = ((d[2]! << 24) | (d[3]! << 16) | (d[4]! << 8)) >> 8;
  return { kind: 'avc-frame', keyframe: frameType === 1, cts, data: d.subarray(5) };
}

/** Enhanced RTMP video packet types. */
export const EX_SEQUENCE_START = 0;
export const EX_CODED_FRAMES = 1;
export const EX_SEQUENCE_END = 2;
export const EX_CODED_FRAMES_X = 3;
export const EX_METADATA = 4;
export const EX_MPEG2TS_SEQUENCE_START = 5;
export const EX_MULTITRACK = 6;
export const EX_MOD_EX = 7;
const FOURCC_NAMES: Record<string, string> = { vp09: 'VP9' };
const FOURCC_KINDS = {
  avc1: ['avc-config', 'avc-frame'],
  hvc1: ['hevc-config', 'hevc-frame'],
  av01: ['av1-config', 'av1-frame'],
} as const;

/**
 * An Enhanced RTMP video tag (isExHeader set): the packet type in the low nibble, ModEx
 * prefixes skipped, then a FourCC. 'hvc1', 'av01' and 'avc1' are read; other codecs and
 * multitrack are refused.
 */
function parseExVideoTag(d: Uint8Array): VideoTag {
  const frameType = (d[0]! >> 4) & 0x07;
  let packetType = d[0]! & 0x0f;
  let p = 1;
  while (packetType === EX_MOD_EX) {
    if (p >= d.length) return { kind: 'malformed', reason: 'truncated ModEx in an enhanced video tag' };
    let size = d[p++]! + 1;
    if (size === 256) {
      if (p + 2 > d.length) return { kind: 'malformed', reason: 'truncated ModEx size' };
      size = ((d[p]! << 8) | d[p + 1]!) + 1;
      p += 2;
    }
    p += size;
    if (p >= d.length) return { kind: 'malformed', reason: 'truncated ModEx in an enhanced video tag' };
    packetType = d[p++]! & 0x0f;
  }
  if (frameType === 5 && packetType !== EX_METADATA) return IGNORED; // video command frame
  if (packetType === EX_MULTITRACK) return { kind: 'unsupported', codec: 'enhanced-RTMP multitrack video' };
  if (p + 4 > d.length) return { kind: 'malformed', reason: 'enhanced video tag shorter than its FourCC' };
  const fourcc = String.fromCharCode(d[p]!, d[p + 1]!, d[p + 2]!, d[p + 3]!);
  p += 4;
  const kinds = FOURCC_KINDS[fourcc as keyof typeof FOURCC_KINDS];
  if (!kinds) return { kind: 'unsupported', codec: FOURCC_NAMES[fourcc] ?? `enhanced-RTMP ${JSON.stringify(fourcc)}` };
  const keyframe = frameType === 1;
  switch (packetType) {
    case EX_SEQUENCE_START:
      return { kind: kinds[0], data: d.subarray(p) };
    case EX_CODED_FRAMES: {
      if (fourcc === 'av01') return { kind: 'av1-frame', keyframe, cts: 0, data: d.subarray(p) };
      if (p + 3 > d.length) return { kind: 'malformed', reason: `${fourcc} coded frames shorter than their composition time` };
      const cts = ((d[p]! << 24) | (d[p + 1]! << 16) | (d[p + 2]! << 8)) >> 8;
      return { kind: kinds[1] as 'avc-frame' | 'hevc-frame', keyframe, cts, data: d.subarray(p + 3) };
    }
    case EX_CODED_FRAMES_X:
      return { kind: kinds[1], keyframe, cts: 0, data: d.subarray(p) };
    case EX_SEQUENCE_END:
    case EX_METADATA: // HDR colour metadata (AMF)
    case EX_MPEG2TS_SEQUENCE_START:
      return IGNORED;
    default:
      return { kind: 'malformed', reason: `unknown enhanced video packet type ${packetType}` };
  }
}

export function parseAudioTag(d: Uint8Array): AudioTag {
  if (d.length < 1) return { kind: 'malformed', reason: 'empty audio tag' };
  const format = d[0]! >> 4;
  if (format === 9) return { kind: 'unsupported', codec: 'enhanced-RTMP audio' };
  if (format !== SOUND_AAC) return { kind: 'unsupported', codec: SOUND_FORMATS[format] ?? `sound format ${format}` };
  if (d.length < 2) return { kind: 'malformed', reason: 'AAC tag shorter than 2 bytes' };
  if (d[1] === 0) return { kind: 'aac-config', data: d.subarray(2) };
  if (d[1] === 1) return { kind: 'aac-frame', data: d.subarray(2) };
  return { kind: 'malformed', reason: `unknown AAC packet type ${d[1]}` };
}
