/**
 * MPEG-TS (ISO/IEC 13818-1) to elementary-stream packets: what an SRT publisher sends. Pure:
 * bytes in, PES packets out. It finds the programme through the PAT and the PMT, gathers each
 * elementary stream's PES packets across TS packets, and reads their PTS and DTS. Loss shows
 * as a continuity-counter gap: the PES being gathered is dropped (never handed on half-built)
 * and the next one of that stream says `discontinuity`.
 */

export const TS_PACKET = 188;
const SYNC = 0x47;
const PID_PAT = 0;

/** Stream types this gateway takes (ISO/IEC 13818-1 table 2-34 and its amendments). */
export const STREAM_H264 = 0x1b;
export const STREAM_HEVC = 0x24;
export const STREAM_AAC_ADTS = 0x0f;

export interface PesPacket {
  pid: number;
  streamType: number;
  /** 90 kHz, 33 bits, as sent (no unwrapping here). */
  pts: number;
  dts: number;
  data: Uint8Array;
  /** Packets of this stream were lost (or the stream jumped) before this one. */
  discontinuity: boolean;
  /** The adaptation field's random_access_indicator on the PES's first TS packet. */
  randomAccess: boolean;
}

export interface DemuxNotice {
  kind: 'unsupported-stream' | 'continuity' | 'resync' | 'bad-pes';
  pid: number;
  detail: string;
}

interface Gathering {
  streamType: number;
  chunks: Uint8Array[];
  size: number;
  /** Continuity counter last seen, -1 before any. */
  cc: number;
  started: boolean;
  lost: boolean;
  randomAccess: boolean;
}

export class TsDemuxer {
  private pending = new Uint8Array(0);
  private pmtPid: number | undefined;
  private readonly streams = new Map<number, Gathering>();
  private readonly unsupported = new Set<number>();
  private readonly out: PesPacket[] = [];
  /** What was odd since the last take (one notice per stream and kind). */
  readonly notices: DemuxNotice[] = [];

  /** Feeds bytes (any chunking); returns the PES packets completed by them, in order. */
  push(bytes: Uint8Array): PesPacket[] {
    let data = bytes;
    if (this.pending.length > 0) {
      data = new Uint8Array(this.pending.length + bytes.length);
      data.set(this.pending);
      data.set(bytes, this.pending.length);
    }
    let p = 0;
    while (p + TS_PACKET <= data.length) {
      if (data[p] !== SYNC) {
        const next = data.indexOf(SYNC, p + 1);
        this.notice('resync', -1, `lost TS sync: skipped ${(next < 0 ? data.length : next) - p} bytes`);
        if (next < 0) {
          p = data.length;
          break;
        }
        p = next;
        continue;
      }
      this.packet(data.subarray(p, p + TS_PACKET));
      p += TS_PACKET;
    }
    this.pending = p < data.length ? data.slice(p) : new Uint8Array(0);
    return this.out.splice(0);
  }

  /**
   * The PES packets still being gathered (the stream ended). `unbounded`: also those that do
   * not declare their length (video), which may have been cut short; without it only the ones
   * whose declared length arrived whole (audio) are handed on.
   */
  flush(unbounded = true): PesPacket[] {
    for (const [pid, s] of this.streams) this.finish(pid, s, unbounded);
    return this.out.splice(0);
  }

  private notice(kind: DemuxNotice['kind'], pid: number, detail: string): void {
    if (this.notices.length < 100) this.notices.push({ kind, pid, detail });
  }

  private packet(ts: Uint8Array): void {
    const pusi = (ts[1]! & 0x40) !== 0;
    const pid = ((ts[1]! & 0x1f) << 8) | ts[2]!;
    const afc = (ts[3]! >> 4) & 3;
    const cc = ts[3]! & 0x0f;
    let p = 4;
    let randomAccess = false;
    let discontinuityIndicator = false;
    if (afc & 2) {
      const len = ts[4]!;
      if (len > 0) {
        discontinuityIndicator = (ts[5]! & 0x80) !== 0;
        randomAccess = (ts[5]! & 0x40) !== 0;
      }
      p = 5 + len;
    }
    if (!(afc & 1) || p >= TS_PACKET) return;
    const payload = ts.subarray(p);
    if (pid === PID_PAT) return this.pat(payload, pusi);
    if (pid === this.pmtPid) return this.pmt(payload, pusi);
    const s = this.streams.get(pid);
    if (!s) return;
    if (s.cc >= 0 && !discontinuityIndicator && cc !== ((s.cc + 1) & 0x0f)) {
      if (cc === s.cc) return; // a duplicate packet, allowed once
      this.notice('continuity', pid, `continuity counter ${s.cc} → ${cc}: packets lost`);
      s.lost = true;
      s.chunks = [];
      s.size = 0;
      s.started = false;
    }
    s.cc = cc;
    if (pusi) {
      this.finish(pid, s);
      s.started = true;
      s.randomAccess = randomAccess;
    }
    if (!s.started) return;
    s.chunks.push(payload);
    s.size += payload.length;
  }

  /** Hands on the PES gathered for `pid`, if a whole one was. */
  private finish(pid: number, s: Gathering, unbounded = true): void {
    if (!s.started || s.size === 0) return;
    if (!unbounded && s.size >= 6 && s.chunks[0]!.length >= 6 && ((s.chunks[0]![4]! << 8) | s.chunks[0]![5]!) === 0) return;
    const bytes = new Uint8Array(s.size);
    let at = 0;
    for (const c of s.chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    s.chunks = [];
    s.size = 0;
    s.started = false;
    const pes = parsePes(bytes);
    if (typeof pes === 'string') {
      this.notice('bad-pes', pid, pes);
      s.lost = true;
      return;
    }
    this.out.push({ pid, streamType: s.streamType, ...pes, discontinuity: s.lost, randomAccess: s.randomAccess });
    s.lost = false;
  }

  /** A PSI section's bytes (pointer field skipped), or undefined when it does not start here. */
  private section(payload: Uint8Array, pusi: boolean): Uint8Array | undefined {
    if (!pusi) return undefined; // PAT and PMT fit in one packet in practice
    const start = 1 + payload[0]!;
    if (start + 3 > payload.length) return undefined;
    const len = ((payload[start + 1]! & 0x0f) << 8) | payload[start + 2]!;
    return payload.subarray(start, Math.min(payload.length, start + 3 + len));
  }

  private pat(payload: Uint8Array, pusi: boolean): void {
    const s = this.section(payload, pusi);
    if (!s || s[0] !== 0x00) return;
    // programs from byte 8 to the CRC: the first with a programme number other than 0 (NIT)
    for (let p = 8; p + 4 <= s.length - 4; p += 4) {
      const program = (s[p]! << 8) | s[p + 1]!;
      if (program !== 0) {
        this.pmtPid = ((s[p + 2]! & 0x1f) << 8) | s[p + 3]!;
        return;
      }
    }
  }

  private pmt(payload: Uint8Array, pusi: boolean): void {
    const s = this.section(payload, pusi);
    if (!s || s[0] !== 0x02 || s.length < 12) return;
    const infoLen = ((s[10]! & 0x0f) << 8) | s[11]!;
    for (let p = 12 + infoLen; p + 5 <= s.length - 4; ) {
      const type = s[p]!;
      const pid = ((s[p + 1]! & 0x1f) << 8) | s[p + 2]!;
      const esInfo = ((s[p + 3]! & 0x0f) << 8) | s[p + 4]!;
      p += 5 + esInfo;
      if (type === STREAM_H264 || type === STREAM_HEVC || type === STREAM_AAC_ADTS) {
        if (!this.streams.has(pid)) this.streams.set(pid, { streamType: type, chunks: [], size: 0, cc: -1, started: false, lost: false, randomAccess: false });
      } else if (!this.unsupported.has(pid)) {
        this.unsupported.add(pid);
        this.notice('unsupported-stream', pid, `stream type 0x${type.toString(16)} is not taken (H.264, HEVC and AAC in ADTS are)`);
      }
    }
  }
}

/** A PES packet's timestamps and payload, or why it cannot be read. */
export function parsePes(b: Uint8Array): { pts: number; dts: number; data: Uint8Array } | string {
  if (b.length < 9 || b[0] !== 0 || b[1] !== 0 || b[2] !== 1) return 'no PES start code';
  const flags = b[7]!;
  const headerLen = b[8]!;
  if (9 + headerLen > b.length) return 'PES header longer than the packet';
  if (!(flags & 0x80)) return 'PES without a PTS';
  const pts = readTimestamp(b, 9);
  const dts = (flags & 0xc0) === 0xc0 ? readTimestamp(b, 14) : pts;
  const declared = (b[4]! << 8) | b[5]!;
  // a declared length shorter than what arrived: the rest is stuffing; 0 (video): unbounded
  if (declared > 0 && 6 + declared > b.length) return 'PES shorter than its declared length';
  const end = declared > 0 ? 6 + declared : b.length;
  return { pts, dts, data: b.subarray(9 + headerLen, end) };
}

/** A 33-bit PES timestamp from its five bytes (the marker bits skipped). */
function readTimestamp(b: Uint8Array, p: number): number {
  return (b[p]! & 0x0e) * 536870912 + b[p + 1]! * 4194304 + (b[p + 2]! >> 1) * 32768 + b[p + 3]! * 128 + (b[p + 4]! >> 1);
}
