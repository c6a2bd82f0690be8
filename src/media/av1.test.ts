import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { av1C, av1Tags } from '../../scripts/lib/enhanced-flv.js';
import { fixture } from '../../scripts/lib/fixtures.js';
import { av1Level, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER, parseAv1CodecConfig, readLeb128, splitObus, withoutTemporalDelimiters } from './av1.js';
import { EX_CODED_FRAMES, EX_SEQUENCE_START, parseVideoTag } from './flv-tags.js';

/** An OBU with obu_has_size_field set. */
const obu = (type: number, payload: number[]) => [(type << 3) | 0x02, payload.length, ...payload];

let stream: Uint8Array;
beforeAll(async () => {
  stream = readFileSync(await fixture('av1-360p.obu'));
}, 60_000);

describe('AV1 bitstream pieces', () => {
  it('reads leb128 sizes of one and several bytes', () => {
    expect(readLeb128(Uint8Array.of(0x05), 0)).toEqual([5, 1]);
    expect(readLeb128(Uint8Array.of(0xe5, 0x8e, 0x26), 0)).toEqual([624485, 3]);
    expect(() => readLeb128(Uint8Array.of(0x80), 0)).toThrow('truncated leb128');
  });

  it('splits OBUs and leaves temporal delimiters out of a sample', () => {
    const tu = Uint8Array.from([...obu(OBU_TEMPORAL_DELIMITER, []), ...obu(6, [1, 2, 3])]);
    expect(splitObus(tu).map((o) => o.type)).toEqual([OBU_TEMPORAL_DELIMITER, 6]);
    expect(withoutTemporalDelimiters(tu)).toEqual(Uint8Array.from(obu(6, [1, 2, 3])));
    const plain = Uint8Array.from(obu(6, [9]));
    expect(withoutTemporalDelimiters(plain)).toBe(plain);
    expect(() => splitObus(Uint8Array.from([0x32, 9, 1]))).toThrow('overruns');
    expect(() => splitObus(Uint8Array.from([0x80]))).toThrow('forbidden bit');
  });

  it('parses the av1C of an SVT-AV1 stream: 640x360, Main, level 2.1', () => {
    const seq = splitObus(stream).find((o) => o.type === OBU_SEQUENCE_HEADER)!;
    const record = av1C(stream.subarray(seq.start, seq.end));
    const config = parseAv1CodecConfig(record);
    expect(config.info).toMatchObject({ profile: 0, width: 640, height: 360 });
    expect(av1Level(config.info.levelIdx)).toBe(2.1);
    expect(config.record).toEqual(record);
    expect(config.paramSets).toEqual([new Uint8Array(stream.subarray(seq.start, seq.end))]);
  });

  it('refuses a broken av1C with a reason', () => {
    expect(() => parseAv1CodecConfig(Uint8Array.of(0x81, 0))).toThrow('too short');
    expect(() => parseAv1CodecConfig(Uint8Array.of(0x01, 0, 0, 0))).toThrow('marker/version');
    expect(() => parseAv1CodecConfig(Uint8Array.of(0x81, 0, 0, 0, ...obu(6, [1])))).toThrow('no sequence header');
  });
});

describe("Enhanced RTMP 'av01' tags", () => {
  it('reads SequenceStart and CodedFrames (no composition time for AV1), keyframes from the frame type', () => {
    const tags = av1Tags(stream, 25);
    const start = parseVideoTag(tags[0]!.data);
    expect(tags[0]!.data[0]).toBe(0x90 | EX_SEQUENCE_START);
    expect(start.kind).toBe('av1-config');
    const frames = tags.slice(1).map((t) => parseVideoTag(t.data));
    expect(frames.every((f) => f.kind === 'av1-frame' && f.cts === 0)).toBe(true);
    // the frame bytes start right after the FourCC
    expect(frames[0]).toMatchObject({ kind: 'av1-frame', keyframe: true, data: tags[1]!.data.subarray(5) });
    expect(tags[1]!.data[0]).toBe(0x90 | EX_CODED_FRAMES);
    expect(frames.filter((f) => f.kind === 'av1-frame' && f.keyframe)).toHaveLength(6); // a 1 s GOP over 6 s
  });
});
