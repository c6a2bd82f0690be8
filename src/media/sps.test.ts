import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildSps } from '../../test/support/bit-writer.js';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { parseAvcDecoderConfig } from './avc.js';
import { BitReader, unescapeRbsp } from './bit-reader.js';
import { parseFlv } from './flv.js';
import { parseVideoTag } from './flv-tags.js';
import { parseSps, profileName } from './sps.js';

describe('BitReader', () => {
  it('reads fixed fields and Exp-Golomb codes', () => {
    // 1 | 010 (ue=1) | 011 (ue=2 → se=-1) | 00100 (ue=3) → 1010 0110 0100 ....
    const r = new BitReader(Uint8Array.from([0b10100110, 0b01000000]));
    expect(r.readBit()).toBe(1);
    expect(r.readUE()).toBe(1);
    expect(r.readSE()).toBe(-1);
    expect(r.readUE()).toBe(3);
  });

  it('throws instead of reading past the end', () => {
    const r = new BitReader(Uint8Array.from([0]));
    expect(() => r.readUE()).toThrow(RangeError);
  });

  it('strips emulation-prevention bytes', () => {
    expect([...unescapeRbsp(Uint8Array.from([0, 0, 3, 1, 0, 0, 3, 0, 5]))]).toEqual([0, 0, 1, 0, 0, 0, 5]);
  });
});

describe('parseSps', () => {
  it('computes 1920x1080 from 1088 lines with bottom cropping', () => {
    const sps = parseSps(buildSps({ profileIdc: 100, levelIdc: 40, widthMbs: 120, heightMapUnits: 68, crop: [0, 0, 0, 4] }));
    expect(sps).toMatchObject({ width: 1920, height: 1080, profileIdc: 100, levelIdc: 40, chromaFormatIdc: 1 });
    expect(sps.frameRate).toBeUndefined();
    expect(profileName(sps.profileIdc)).toBe('High');
  });

  it('applies cropping on all sides and interlaced (field) map units', () => {
    const sps = parseSps(
      buildSps({ profileIdc: 77, levelIdc: 30, widthMbs: 45, heightMapUnits: 18, frameMbsOnly: false, crop: [2, 3, 1, 1] }),
    );
    // width 720 - 2*(2+3) = 710; height 2*18*16 = 576 - 2*2*(1+1) = 568
    expect(sps.width).toBe(710);
    expect(sps.height).toBe(568);
  });

  it('reads frame rate and sample aspect ratio from VUI', () => {
    const sps = parseSps(
      buildSps({ profileIdc: 66, levelIdc: 31, widthMbs: 80, heightMapUnits: 45, timing: { unitsInTick: 1001, timeScale: 60000 }, sar: 1 }),
    );
    expect(sps.width).toBe(1280);
    expect(sps.height).toBe(720);
    expect(sps.frameRate).toBeCloseTo(29.97, 2);
    expect([sps.sarWidth, sps.sarHeight]).toEqual([1, 1]);
  });

  it('skips scaling matrices and POC type 1 fields', () => {
    const sps = parseSps(
      buildSps({ profileIdc: 100, levelIdc: 41, widthMbs: 40, heightMapUnits: 30, scalingMatrix: true, pocType: 1 }),
    );
    expect([sps.width, sps.height]).toEqual([640, 480]);
  });

  it('survives emulation-prevention bytes inside the SPS', () => {
    const nal = buildSps({ profileIdc: 66, levelIdc: 10, widthMbs: 1, heightMapUnits: 1, timing: { unitsInTick: 1, timeScale: 0x200 } });
    expect(nal.some((b, i) => i > 1 && b === 3 && nal[i - 1] === 0 && nal[i - 2] === 0)).toBe(true);
    expect(parseSps(nal).frameRate).toBe(256);
  });

  it('rejects non-SPS and truncated input with an error, not a crash', () => {
    expect(() => parseSps(Uint8Array.from([0x68, 1, 2, 3]))).toThrow(/not an SPS/);
    const full = buildSps({ profileIdc: 100, levelIdc: 40, widthMbs: 120, heightMapUnits: 68 });
    expect(() => parseSps(full.subarray(0, 5))).toThrow();
  });

  it('parses the SPS of the 720p fixture (x264 main profile)', () => {
    const tags = parseFlv(readFileSync(`${FIXTURE_DIR}/main.flv`));
    const header = tags.map((t) => (t.type === 9 ? parseVideoTag(t.data) : undefined)).find((v) => v?.kind === 'avc-config');
    if (header?.kind !== 'avc-config') throw new Error('fixture has no AVC sequence header');
    const config = parseAvcDecoderConfig(header.data);
    expect(config.info).toMatchObject({ width: 1280, height: 720, profileIdc: 77 });
    expect(config.lengthSize).toBe(4);
  });
});
