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
 * Returned tag payloads are views into internal buffers; they stay valid (they are never
 * overwritten) but may keep a chunk alive, so copy what you keep for long.
 */
export class FlvDemuxer {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private headerDone = false;

  push(chunk: Uint8Array): FlvTag[] {
    if (this.pos < this.buf.length) {
      const rest = this.buf.subarray(this.pos);
      const merged = new Uint8Array(rest.length + chunk.length);
      merged.set(rest, 0);
      merged.set(chunk, rest.length);
      this.buf = merged;
    } else {
      this.buf = chunk;
    }
    this.pos = 0;
    const tags: FlvTag[] = [];
    const b = this.buf;
    if (!this.headerDone) {
      if (b.length < FLV_HEADER_MIN) return tags;
      if (b[0] !== 0x46 || b[1] !== 0x4c || b[2] !== 0x56) throw new FlvFormatError('not an FLV file (missing "FLV" signature)');
      const headerSize = ((b[5]! << 24) | (b[6]! << 16) | (b[7]! << 8) | b[8]!) >>> 0;
      if (headerSize < FLV_HEADER_MIN || headerSize > 1024) throw new FlvFormatError(`bad FLV header size ${headerSize}`);
      if (b.length < headerSize + 4) return tags;
      this.pos = headerSize + 4; // header + PreviousTagSize0
      this.headerDone = true;
    }
    while (this.pos + TAG_HEADER <= b.length) {
      const p = this.pos;
      const type = b[p]! & 0x1f;
      const filtered = (b[p]! & 0x20) !== 0;
      const size = (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
      if (size > MAX_FLV_TAG_SIZE) throw new FlvFormatError(`FLV tag of ${size} bytes exceeds the limit`);
      const end = p + TAG_HEADER + size + 4;
      if (end > b.length) break;
      const timestamp = ((b[p + 7]! << 24) | (b[p + 4]! << 16) | (b[p + 5]! << 8) | b[p + 6]!) >>> 0;
      if (!filtered) tags.push({ type, timestamp, data: b.subarray(p + TAG_HEADER, p + TAG_HEADER + size) });
      this.pos = end;
    }
    return tags;
  }

  /** Bytes received but not yet forming a whole tag. */
  get pendingBytes(): number {
    return this.buf.length - this.pos;
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
