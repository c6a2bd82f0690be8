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
  if (b0 & 0x80) {
    // Enhanced RTMP: FourCC codecs (HEVC, AV1, VP9).
    const fourcc = d.length >= 5 ? String.fromCharCode(d[1]!, d[2]!, d[3]!, d[4]!) : '?';
    return { kind: 'unsupported', codec: `enhanced-RTMP ${fourcc}` };
  }
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
