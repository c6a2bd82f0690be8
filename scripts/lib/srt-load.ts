/**
 * SRT publishers for bench:ingest --srt: an MPEG-TS file sent at its bitrate in 1316-byte
 * payloads (seven TS packets, as ffmpeg and OBS send), as an SRT caller would: the HSv5
 * handshake with the stream id, then data packets, answering ACKs with ACKACK and NAKs by
 * sending the lost packets again. Unencrypted. One UDP socket per publisher.
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  CTRL_ACK,
  CTRL_ACKACK,
  CTRL_HANDSHAKE,
  CTRL_NAK,
  CTRL_SHUTDOWN,
  EXT_HSREQ,
  EXT_SID,
  HS_CONCLUSION,
  HS_INDUCTION,
  HS_REJECT_BASE,
  controlPacket,
  extensionString,
  handshakeBody,
  parseHandshake,
  parsePacket,
  seqNext,
  srtHsBlock,
} from '../../src/srt/srt-packets.js';

const PAYLOAD = 1316;
/** Packets kept for resending (a few seconds at a few Mbit/s). */
const KEEP = 4096;

export interface SrtPreparedTs {
  chunks: Buffer[];
  /** Milliseconds per chunk at the file's average bitrate. */
  msPerChunk: number;
}

export function prepareTs(ts: Buffer, durationMs: number): SrtPreparedTs {
  const chunks: Buffer[] = [];
  for (let p = 0; p + PAYLOAD <= ts.length; p += PAYLOAD) chunks.push(ts.subarray(p, p + PAYLOAD));
  return { chunks, msPerChunk: durationMs / chunks.length };
}

export interface CallerHandshake {
  socketId: number;
  initialSeq: number;
  /** µs since the caller started (the header's timestamp). */
  timestamp?: number;
}

const callerBase = (c: CallerHandshake) => ({ version: 4, encryption: 0, extension: 2, initialSeq: c.initialSeq, mtu: 1500, flowWindow: 8192, socketId: c.socketId, cookie: 0, peerIp: new Uint8Array(16) });

/** A caller's first handshake (HSv4 induction, as libsrt sends it). */
export function inductionRequest(c: CallerHandshake): Uint8Array {
  return controlPacket(CTRL_HANDSHAKE, 0, c.timestamp ?? 0, 0, handshakeBody({ ...callerBase(c), type: HS_INDUCTION }));
}

/** A caller's HSv5 conclusion: the listener's cookie, HSREQ (120 ms both ways, `flags`) and the stream id. */
export function conclusionRequest(c: CallerHandshake & { cookie: number; streamId: string; flags?: number }): Uint8Array {
  return controlPacket(
    CTRL_HANDSHAKE,
    0,
    c.timestamp ?? 0,
    0,
    handshakeBody({
      ...callerBase(c),
      version: 5,
      extension: 1 | 4,
      type: HS_CONCLUSION,
      cookie: c.cookie,
      extensions: [
        { type: EXT_HSREQ, data: srtHsBlock({ version: 0x010503, flags: c.flags ?? 0x3f, recvDelayMs: 120, sendDelayMs: 120 }) },
        { type: EXT_SID, data: extensionString(c.streamId) },
      ],
    }),
  );
}

export class SrtPublisher {
  readonly stats = { published: false, sent: 0, resent: 0, maxLagMs: 0, bytesSent: 0, keyframeSentAt: [] as number[], startedAt: undefined as number | undefined, publishedAt: undefined as number | undefined };
  private socket: Socket | undefined;
  private peerId = 0;
  private readonly ourId = 1 + Math.floor(Math.random() * 0x7ffffffe);
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly sentBySeq = new Map<number, Buffer>();
  private index = 0;
  private startedAt = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly ts: SrtPreparedTs,
    private readonly port: number,
    private readonly streamId: string,
  ) {}

  private stamp(): number {
    return Math.round((performance.now() - this.t0) * 1000) >>> 0;
  }

  async start(): Promise<void> {
    this.stats.startedAt = performance.now();
    const socket = createSocket('udp4');
    this.socket = socket;
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const answers: Buffer[] = [];
    let wake: (() => void) | undefined;
    socket.on('message', (m) => {
      if (!this.stats.published) {
        answers.push(m);
        wake?.();
      } else this.onControl(m);
    });
    const ask = async (packet: Uint8Array) => {
      for (let attempt = 0; attempt < 12; attempt++) {
        socket.send(packet, this.port, '127.0.0.1');
        const got = answers.shift() ?? (await new Promise<Buffer | undefined>((r) => {
          const timer = setTimeout(() => r(undefined), 250);
          wake = () => {
            clearTimeout(timer);
            r(answers.shift());
          };
        }));
        const p = got && parsePacket(got);
        if (p && p.control && p.type === CTRL_HANDSHAKE) return parseHandshake(p.body)!;
      }
      throw new Error('no handshake answer');
    };
    const caller = { socketId: this.ourId, initialSeq: this.seq };
    const induction = await ask(inductionRequest({ ...caller, timestamp: this.stamp() }));
    const conclusion = await ask(conclusionRequest({ ...caller, cookie: induction.cookie, streamId: this.streamId, timestamp: this.stamp() }));
    if (conclusion.type >>> 0 !== HS_CONCLUSION) throw new Error(`publish refused: SRT reject ${(conclusion.type >>> 0) - HS_REJECT_BASE}`);
    this.peerId = conclusion.socketId;
    this.stats.published = true;
    this.startedAt = performance.now();
    this.stats.publishedAt = this.startedAt;
  }

  private onControl(m: Buffer): void {
    const p = parsePacket(m);
    if (!p?.control) return;
    if (p.type === CTRL_ACK) {
      this.socket!.send(controlPacket(CTRL_ACKACK, p.info, this.stamp(), this.peerId), this.port, '127.0.0.1');
    } else if (p.type === CTRL_NAK) {
      const v = new DataView(p.body.buffer, p.body.byteOffset, p.body.byteLength);
      for (let i = 0; i + 4 <= p.body.length; i += 4) {
        const w = v.getUint32(i);
        const first = w & 0x7fffffff;
        let last = first;
        if (w & 0x80000000 && i + 8 <= p.body.length) {
          i += 4;
          last = v.getUint32(i) & 0x7fffffff;
        }
        for (let s = first; ; s = seqNext(s)) {
          const packet = this.sentBySeq.get(s);
          if (packet) {
            packet.writeUInt32BE((packet.readUInt32BE(4) | 0x04000000) >>> 0, 4); // the retransmitted flag
            this.socket!.send(packet, this.port, '127.0.0.1');
            this.stats.resent++;
          }
          if (s === last) break;
        }
      }
    } else if (p.type === CTRL_SHUTDOWN) {
      this.socket?.close();
      this.socket = undefined;
    }
  }

  /** Sends every payload that is due; call often. */
  pump(now: number): void {
    if (!this.stats.published || !this.socket) return;
    const elapsed = now - this.startedAt;
    while (this.index < this.ts.chunks.length && this.index * this.ts.msPerChunk <= elapsed) {
      this.stats.maxLagMs = Math.max(this.stats.maxLagMs, elapsed - this.index * this.ts.msPerChunk);
      const chunk = this.ts.chunks[this.index++]!;
      const packet = Buffer.alloc(16 + chunk.length);
      packet.writeUInt32BE(this.seq, 0);
      packet.writeUInt32BE((0xc0000000 | (this.index & 0x03ffffff)) >>> 0, 4); // a whole message, in order
      packet.writeUInt32BE(this.stamp(), 8);
      packet.writeUInt32BE(this.peerId, 12);
      chunk.copy(packet, 16);
      this.socket.send(packet, this.port, '127.0.0.1');
      this.sentBySeq.set(this.seq, packet);
      this.sentBySeq.delete(seqNext(this.seq, -KEEP));
      this.seq = seqNext(this.seq);
      this.stats.sent++;
      this.stats.bytesSent += chunk.length;
    }
  }

  stop(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    socket.send(controlPacket(CTRL_SHUTDOWN, 0, this.stamp(), this.peerId, new Uint8Array(4)), this.port, '127.0.0.1', () => socket.close());
  }
}
