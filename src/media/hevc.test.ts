import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { annexBNalUnits, hevcTags, hvcC } from '../../scripts/lib/enhanced-flv.js';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { ffmpegWarnings, probeStreams } from '../../test/support/media-tools.js';
import { runPackager, writeSegments } from '../../test/support/packager-run.js';
import { EX_CODED_FRAMES, EX_SEQUENCE_START, parseVideoTag } from './flv-tags.js';
import type { FlvTag } from './flv.js';
import { hevcNalType, parseHevcDecoderConfig, parseHevcSps } from './hevc.js';

let annexB: Buffer;
let tags: FlvTag[];

beforeAll(() => {
  annexB = readFileSync(`${FIXTURE_DIR}/hevc-360p.hevc`);
  tags = hevcTags(annexB, 25);
});

const nal = (type: number) => annexBNalUnits(annexB).find((n) => hevcNalType(n[0]!) === type)!;
const ex = (b0: number, fourcc: string, body: number[] = []) => Uint8Array.from([b0, ...Buffer.from(fourcc, 'latin1'), ...body]);

describe('HEVC parameter sets', () => {
  it("reads x265's SPS and an hvcC built from its parameter sets", () => {
    expect(parseHevcSps(nal(33))).toMatchObject({ profileIdc: 1, width: 640, height: 360, chromaFormatIdc: 1 });
    const config = parseHevcDecoderConfig(hvcC(nal(32), nal(33), nal(34)));
    expect(config).toMatchObject({ codec: 'H265', lengthSize: 4, profileIdc: 1, info: { width: 640, height: 360 } });
    expect(config.paramSets.map((p) => hevcNalType(p[0]!))).toEqual([32, 33, 34]);
  });

  it('refuses broken records with a reason', () => {
    expect(() => parseHevcDecoderConfig(Uint8Array.from([1, 2, 3]))).toThrow(/too short/);
    const record = hvcC(nal(32), nal(33), nal(34));
    expect(() => parseHevcDecoderConfig(record.subarray(0, record.length - 3))).toThrow(/overruns/);
    const noPps = Uint8Array.from(record);
    noPps[22] = 2; // only the VPS and SPS arrays
    expect(() => parseHevcDecoderConfig(noPps.subarray(0, record.length - 5 - nal(34).length))).toThrow(/no PPS/);
  });
});

describe('Enhanced RTMP video tags', () => {
  it('reads hvc1 sequence starts and coded frames, with and without a composition offset', () => {
    expect(parseVideoTag(ex(0x90 | EX_SEQUENCE_START, 'hvc1', [1, 2]))).toEqual({ kind: 'hevc-config', data: Uint8Array.from([1, 2]) });
    expect(parseVideoTag(ex(0x90 | EX_CODED_FRAMES, 'hvc1', [0, 0, 40, 9]))).toEqual({ kind: 'hevc-frame', keyframe: true, cts: 40, data: Uint8Array.from([9]) });
    expect(parseVideoTag(ex(0xa0 | EX_CODED_FRAMES, 'hvc1', [0xff, 0xff, 0xf6, 9]))).toMatchObject({ keyframe: false, cts: -10 });
    expect(parseVideoTag(ex(0xa3, 'hvc1', [7, 8]))).toEqual({ kind: 'hevc-frame', keyframe: false, cts: 0, data: Uint8Array.from([7, 8]) });
  });

  it('skips ModEx prefixes, ignores sequence end, metadata and command frames', () => {
    // ModEx (7) with 2 bytes of data, then the real packet type CodedFramesX (3)
    const modEx = Uint8Array.from([0x97, 1, 0xaa, 0xbb, 0x03, ...Buffer.from('hvc1'), 5, 6]);
    expect(parseVideoTag(modEx)).toMatchObject({ kind: 'hevc-frame', keyframe: true, data: Uint8Array.from([5, 6]) });
    expect(parseVideoTag(ex(0x92, 'hvc1')).kind).toBe('ignored');
    expect(parseVideoTag(ex(0x94, 'hvc1', [2, 0, 0])).kind).toBe('ignored');
    expect(parseVideoTag(Uint8Array.from([0xd1, 0])).kind).toBe('ignored');
  });

  it('names what it does not take, and says what is broken', () => {
    expect(parseVideoTag(ex(0x90, 'vp09'))).toEqual({ kind: 'unsupported', codec: 'VP9' });
    expect(parseVideoTag(ex(0x90, 'av01', [0x81, 0]))).toEqual({ kind: 'av1-config', data: Uint8Array.from([0x81, 0]) });
    expect(parseVideoTag(ex(0x90, 'vp09'))).toEqual({ kind: 'unsupported', codec: 'VP9' });
    expect(parseVideoTag(Uint8Array.from([0x96, 0, 1, 2]))).toEqual({ kind: 'unsupported', codec: 'enhanced-RTMP multitrack video' });
    expect(parseVideoTag(Uint8Array.from([0x91, 0x68]))).toMatchObject({ kind: 'malformed' });
    expect(parseVideoTag(ex(0x91, 'hvc1', [0]))).toMatchObject({ kind: 'malformed' });
    expect(parseVideoTag(Uint8Array.from([0x97, 5, 1]))).toMatchObject({ kind: 'malformed' });
  });
});

describe('LivePackager with HEVC', () => {
  it('cuts HEVC into TS segments (stream type 0x24) that ffmpeg decodes cleanly at the pushed size', async () => {
    const r = runPackager(tags, { fragDuration: 2, fragCount: 3 });
    expect(r.notices).toEqual([]);
    expect(r.segments.length).toBe(3);
    expect(r.packager.mediaInfo().video).toMatchObject({ codec: 'H265', width: 640, height: 360, profile: 'Main', level: expect.any(Number) });
    expect(r.segments.every((s) => s.startsWithIdr)).toBe(true);
    const { vod, paths } = writeSegments(r.segments);
    for (const p of paths) {
      expect(await ffmpegWarnings(p), p).toBe('');
      const [video] = await probeStreams(p);
      expect(video).toMatchObject({ codec_name: 'hevc', width: 640, height: 360 });
    }
    expect(await ffmpegWarnings(vod)).toBe('');
    // every segment starts with an AUD, then VPS, SPS, PPS and the IRAP picture
    const first = r.segments[0]!.data;
    const start = first.indexOf(Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]));
    expect(start).toBeGreaterThan(0);
    expect([first[start + 11], first[start + 11 + 4 + nal(32).length]]).toEqual([0x40, 0x42]);
  });

  it('takes CodedFrames with composition offsets the same way, and drops frames of another codec than the sequence header', () => {
    const withCts = runPackager(hevcTags(annexB, 25, { withCts: true }), { fragDuration: 2 });
    expect(withCts.segments.length).toBe(3);
    const avcFrame: FlvTag = { type: 9, timestamp: 2000, data: Uint8Array.from([0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]) };
    const mixed = runPackager([...tags.slice(0, 10), avcFrame, ...tags.slice(10)], { fragDuration: 2 });
    expect(mixed.packager.stats.droppedFrames).toBe(1);
  });
});
