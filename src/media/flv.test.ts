import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { FlvDemuxer, FlvFormatError, MAX_FLV_TAG_SIZE, parseFlv, TAG_VIDEO, writeFlv } from './flv.js';
import { parseAudioTag, parseVideoTag } from './flv-tags.js';

const file = () => readFileSync(`${FIXTURE_DIR}/main.flv`);

describe('FlvDemuxer', () => {
  it('gives the same tags whatever the chunking (1 byte to 70 kB pieces)', () => {
    const data = file();
    const whole = parseFlv(data);
    expect(whole.length).toBeGreaterThan(700);
    for (const size of [1, 7, 188, 4096, 70_000]) {
      const d = new FlvDemuxer();
      const tags = [];
      for (let o = 0; o < (size === 1 ? 60_000 : data.length); o += size) tags.push(...d.push(data.subarray(o, o + size)));
      const expected = size === 1 ? whole.slice(0, tags.length) : whole;
      expect(tags.map((t) => [t.type, t.timestamp, t.data.length])).toEqual(expected.map((t) => [t.type, t.timestamp, t.data.length]));
      expect(Buffer.compare(Buffer.from(tags.at(-1)!.data), Buffer.from(expected.at(-1)!.data))).toBe(0);
    }
  });

  it('round-trips through writeFlv, including extended (32-bit) timestamps', () => {
    const tags = [
      { type: 9, timestamp: 0x12345678, data: Uint8Array.from([0x17, 1, 0, 0, 0, 9]) },
      { type: 8, timestamp: 0xfffffff0, data: Uint8Array.from([0xaf, 1, 5]) },
    ];
    expect(parseFlv(writeFlv(tags)).map((t) => ({ ...t, data: [...t.data] }))).toEqual(tags.map((t) => ({ ...t, data: [...t.data] })));
  });

  it('rejects non-FLV input and absurd tag sizes with a clear error', () => {
    expect(() => new FlvDemuxer().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/not an FLV/);
    const bad = writeFlv([{ type: 9, timestamp: 0, data: new Uint8Array(4) }]);
    bad.writeUIntBE(MAX_FLV_TAG_SIZE + 1, 13 + 1, 3);
    expect(() => parseFlv(bad)).toThrow(FlvFormatError);
  });

  it('reports truncation', () => {
    const data = file();
    expect(() => parseFlv(data.subarray(0, 5000))).toThrow(/truncated/);
  });
});

describe('parseVideoTag', () => {
  it('reads a negative composition time as signed 24-bit', () => {
    const tag = parseVideoTag(Uint8Array.from([0x27, 1, 0xff, 0xff, 0xdf, 0, 0, 0, 1, 0x41]));
    expect(tag).toMatchObject({ kind: 'avc-frame', keyframe: false, cts: -33 });
  });

  it('reads positive composition times and keyframes', () => {
    expect(parseVideoTag(Uint8Array.from([0x17, 1, 0, 0, 67, 0]))).toMatchObject({ kind: 'avc-frame', keyframe: true, cts: 67 });
  });

  it('classifies sequence headers, end of sequence and command frames', () => {
    expect(parseVideoTag(Uint8Array.from([0x17, 0, 0, 0, 0, 1, 2])).kind).toBe('avc-config');
    expect(parseVideoTag(Uint8Array.from([0x17, 2, 0, 0, 0])).kind).toBe('ignored');
    expect(parseVideoTag(Uint8Array.from([0x57, 0])).kind).toBe('ignored');
  });

  it('names unsupported codecs instead of failing', () => {
    expect(parseVideoTag(Uint8Array.from([0x12, 0]))).toEqual({ kind: 'unsupported', codec: 'Sorenson H.263' });
    expect(parseVideoTag(Uint8Array.from([0x90, 0x76, 0x70, 0x30, 0x39]))).toEqual({ kind: 'unsupported', codec: 'VP9' });
    expect(parseVideoTag(Uint8Array.from([0x90, 0x78, 0x79, 0x7a, 0x31]))).toEqual({ kind: 'unsupported', codec: 'enhanced-RTMP "xyz1"' });
    expect(parseVideoTag(Uint8Array.from([0x1c, 0]))).toEqual({ kind: 'unsupported', codec: 'HEVC (legacy FLV)' });
  });

  it('flags malformed tags', () => {
    expect(parseVideoTag(new Uint8Array(0)).kind).toBe('malformed');
    expect(parseVideoTag(Uint8Array.from([0x17, 1])).kind).toBe('malformed');
    expect(parseVideoTag(Uint8Array.from([0x17, 7, 0, 0, 0])).kind).toBe('malformed');
  });

  it('decodes every video tag of the fixture', () => {
    const kinds = new Set(parseFlv(file()).filter((t) => t.type === TAG_VIDEO).map((t) => parseVideoTag(t.data).kind));
    expect([...kinds].sort()).toEqual(['avc-config', 'avc-frame', 'ignored']); // ends with end-of-sequence
  });
});

describe('parseAudioTag', () => {
  it('classifies AAC config and frames', () => {
    expect(parseAudioTag(Uint8Array.from([0xaf, 0, 0x12, 0x10]))).toMatchObject({ kind: 'aac-config' });
    expect(parseAudioTag(Uint8Array.from([0xaf, 1, 0x21]))).toMatchObject({ kind: 'aac-frame' });
  });

  it('names unsupported formats and flags malformed ones', () => {
    expect(parseAudioTag(Uint8Array.from([0x2f, 0xff]))).toEqual({ kind: 'unsupported', codec: 'MP3' });
    expect(parseAudioTag(Uint8Array.from([0xdf, 0]))).toEqual({ kind: 'unsupported', codec: 'Opus' });
    expect(parseAudioTag(Uint8Array.from([0xaf])).kind).toBe('malformed');
    expect(parseAudioTag(Uint8Array.from([0xaf, 9])).kind).toBe('malformed');
  });
});
