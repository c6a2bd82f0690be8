import { describe, expect, it } from 'vitest';
import { JpegSplitter } from './jpeg-splitter.js';

/** A JPEG's marker structure: SOI, a segment, SOS, entropy data with stuffed 0xFF and a restart marker, EOI. */
function fakeJpeg(tag: number): Buffer {
  return Buffer.from([
    0xff, 0xd8,
    0xff, 0xe0, 0x00, 0x06, 0xff, 0xd9, tag, 0x00, // APP0 whose payload holds FF D9: not an end
    0xff, 0xff, // a fill byte before the next marker
    0xda, 0x00, 0x04, 0x01, 0x02, // SOS
    0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56, tag, // entropy data: stuffed FF, RST3
    0xff, 0xd9,
  ]);
}

describe('JpegSplitter', () => {
  it('splits concatenated images however the bytes arrive', () => {
    const stream = Buffer.concat([fakeJpeg(1), fakeJpeg(2), fakeJpeg(3)]);
    for (const step of [1, 2, 3, 7, stream.length]) {
      const splitter = new JpegSplitter();
      const images: Buffer[] = [];
      for (let i = 0; i < stream.length; i += step) images.push(...splitter.push(stream.subarray(i, i + step)));
      expect(images, `chunks of ${step}`).toEqual([fakeJpeg(1), fakeJpeg(2), fakeJpeg(3)]);
      expect(splitter.pending).toBe(0);
    }
  });

  it('keeps an unfinished image until its end arrives', () => {
    const splitter = new JpegSplitter();
    const image = fakeJpeg(9);
    expect(splitter.push(image.subarray(0, 20))).toEqual([]);
    expect(splitter.pending).toBe(20);
    expect(splitter.push(image.subarray(20))).toEqual([image]);
  });

  it('refuses what is not JPEG', () => {
    expect(() => new JpegSplitter().push(Buffer.from('not a jpeg'))).toThrow(/SOI/);
    expect(() => new JpegSplitter().push(Buffer.from([0xff, 0xd8, 0x12, 0x34]))).toThrow(/marker/);
  });
});
