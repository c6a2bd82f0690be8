import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { unwrapKeyMaterial, type StreamKeys } from './srt-crypto.js';
import {
  CTRL_HANDSHAKE,
  EXT_HSREQ,
  EXT_HSRSP,
  EXT_KMREQ,
  EXT_KMRSP,
  EXT_SID,
  HSEXT_HSREQ,
  HSEXT_KMREQ,
  HS_CONCLUSION,
  HS_INDUCTION,
  HS_REJECT_BASE,
  REJ_BADSECRET,
  REJ_ROGUE,
  REJ_UNSECURE,
  SRT_MAGIC,
  SRT_OPT_HAICRYPT,
  SRT_OPT_NAKREPORT,
  SRT_OPT_REXMITFLG,
  SRT_OPT_TLPKTDROP,
  SRT_OPT_TSBPDRCV,
  SRT_OPT_TSBPDSND,
  controlPacket,
  handshakeBody,
  parseHandshake,
  parsePacket,
  parseSrtHs,
  readExtensionString,
  srtHsBlock,
  type Handshake,
} from './srt-packets.js';
import { SrtReceiver, type SrtLinkStats } from './srt-receiver.js';

/** A caller that completed the handshake's checks, asking to publish. */
export interface SrtCaller {
  streamId: string;
  remoteAddr: string;
  latencyMs: number;
  encrypted: boolean;
}

/** The listener's owner decides on each caller: a sink for its bytes, or a rejection code (1000+). */
export type SrtDecision =
  | { ok: true; payload(bytes: Uint8Array): void; closed(reason: 'shutdown' | 'timeout' | 'stopped'): void; attach(connection: SrtConnectionHandle): void }
  | { ok: false; code: number; reason: string };

export interface SrtConnectionHandle {
  readonly stats: SrtLinkStats;
  /** msSinceData: how long since the last data packet. */
  msSinceData(): number;
  close(): void;
}

export interface SrtListenerOptions {
  host: string;
  port: number;
  latencyMs: number;
  passphrase?: string;
  /** 16, 24 or 32: what the caller must use when a passphrase is set (0: any). */
  pbKeyLen?: number;
  decide(caller: SrtCaller): Promise<SrtDecision>;
  log(level: 'info' | 'warn' | 'debug', fields: Record<string, unknown>, message: string): void;
}

const VERSION_5 = 5;
const OUR_SRT_VERSION = 0x010503;
const MTU = 1500;
const FLOW_WINDOW = 8192;
const TICK_MS = 10;
/** A conclusion answered (accepted or refused) is answered again for this long, as callers repeat it. */
const ANSWER_MEMORY_MS = 10_000;

/**
 * An SRT listener on one UDP port: the caller–listener handshake (HSv5: induction with a
 * cookie, then a conclusion carrying HSREQ, the stream id and the key material), its
 * rejections with a reason, and one SrtReceiver per accepted caller. Nothing is kept for a
 * caller before it returns a valid cookie, so stray or forged datagrams cost nothing.
 */
export class SrtListener {
  private socket: Socket | undefined;
  private readonly secret = randomBytes(16);
  private readonly listenerId = randomInt(1, 0x7fffffff);
  private readonly connections = new Map<number, SrtReceiver>();
  /** Conclusions being decided, and answers given, by caller address and socket id. */
  private readonly pending = new Set<string>();
  private readonly answers = new Map<string, { packet: Uint8Array; at: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: SrtListenerOptions) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<number> {
    const socket = createSocket({ type: isIPv6(this.o.host) ? 'udp6' : 'udp4', recvBufferSize: 8 << 20 });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.o.log('warn', { err: err.message }, 'SRT socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port, this.o.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    return socket.address().port;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const receiver of this.connections.values()) receiver.close('shutdown', true);
    this.connections.clear();
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
    this.socket = undefined;
  }

  private tick(): void {
    for (const receiver of this.connections.values()) receiver.tick();
    const now = Date.now();
    for (const [key, a] of this.answers) if (now - a.at > ANSWER_MEMORY_MS) this.answers.delete(key);
  }

  private send(packet: Uint8Array, rinfo: RemoteInfo): void {
    this.socket?.send(packet, rinfo.port, rinfo.address);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const p = parsePacket(msg);
    if (!p) return;
    if (p.destination !== 0) {
      const c = this.connections.get(p.destination);
      if (!c) return;
      if (p.control) {
        if (p.type === CTRL_HANDSHAKE) {
          // a repeated conclusion: answer it again
          const hs = parseHandshake(p.body);
          const answer = hs && this.answers.get(`${rinfo.address}:${rinfo.port}:${hs.socketId}`);
          if (answer) this.send(answer.packet, rinfo);
          return;
        }
        c.onControl(p);
      } else c.onData(p);
      return;
    }
    if (!p.control || p.type !== CTRL_HANDSHAKE) return;
    const hs = parseHandshake(p.body);
    if (!hs) return;
    if (hs.type === HS_INDUCTION) return this.induction(hs, rinfo);
    if (hs.type === HS_CONCLUSION) void this.conclusion(hs, rinfo);
  }

  private cookie(rinfo: RemoteInfo, minute: number): number {
    return createHmac('sha256', this.secret).update(`${rinfo.address}:${rinfo.port}:${minute}`).digest().readUInt32BE(0);
  }

  private induction(hs: Handshake, rinfo: RemoteInfo): void {
    const body = handshakeBody({
      version: VERSION_5,
      encryption: 0,
      extension: SRT_MAGIC,
      initialSeq: hs.initialSeq,
      mtu: hs.mtu,
      flowWindow: hs.flowWindow,
      type: HS_INDUCTION,
      socketId: this.listenerId,
      cookie: this.cookie(rinfo, Math.floor(Date.now() / 60_000)),
      peerIp: hs.peerIp,
    });
    this.send(controlPacket(CTRL_HANDSHAKE, 0, 0, hs.socketId, body), rinfo);
  }

  private reject(hs: Handshake, rinfo: RemoteInfo, code: number, reason: string, key: string): void {
    const body = handshakeBody({ ...hs, version: VERSION_5, type: HS_REJECT_BASE + code, socketId: this.listenerId, extensions: [] });
    const packet = controlPacket(CTRL_HANDSHAKE, 0, 0, hs.socketId, body);
    this.answers.set(key, { packet, at: Date.now() });
    this.send(packet, rinfo);
    this.o.log('info', { remote: `${rinfo.address}:${rinfo.port}`, code, reason }, 'SRT caller rejected');
  }

  private async conclusion(hs: Handshake, rinfo: RemoteInfo): Promise<void> {
    const key = `${rinfo.address}:${rinfo.port}:${hs.socketId}`;
    const answered = this.answers.get(key);
    if (answered) return this.send(answered.packet, rinfo);
    if (this.pending.has(key)) return;
    const minute = Math.floor(Date.now() / 60_000);
    if (hs.cookie !== this.cookie(rinfo, minute) && hs.cookie !== this.cookie(rinfo, minute - 1)) return;
    if (hs.version !== VERSION_5) return this.reject(hs, rinfo, REJ_ROGUE, `handshake version ${hs.version} (HSv5 callers only: libsrt 1.3 or newer)`, key);
    const hsreq = hs.extensions.find((e) => e.type === EXT_HSREQ);
    const srtHs = hsreq && parseSrtHs(hsreq.data);
    if (!srtHs) return this.reject(hs, rinfo, REJ_ROGUE, 'no SRT handshake extension', key);
    const sid = hs.extensions.find((e) => e.type === EXT_SID);
    const streamId = sid ? readExtensionString(sid.data) : '';
    const kmreq = hs.extensions.find((e) => e.type === EXT_KMREQ);
    let keys: StreamKeys | undefined;
    if (this.o.passphrase) {
      if (!kmreq) return this.reject(hs, rinfo, REJ_UNSECURE, 'this listener takes encrypted callers only (set the passphrase)', key);
      const km = unwrapKeyMaterial(kmreq.data, this.o.passphrase);
      if (!km.ok) return this.reject(hs, rinfo, km.reason === 'bad-secret' ? REJ_BADSECRET : REJ_ROGUE, km.detail, key);
      if (this.o.pbKeyLen && km.keys.keyLength !== this.o.pbKeyLen) return this.reject(hs, rinfo, REJ_BADSECRET, `key length ${km.keys.keyLength * 8} bits, this listener wants ${this.o.pbKeyLen * 8}`, key);
      keys = km.keys;
    } else if (kmreq) {
      return this.reject(hs, rinfo, REJ_UNSECURE, 'this listener has no passphrase: connect without one', key);
    }
    const latencyMs = Math.max(this.o.latencyMs, srtHs.sendDelayMs);
    this.pending.add(key);
    let decision: SrtDecision;
    try {
      decision = await this.o.decide({ streamId, remoteAddr: `${rinfo.family === 'IPv6' ? `[${rinfo.address}]` : rinfo.address}:${rinfo.port}`, latencyMs, encrypted: keys !== undefined });
    } catch (err) {
      decision = { ok: false, code: 1500, reason: `internal error: ${(err as Error).message}` };
    } finally {
      this.pending.delete(key);
    }
    if (!decision.ok) return this.reject(hs, rinfo, decision.code, decision.reason, key);
    const ourId = this.newId();
    const flags = SRT_OPT_TSBPDSND | SRT_OPT_TSBPDRCV | SRT_OPT_HAICRYPT | SRT_OPT_TLPKTDROP | SRT_OPT_NAKREPORT | (srtHs.flags & SRT_OPT_REXMITFLG);
    const extensions = [{ type: EXT_HSRSP, data: srtHsBlock({ version: OUR_SRT_VERSION, flags, recvDelayMs: latencyMs, sendDelayMs: srtHs.recvDelayMs }) }];
    if (kmreq) extensions.push({ type: EXT_KMRSP, data: kmreq.data });
    const body = handshakeBody({
      version: VERSION_5,
      encryption: keys ? keys.keyLength / 8 : 0,
      extension: HSEXT_HSREQ | (kmreq ? HSEXT_KMREQ : 0),
      initialSeq: hs.initialSeq,
      mtu: Math.min(hs.mtu, MTU),
      flowWindow: Math.min(hs.flowWindow, FLOW_WINDOW),
      type: HS_CONCLUSION,
      socketId: ourId,
      cookie: 0,
      peerIp: hs.peerIp,
      extensions,
    });
    const packet = controlPacket(CTRL_HANDSHAKE, 0, 0, hs.socketId, body);
    const accepted = decision;
    const receiver = new SrtReceiver({
      peerId: hs.socketId,
      initialSeq: hs.initialSeq,
      latencyMs,
      keys,
      passphrase: this.o.passphrase,
      send: (b) => this.send(b, rinfo),
      deliver: (bytes) => accepted.payload(bytes),
      closed: (reason) => {
        this.connections.delete(ourId);
        accepted.closed(reason);
      },
    });
    this.connections.set(ourId, receiver);
    this.answers.set(key, { packet, at: Date.now() });
    accepted.attach({
      stats: receiver.stats,
      msSinceData: () => receiver.msSinceData(),
      close: () => {
        if (receiver.isClosed) return;
        receiver.close('shutdown', true);
      },
    });
    this.send(packet, rinfo);
  }

  private newId(): number {
    for (;;) {
      const id = randomInt(1, 0x7fffffff);
      if (id !== this.listenerId && !this.connections.has(id)) return id;
    }
  }
}
