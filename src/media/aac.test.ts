import { describe, expect, it } from 'vitest';
import { parseAudioSpecificConfig, sameAacConfig, writeAdtsHeader } from './aac.js';

function readAdts(h: Uint8Array) {
  return {
    sync: (h[0]! << 4) | (h[1]! >> 4),
    protectionAbsent: h[1]! & 1,
    profile: h[2]! >> 6,
    frequencyIndex: (h[2]! >> 2) & 15,
    channels: ((h[2]! & 1) << 2) | (h[3]! >> 6),
    frameLength: ((h[3]! & 3) << 11) | (h[4]! << 3) | (h[5]! >> 5),
    fullness: ((h[5]! & 0x1f) << 6) | (h[6]! >> 2),
  };
}

describe('parseAudioSpecificConfig', () => {
  it('parses AAC-LC 44.1 kHz stereo (12 10)', () => {
    expect(parseAudioSpecificConfig(Uint8Array.from([0x12, 0x10]))).toMatchObject({
      objectType: 2, frequencyIndex: 4, sampleRate: 44100, channelConfig: 2,
    });
  });

  it('parses AAC-LC 48 kHz mono (11 88)', () => {
    expect(parseAudioSpecificConfig(Uint8Array.from([0x11, 0x88]))).toMatchObject({ sampleRate: 48000, channelConfig: 1 });
  });

  it('unwraps explicit HE-AAC (SBR) signalling to its AAC-LC core', () => {
    // object type 5, 24 kHz core, stereo, extension 48 kHz, then object type 2
    const cfg = parseAudioSpecificConfig(Uint8Array.from([0x2b, 0x11, 0x88, 0x00]));
    expect(cfg).toMatchObject({ objectType: 2, sampleRate: 24000, extensionSampleRate: 48000, channelConfig: 2 });
  });

  it('maps an explicit 24-bit frequency to the nearest index', () => {
    // object type 2, index 15, frequency 44100 (0x00AC44), channels 2
    const b = [0b00010111, 0b10000000, 0b01010110, 0b00100010, 0b00010000];
    const cfg = parseAudioSpecificConfig(Uint8Array.from(b));
    expect(cfg.sampleRate).toBe(44100);
    expect(cfg.frequencyIndex).toBe(4);
    expect(cfg.channelConfig).toBe(2);
  });

  it('rejects configs ADTS cannot carry and short input', () => {
    expect(() => parseAudioSpecificConfig(Uint8Array.from([0x12]))).toThrow(/shorter/);
    // object type 23 (ER AAC LD)
    expect(() => parseAudioSpecificConfig(Uint8Array.from([0xba, 0x10]))).toThrow(/ADTS/);
    // reserved frequency index 13
    expect(() => parseAudioSpecificConfig(Uint8Array.from([0x16, 0x90]))).toThrow(/frequency/);
  });

  it('compares configs', () => {
    const a = parseAudioSpecificConfig(Uint8Array.from([0x12, 0x10]));
    expect(sameAacConfig(a, parseAudioSpecificConfig(Uint8Array.from([0x12, 0x10])))).toBe(true);
    expect(sameAacConfig(a, parseAudioSpecificConfig(Uint8Array.from([0x11, 0x88])))).toBe(false);
  });
});

describe('writeAdtsHeader', () => {
  it('writes sync word, profile, frequency, channels and frame length', () => {
    const h = new Uint8Array(7);
    writeAdtsHeader(h, 0, parseAudioSpecificConfig(Uint8Array.from([0x12, 0x10])), 371);
    expect(readAdts(h)).toEqual({
      sync: 0xfff, protectionAbsent: 1, profile: 1, frequencyIndex: 4, channels: 2, frameLength: 378, fullness: 0x7ff,
    });
  });

  it('encodes channel configurations above 3 across the byte boundary', () => {
    const h = new Uint8Array(7);
    writeAdtsHeader(h, 0, { objectType: 2, frequencyIndex: 3, sampleRate: 48000, channelConfig: 6 }, 1000);
    expect(readAdts(h).channels).toBe(6);
    expect(readAdts(h).frameLength).toBe(1007);
  });

  it('refuses frames longer than 13 bits allow', () => {
    expect(() => writeAdtsHeader(new Uint8Array(7), 0, { objectType: 2, frequencyIndex: 4, sampleRate: 44100, channelConfig: 2 }, 9000)).toThrow(RangeError);
  });
});
