/**
 * Splits a byte stream of concatenated JPEG images (ffmpeg's image2pipe) into whole images,
 * by walking the markers: segment lengths up to the scan, then entropy-coded data (where 0xFF
 * is followed by 0x00 or a restart marker) up to the next marker, until EOI.
 */
export class JpegSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** Where parsing of the image at the start of `buf` stands. */
  private pos = 0;
  private inScan = false;

  /** Feeds bytes; returns the images they complete. Throws when the stream is not JPEG. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const images: Buffer[] = [];
    for (let end = this.imageEnd(); end > 0; end = this.imageEnd()) {
      images.push(Buffer.from(this.buf.subarray(0, end)));
      this.buf = this.buf.subarray(end);
      this.pos = 0;
      this.inScan = false;
    }
    return images;
  }

  /** Bytes of an unfinished image. */
  get pending(): number {
    return this.buf.length;
  }

  /** Length of the complete image at the start of `buf`, or -1 when more bytes are needed. */
  private imageEnd(): number {
    const b = this.buf;
    if (this.pos === 0) {
      if (b.length < 2) return -1;
      if (b[0] !== 0xff || b[1] !== 0xd8) throw new Error('not a JPEG stream (no SOI marker)');
      this.pos = 2;
    }
    for (;;) {
      if (this.inScan) {
        const ff = b.indexOf(0xff, this.pos);
        if (ff < 0 || ff + 1 >= b.length) {
          this.pos = ff < 0 ? b.length : ff;
          return -1;
        }
        const next = b[ff + 1]!;
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
          this.pos = ff + 2;
          continue;
        }
        this.pos = ff;
        this.inScan = false;
      }
      if (this.pos + 2 > b.length) return -1;
      if (b[this.pos] !== 0xff) throw new Error(`JPEG stream: expected a marker at byte ${this.pos}`);
      const marker = b[this.pos + 1]!;
      if (marker === 0xff) {
        this.pos++; // fill byte
        continue;
      }
      if (marker === 0xd9) return this.pos + 2; // EOI
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        this.pos += 2;
        continue;
      }
      if (this.pos + 4 > b.length) return -1;
      const length = b.readUInt16BE(this.pos + 2);
      if (length < 2) throw new Error(`JPEG stream: segment length ${length} at byte ${this.pos}`);
      if (this.pos + 2 + length > b.length) return -1;
      this.pos += 2 + length;
      if (marker === 0xda) this.inScan = true; // SOS: entropy-coded data follows
    }
  }
}
