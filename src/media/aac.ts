import { copyBytes } from './bytes.js';
import { BitReader } from './bit-reader.js';

export interface AacConfig {
  /** MPEG-4 audio object type of the core codec (2 = AAC-LC). */
  objectType: number;
  /** Sampling frequency index of the core codec (ADTS can only carry an index). */
  frequencyIndex: number;
  sampleRate: number;
  channelConfig: number;
  /** Output sample rate when SBR (HE-AAC) is signalled explicitly. */
  extensionSampleRate?: number;
  /** The AudioSpecificConfig as received: the esds decoder-specific info of an fMP4 init segment. */
  record?: Uint8Array;
}

export const AAC_SAMPLE_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

function readObjectType(r: BitReader): number {
  const t = r.readBits(5);
  return t === 31 ? 32 + r.readBits(6) : t;
}

function readFrequency(r: BitReader): { index: number; rate: number } {
  const index = r.readBits(4);
  if (index === 15) {
    const rate = r.readBits(24);
    return { index: nearestFrequencyIndex(rate), rate };
  }
  const rate = AAC_SAMPLE_RATES[index];
  if (rate === undefined) throw new Error(`reserved AAC sampling frequency index ${index}`);
  return { index, rate };
}

function nearestFrequencyIndex(rate: number): number {
  let best = 0;
  AAC_SAMPLE_RATES.forEach((r, i) => {
    if (Math.abs(r - rate) < Math.abs(AAC_SAMPLE_RATES[best]! - rate)) best = i;
  });
  return best;
}

/** Parses an MPEG-4 AudioSpecificConfig (the AAC sequence header payload). */
export function parseAudioSpecificConfig(data: Uint8Array): AacConfig {
  if (data.length < 2) throw new Error('AudioSpecificConfig shorter than 2 bytes');
  const r = new BitReader(data);
  let objectType = readObjectType(r);
  const freq = readFrequency(r);
  const channelConfig = r.readBits(4);
  let extensionSampleRate: number | undefined;
  if (objectType === 5 || objectType === 29) {
    extensionSampleRate = readFrequency(r).rate;
    objectType = readObjectType(r);
  }
  if (objectType < 1 || objectType > 4) {
    throw new Error(`AAC object type ${objectType} cannot be carried in ADTS`);
  }
  return {
    objectType,
    frequencyIndex: freq.index,
    sampleRate: freq.rate,
    channelConfig,
    extensionSampleRate,
    record: copyBytes(data),
  };
}

/** Writes a 7-byte ADTS header (no CRC) for a raw AAC frame of `payloadLength` bytes. */
export function writeAdtsHeader(
  out: Uint8Array,
  offset: number,
  config: AacConfig,
  payloadLength: number,
): void {
  const frameLength = payloadLength + 7;
  if (frameLength > 0x1fff) throw new RangeError(`AAC frame of ${payloadLength} bytes is too large for ADTS`);
  const profile = config.objectType - 1;
  out[offset] = 0xff;
  out[offset + 1] = 0xf1; // MPEG-4, layer 0, no CRC
  out[offset + 2] = (profile << 6) | (config.frequencyIndex << 2) | ((config.channelConfig >> 2) & 1);
  out[offset + 3] = ((config.channelConfig & 3) << 6) | (frameLength >> 11);
  out[offset + 4] = (frameLength >> 3) & 0xff;
  out[offset + 5] = ((frameLength & 7) << 5) | 0x1f;
  out[offset + 6] = 0xfc;
}

export function sameAacConfig(a: AacConfig, b: AacConfig): boolean {
  return (
    a.objectType === b.objectType &&
    a.frequencyIndex === b.frequencyIndex &&
    a.channelConfig === b.channelConfig &&
    a.extensionSampleRate === b.extensionSampleRate
  );
}
