import { describe, expect, it } from 'vitest';
import { buildSps } from '../../test/support/bit-writer.js';
import { AccessUnitScan, parseAvcDecoderConfig, sameVideoConfig } from './avc.js';

const SPS = buildSps({ profileIdc: 77, levelIdc: 31, widthMbs: 80, heightMapUnits: 45 });
const PPS = Uint8Array.from([0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0]);

export function avcC(sps = SPS, pps = PPS, lengthSizeMinusOne = 3): Uint8Array {
  return Uint8Array.from([
    1, sps[1]!, sps[2]!, sps[3]!, 0xfc | lengthSizeMinusOne, 0xe1, sps.length >> 8, sps.length & 0xff, ...sps,
    1, pps.length >> 8, pps.length & 0xff, ...pps,
  ]);
}

function lengthPrefixed(nals: number[][], size = 4): Uint8Array {
  const out: number[] = [];
  for (const n of nals) {
    for (let i = size - 1; i >= 0; i--) out.push((n.length >> (8 * i)) & 0xff);
    out.push(...n);
  }
  return Uint8Array.from(out);
}

describe('parseAvcDecoderConfig', () => {
  it('extracts SPS, PPS, length size and picture size', () => {
    const c = parseAvcDecoderConfig(avcC());
    expect(c.lengthSize).toBe(4);
    expect([...c.sps[0]!]).toEqual([...SPS]);
    expect([...c.pps[0]!]).toEqual([...PPS]);
    expect([c.info.width, c.info.height]).toEqual([1280, 720]);
  });

  it('copies the parameter sets (the caller may reuse its buffer)', () => {
    const raw = avcC();
    const c = parseAvcDecoderConfig(raw);
    raw.fill(0);
    expect(c.sps[0]![0]).toBe(0x67);
  });

  it('rejects malformed records with a reason', () => {
    expect(() => parseAvcDecoderConfig(Uint8Array.from([1, 2, 3]))).toThrow(/shorter/);
    expect(() => parseAvcDecoderConfig(avcC().subarray(0, 12))).toThrow(/truncated/);
    expect(() => parseAvcDecoderConfig(avcC(SPS, PPS, 2))).toThrow(/3 bytes/);
    const noPps = avcC();
    noPps[8 + SPS.length] = 0;
    expect(() => parseAvcDecoderConfig(noPps.subarray(0, 9 + SPS.length))).toThrow(/no PPS/);
  });

  it('compares configurations', () => {
    const other = buildSps({ profileIdc: 77, levelIdc: 31, widthMbs: 40, heightMapUnits: 23 });
    expect(sameVideoConfig(parseAvcDecoderConfig(avcC()), parseAvcDecoderConfig(avcC()))).toBe(true);
    expect(sameVideoConfig(parseAvcDecoderConfig(avcC()), parseAvcDecoderConfig(avcC(other)))).toBe(false);
  });
});

describe('AccessUnitScan', () => {
  it('lists NALUs, finds IDR and in-band parameter sets, skips AUDs', () => {
    const s = new AccessUnitScan();
    const data = lengthPrefixed([[0x09, 0xf0], [...SPS], [...PPS], [0x06, 5, 1, 0x80], [0x65, 0x88, 0x84]]);
    expect(s.scan(data, 4)).toBeUndefined();
    expect([...s.types.subarray(0, s.count)]).toEqual([7, 8, 6, 5]);
    expect(s.hasIdr && s.hasSps && s.hasPps).toBe(true);
    expect(s.payloadBytes).toBe(SPS.length + PPS.length + 4 + 3);
  });

  it('handles 1- and 2-byte length prefixes and many NALUs', () => {
    const s = new AccessUnitScan();
    const slices = Array.from({ length: 200 }, () => [0x41, 0x9a, 0x00]);
    expect(s.scan(lengthPrefixed(slices, 2), 2)).toBeUndefined();
    expect(s.count).toBe(200);
    expect(s.hasIdr).toBe(false);
    expect(s.scan(lengthPrefixed([[0x65, 1]], 1), 1)).toBeUndefined();
    expect(s.hasIdr).toBe(true);
  });

  it('reports overruns and truncated prefixes', () => {
    const s = new AccessUnitScan();
    expect(s.scan(Uint8Array.from([0, 0, 0, 9, 0x65, 1]), 4)).toMatch(/overruns/);
    expect(s.scan(Uint8Array.from([0, 0, 0, 2, 0x65, 1, 0, 0]), 4)).toMatch(/truncated/);
  });
});
