/**
 * SRT packets (draft-sharabayko-srt, libsrt's wire format): the 16-byte header, the handshake
 * and its extensions, ACK, NAK and the other control packets a receiver sends or reads. Pure.
 */

export const CTRL_HANDSHAKE = 0x0000;
export const CTRL_KEEPALIVE = 0x0001;
export const CTRL_ACK = 0x0002;
export const CTRL_NAK = 0x0003;
export const CTRL_SHUTDOWN = 0x0005;
export const CTRL_ACKACK = 0x0006;
export const CTRL_DROPREQ = 0x0007;
export const CTRL_PEERERROR = 0x0008;
export const CTRL_USER = 0x7fff;

export const HS_INDUCTION = 1;
export const HS_CONCLUSION = 0xffffffff;
/** A rejection is the handshake type 1000 + reason (reasons ≥ 1000 are the server's own, e.g. 1403). */
export const HS_REJECT_BASE = 1000;
export const SRT_MAGIC = 0x4a17;

export const EXT_HSREQ = 1;
export const EXT_HSRSP = 2;
export const EXT_KMREQ = 3;
export const EXT_KMRSP = 4;
export const EXT_SID = 5;
/** Extension-field flags of a HSv5 conclusion. */
export const HSEXT_HSREQ = 1;
export const HSEXT_KMREQ = 2;
export const HSEXT_CONFIG = 4;

export const SRT_OPT_TSBPDSND = 1;
export const SRT_OPT_TSBPDRCV = 2;
export const SRT_OPT_HAICRYPT = 4;
export const SRT_OPT_TLPKTDROP = 8;
export const SRT_OPT_NAKREPORT = 16;
export const SRT_OPT_REXMITFLG = 32;

/** Rejection reasons of libsrt's own (SRT_REJECT_REASON) this listener gives. */
export const REJ_ROGUE = 4;
export const REJ_BADSECRET = 10;
export const REJ_UNSECURE = 11;
/** Access-control rejections (1000 + the HTTP status they mirror), as libsrt's access_control.h names them. */
export const REJX_BAD_REQUEST = 1400;
export const REJX_UNAUTHORIZED = 1401;
export const REJX_FORBIDDEN = 1403;
export const REJX_NOTFOUND = 1404;
export const REJX_BAD_MODE = 1405;
export const REJX_CONFLICT = 1409;
export const REJX_OVERLOAD = 1503;

export const SEQ_MAX = 0x7fffffff;

/** `a - b` in sequence space (31 bits, wrapping): how far `a` is ahead of `b`. */
export function seqDiff(a: number, b: number): number {
  let d = (a - b) | 0;
  d = ((d % 0x80000000) + 0x80000000) % 0x80000000;
  return d >= 0x40000000 ? d - 0x80000000 : d;
}

export const seqNext = (s: number, n = 1) => (s + n) & SEQ_MAX;

export interface DataPacket {
  control: false;
  seq: number;
  /** 0: not encrypted; 1: even key; 2: odd key. */
  keyIndex: number;
  retransmitted: boolean;
  timestamp: number;
  destination: number;
  payload: Uint8Array;
  /** The header's first 4 bytes (the packet index the CTR IV is made from). */
  header: Uint8Array;
}

export interface ControlPacket {
  control: true;
  type: number;
  subtype: number;
  info: number;
  timestamp: number;
  destination: number;
  body: Uint8Array;
}

export function parsePacket(b: Uint8Array): DataPacket | ControlPacket | undefined {
  if (b.length < 16) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const w0 = v.getUint32(0);
  const timestamp = v.getUint32(8);
  const destination = v.getUint32(12);
  if (w0 & 0x80000000) {
    return { control: true, type: (w0 >>> 16) & 0x7fff, subtype: w0 & 0xffff, info: v.getUint32(4), timestamp, destination, body: b.subarray(16) };
  }
  const w1 = v.getUint32(4);
  return { control: false, seq: w0, keyIndex: (w1 >>> 27) & 3, retransmitted: (w1 & 0x04000000) !== 0, timestamp, destination, payload: b.subarray(16), header: b.subarray(0, 4) };
}

export function controlPacket(type: number, info: number, timestamp: number, destination: number, body: Uint8Array = new Uint8Array(0), subtype = 0): Uint8Array {
  const out = new Uint8Array(16 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, (0x80000000 | (type << 16) | subtype) >>> 0);
  v.setUint32(4, info >>> 0);
  v.setUint32(8, timestamp >>> 0);
  v.setUint32(12, destination >>> 0);
  out.set(body, 16);
  return out;
}

export interface HandshakeExtension {
  type: number;
  /** The block's bytes, as on the wire. */
  data: Uint8Array;
}

export interface Handshake {
  version: number;
  encryption: number;
  extension: number;
  initialSeq: number;
  mtu: number;
  flowWindow: number;
  type: number;
  socketId: number;
  cookie: number;
  /** 16 bytes, as sent. */
  peerIp: Uint8Array;
  extensions: HandshakeExtension[];
}

export function parseHandshake(body: Uint8Array): Handshake | undefined {
  if (body.length < 48) return undefined;
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const extensions: HandshakeExtension[] = [];
  for (let p = 48; p + 4 <= body.length; ) {
    const type = v.getUint16(p);
    const words = v.getUint16(p + 2);
    if (p + 4 + words * 4 > body.length) return undefined;
    extensions.push({ type, data: body.subarray(p + 4, p + 4 + words * 4) });
    p += 4 + words * 4;
  }
  return {
    version: v.getUint32(0),
    encryption: v.getUint16(4),
    extension: v.getUint16(6),
    initialSeq: v.getUint32(8),
    mtu: v.getUint32(12),
    flowWindow: v.getUint32(16),
    type: v.getUint32(20),
    socketId: v.getUint32(24),
    cookie: v.getUint32(28),
    peerIp: body.subarray(32, 48),
    extensions,
  };
}

export function handshakeBody(h: Omit<Handshake, 'extensions'> & { extensions?: HandshakeExtension[] }): Uint8Array {
  const extLen = (h.extensions ?? []).reduce((n, e) => n + 4 + e.data.length, 0);
  const out = new Uint8Array(48 + extLen);
  const v = new DataView(out.buffer);
  v.setUint32(0, h.version);
  v.setUint16(4, h.encryption);
  v.setUint16(6, h.extension);
  v.setUint32(8, h.initialSeq >>> 0);
  v.setUint32(12, h.mtu >>> 0);
  v.setUint32(16, h.flowWindow >>> 0);
  v.setUint32(20, h.type >>> 0);
  v.setUint32(24, h.socketId >>> 0);
  v.setUint32(28, h.cookie >>> 0);
  out.set(h.peerIp.subarray(0, 16), 32);
  let p = 48;
  for (const e of h.extensions ?? []) {
    v.setUint16(p, e.type);
    v.setUint16(p + 2, e.data.length / 4);
    out.set(e.data, p + 4);
    p += 4 + e.data.length;
  }
  return out;
}

/** HSREQ/HSRSP contents: SRT version, flags, receiver and sender TSBPD delays (ms). */
export interface SrtHs {
  version: number;
  flags: number;
  recvDelayMs: number;
  sendDelayMs: number;
}

export function parseSrtHs(d: Uint8Array): SrtHs | undefined {
  if (d.length < 12) return undefined;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const delays = v.getUint32(8);
  return { version: v.getUint32(0), flags: v.getUint32(4), recvDelayMs: delays >>> 16, sendDelayMs: delays & 0xffff };
}

export function srtHsBlock(h: SrtHs): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint32(0, h.version);
  v.setUint32(4, h.flags);
  v.setUint32(8, ((h.recvDelayMs & 0xffff) << 16) | (h.sendDelayMs & 0xffff));
  return out;
}

/** A string extension (stream id): each 4-byte word is sent byte-reversed, padded with NULs. */
export function readExtensionString(d: Uint8Array): string {
  const bytes = new Uint8Array(d.length);
  for (let i = 0; i + 4 <= d.length; i += 4) {
    bytes[i] = d[i + 3]!;
    bytes[i + 1] = d[i + 2]!;
    bytes[i + 2] = d[i + 1]!;
    bytes[i + 3] = d[i]!;
  }
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

export function extensionString(s: string): Uint8Array {
  const raw = new TextEncoder().encode(s);
  const out = new Uint8Array(Math.ceil(raw.length / 4) * 4);
  for (let i = 0; i < raw.length; i++) out[(i & ~3) + 3 - (i & 3)] = raw[i]!;
  return out;
}

/** A NAK's loss list: single numbers, or first (top bit set) and last of a range. */
export function lossList(ranges: [number, number][]): Uint8Array {
  const words: number[] = [];
  for (const [a, b] of ranges) {
    if (a === b) words.push(a);
    else words.push((0x80000000 | a) >>> 0, b);
  }
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0));
  return out;
}

/** A full ACK's body: next expected sequence, RTT and its variance (µs), buffer, rates. */
export function ackBody(o: { ackSeq: number; rttUs: number; rttVarUs: number; bufferPackets: number; packetsPerSecond: number; capacity: number; bytesPerSecond: number }): Uint8Array {
  const out = new Uint8Array(28);
  const v = new DataView(out.buffer);
  [o.ackSeq, o.rttUs, o.rttVarUs, o.bufferPackets, o.packetsPerSecond, o.capacity, o.bytesPerSecond].forEach((x, i) => v.setUint32(i * 4, Math.max(0, Math.round(x)) >>> 0));
  return out;
}

/** DROPREQ: the sender gave up on [first, last]. */
export function parseDropRange(body: Uint8Array): [number, number] | undefined {
  if (body.length < 8) return undefined;
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return [v.getUint32(0) & SEQ_MAX, v.getUint32(4) & SEQ_MAX];
}
