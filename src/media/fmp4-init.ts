/** The fMP4 (CMAF) initialization segment: ftyp + moov describing each track (ISO/IEC 14496-12). */
import type { AacConfig } from './aac.js';
import type { Av1Config } from './av1.js';
import type { AvcConfig } from './avc.js';
import type { HevcConfig } from './hevc.js';

export type VideoConfig = AvcConfig | HevcConfig | Av1Config;

export const VIDEO_TRACK_ID = 1;
export const AUDIO_TRACK_ID = 2;
export const VIDEO_TIMESCALE = 90000;

export interface Fmp4Tracks {
  video?: VideoConfig;
  audio?: AacConfig;
}

/** A box: 32-bit size, four-character type, then the payload parts. */
export function box(type: string, ...parts: Uint8Array[]): Uint8Array {
  let size = 8;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let o = 8;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A full box: a box whose payload starts with version (8 bits) and flags (24 bits). */
export function fullBox(type: string, version: number, flags: number, ...parts: Uint8Array[]): Uint8Array {
  return box(type, u32((version << 24) | flags), ...parts);
}

export function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(4 * i, v >>> 0));
  return out;
}

function u16(...values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v & 0xffff));
  return out;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const zeros = (n: number) => new Uint8Array(n);
const UNITY_MATRIX = u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);

export function audioTimescale(aac: AacConfig): number {
  return aac.sampleRate;
}

function sampleEntryFor(video: VideoConfig): Uint8Array {
  const { width, height } = video.info;
  const [type, configType] = video.codec === 'H264' ? ['avc1', 'avcC'] : video.codec === 'H265' ? ['hvc1', 'hvcC'] : ['av01', 'av1C'];
  return box(
    type,
    zeros(6),
    u16(1), // data_reference_index
    zeros(16), // pre_defined, reserved
    u16(width, height),
    u32(0x480000, 0x480000, 0), // 72 dpi, reserved
    u16(1), // frame_count
    zeros(32), // compressorname
    u16(0x18, 0xffff), // depth, pre_defined
    box(configType, video.record),
  );
}

/** ES_Descriptor with the AudioSpecificConfig (ISO/IEC 14496-1 7.2.6.5). */
function esds(aac: AacConfig): Uint8Array {
  const asc = aac.record ?? zeros(0);
  const descriptor = (tag: number, ...parts: Uint8Array[]) => {
    const length = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(5 + length);
    out.set([tag, 0x80 | ((length >> 21) & 0x7f), 0x80 | ((length >> 14) & 0x7f), 0x80 | ((length >> 7) & 0x7f), length & 0x7f]);
    let o = 5;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const decoderConfig = descriptor(
    4,
    Uint8Array.of(0x40, 0x15, 0, 0, 0), // MPEG-4 audio, audio stream, bufferSizeDB
    u32(0, 0), // max and average bitrate: unknown
    descriptor(5, asc),
  );
  return fullBox('esds', 0, 0, descriptor(3, u16(AUDIO_TRACK_ID), Uint8Array.of(0), decoderConfig, descriptor(6, Uint8Array.of(2))));
}

function audioSampleEntry(aac: AacConfig): Uint8Array {
  const rate = audioTimescale(aac);
  return box(
    'mp4a',
    zeros(6),
    u16(1),
    zeros(8),
    u16(aac.channelConfig || 2, 16, 0, 0),
    u32(rate > 0xffff ? 0 : rate * 0x10000),
    esds(aac),
  );
}

function trak(id: number, handler: 'vide' | 'soun', timescale: number, width: number, height: number, sampleEntry: Uint8Array): Uint8Array {
  const video = handler === 'vide';
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, id, 0, 0, 0, 0), u16(0, 0, video ? 0 : 0x100, 0), UNITY_MATRIX, u32(width * 0x10000, height * 0x10000));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, timescale, 0), u16(0x55c4, 0)); // language 'und'
  const hdlr = fullBox('hdlr', 0, 0, u32(0), ascii(handler), zeros(12), ascii(video ? 'VideoHandler\0' : 'SoundHandler\0'));
  const mediaHeader = video ? fullBox('vmhd', 0, 1, zeros(8)) : fullBox('smhd', 0, 0, zeros(4));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl)));
}

/** The initialization segment for these tracks (at least one). */
export function fmp4InitSegment(tracks: Fmp4Tracks): Uint8Array {
  const traks: Uint8Array[] = [];
  const trexes: Uint8Array[] = [];
  if (tracks.video) {
    const { width, height } = tracks.video.info;
    traks.push(trak(VIDEO_TRACK_ID, 'vide', VIDEO_TIMESCALE, width, height, sampleEntryFor(tracks.video)));
    trexes.push(fullBox('trex', 0, 0, u32(VIDEO_TRACK_ID, 1, 0, 0, 0)));
  }
  if (tracks.audio) {
    traks.push(trak(AUDIO_TRACK_ID, 'soun', audioTimescale(tracks.audio), 0, 0, audioSampleEntry(tracks.audio)));
    trexes.push(fullBox('trex', 0, 0, u32(AUDIO_TRACK_ID, 1, 0, 0, 0)));
  }
  const brands = ['iso6', 'cmfc', 'isom', 'mp41'];
  if (tracks.video?.codec === 'AV1') brands.push('av01');
  const ftyp = box('ftyp', ascii('iso6'), u32(0), ...brands.map(ascii));
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x10000), u16(0x100, 0), zeros(8), UNITY_MATRIX, zeros(24), u32(AUDIO_TRACK_ID + 1));
  const moov = box('moov', mvhd, ...traks, box('mvex', ...trexes));
  const out = new Uint8Array(ftyp.length + moov.length);
  out.set(ftyp);
  out.set(moov, ftyp.length);
  return out;
}
