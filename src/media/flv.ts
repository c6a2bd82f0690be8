/** FLV container: file-level demuxing (header + tags) and a writer used by tools and tests. */

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;

export interface FlvTag {
  type: number;
  /** Milliseconds, 32-bit (timestamp + extended byte). */
  timestamp: number;
  data: Uint8Array;
}

export class FlvFormatError extends Error {}

const FLV_HEADER_MIN = 9;
const TAG_HEADER = 11;
/** Tags above this size are treated as corruption rather than buffered. */
export const MAX_FLV_TAG_SIZE = 8 * 1024 * 1024;

/**
 * Incremental FLV demuxer: feed arbitrary chunks, get complete tags back.
 * Tags that lie inside one chunk are returned as views of it (no copy); only a tag
 * split across chunks is assembled into its own buffer. Returned payloads are never
 * overwritten, but a view keeps its chunk alive, so copy what you keep for long.
 */
export class FlvDemuxer {
  private headerDone = false;
  /** An incomplete unit (file header or tag) carried over from the previous chunk. */
  private carry: Uint8Array = new Uint8Array(16);
  private carryLen = 0;

  push(input: Uint8Array): FlvTag[] {
    // A plain view: Buffer#subarray is a slow JS wrapper, and this makes one per tag.
    const chunk = new Uint8Array(input.buffer, input.byteOffset, input.length);
    const tags: FlvTag[] = [];
    let p = 0;
    while (this.carryLen > 0 && p < chunk.length) {
      const size = this.unitSize(this.carry, 0, this.carryLen);
      const want = size < 0 ? this.fixedHeaderSize() : size;
      if (want > this.carry.length) {
        const grown = new Uint8Array(want);
        grown.set(this.carry.subarray(0, this.carryLen));
        this.carry = grown;
      }
      const take = Math.min(want - this.carryLen, chunk.length - p);
      this.carry.set(chunk.subarray(p, p + take), this.carryLen);
      this.carryLen += take;
      p += take;
      if (size >= 0 && this.carryLen === size) {
        const unit = this.carry;
        this.carry = new Uint8Array(16); // the returned tag keeps the old buffer
        this.carryLen = 0;
        this.consume(unit, 0, tags);
      }
    }
    while (p < chunk.length) {
      const size = this.unitSize(chunk, p, chunk.length - p);
      if (size < 0 || p + size > chunk.length) break;
      p = this.consume(chunk, p, tags);
    }
    if (p < chunk.length) {
      const rest = chunk.length - p;
      if (rest > this.carry.length) this.carry = new Uint8Array(Math.max(rest, this.unitSize(chunk, p, rest)));
      this.carry.set(chunk.subarray(p), 0);
      this.carryLen = rest;
    }
    return tags;
  }

  /** Bytes received but not yet forming a whole tag. */
  get pendingBytes(): number {
    return this.carryLen;
  }

  private fixedHeaderSize(): number {
    return this.headerDone ? TAG_HEADER : FLV_HEADER_MIN;
  }

  /** Total size of the unit starting at `p` (header and trailing PreviousTagSize), or -1 if not yet known. */
  private unitSize(b: Uint8Array, p: number, available: number): number {
    if (!this.headerDone) {
      if (available < FLV_HEADER_MIN) return -1;
      if (b[p] !== 0x46 || b[p + 1] !== 0x4c || b[p + 2] !== 0x56) throw new FlvFormatError('not an FLV file (missing "FLV" signature)');
      const headerSize = ((b[p + 5]! << 24) | (b[p + 6]! << 16) | (b[p + 7]! << 8) | b[p + 8]!) >>> 0;
      if (headerSize < FLV_HEADER_MIN || headerSize > 1024) throw new FlvFormatError(`bad FLV header size ${headerSize}`);
      return headerSize + 4;
    }
    if (available < TAG_HEADER) return -1;
    const size = (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    if (size > MAX_FLV_TAG_SIZE) throw new FlvFormatError(`FLV tag of ${size} bytes exceeds the limit`);
    return TAG_HEADER + size + 4;
  }

  /** Consumes the complete unit at `p`; returns the offset after it. */
  private consume(b: Uint8Array, p: number, tags: FlvTag[]): number {
    const size = this.unitSize(b, p, b.length - p);
    if (!this.headerDone) {
      this.headerDone = true;
      return p + size;
    }
    const type = b[p]! & 0x1f;
    const filtered = (b[p]! & 0x20) !== 0;
    const timestamp = ((b[p + 7]! << 24) | (b[p + 4]! << 16) | (b[p + 5]! << 8) | b[p + 6]!) >>> 0;
    if (!filtered) tags.push({ type, timestamp, data: b.subarray(p + TAG_HEADER, p + size - 4) });
    return p + size;
  }
}

export function parseFlv(file: Uint8Array): FlvTag[] {
  const demuxer = new FlvDemuxer();
  const tags = demuxer.push(file);
  if (demuxer.pendingBytes > 0) throw new FlvFormatError(`FLV truncated: ${demuxer.pendingBytes} trailing bytes`);
  return tags;
}

/** Serialises tags into an FLV file (audio+video flags set). */
export function writeFlv(tags: readonly FlvTag[]): Buffer {
  let total = 13;
  for (const t of tags) total += TAG_HEADER + t.data.length + 4;
  const out = Buffer.allocUnsafe(total);
  out.set([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0], 0);
  let o = 13;
  for (const t of tags) {
    const size = t.data.length;
    out[o] = t.type;
    out.writeUIntBE(size, o + 1, 3);
    out.writeUIntBE(t.timestamp & 0xffffff, o + 4, 3);
    out[o + 7] = (t.timestamp >>> 24) & 0xff;
    out.writeUIntBE(0, o + 8, 3);
    out.set(t.data, o + TAG_HEADER);
    out.writeUInt32BE(TAG_HEADER + size, o + TAG_HEADER + size);
    o += TAG_HEADER + size + 4;
  }
  return out;
}
