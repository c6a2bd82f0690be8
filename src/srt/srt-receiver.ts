import { decryptPayload, unwrapKeyMaterial, type StreamKeys } from './srt-crypto.js';
import {
  CTRL_ACK,
  CTRL_ACKACK,
  CTRL_DROPREQ,
  CTRL_KEEPALIVE,
  CTRL_NAK,
  CTRL_SHUTDOWN,
  CTRL_USER,
  EXT_KMREQ,
  EXT_KMRSP,
  ackBody,
  controlPacket,
  lossList,
  parseDropRange,
  seqDiff,
  seqNext,
  type ControlPacket,
  type DataPacket,
} from './srt-packets.js';

/** A receiving connection's link figures (what `channel stat` and /metrics show). */
export interface SrtLinkStats {
  rttMs: number;
  packetsReceived: number;
  packetsRetransmitted: number;
  packetsLost: number;
  /** Lost and never recovered within the latency: skipped. */
  packetsDropped: number;
  packetsUndecrypted: number;
  bytesReceived: number;
  /** Packets waiting in the receive buffer for a missing one. */
  bufferedPackets: number;
  latencyMs: number;
}

export interface SrtReceiverOptions {
  peerId: number;
  initialSeq: number;
  latencyMs: number;
  keys?: StreamKeys;
  passphrase?: string;
  send(packet: Uint8Array): void;
  /** In order, decrypted; gaps given up on are skipped (the TS demuxer sees the discontinuity). */
  deliver(payload: Uint8Array): void;
  closed(reason: 'shutdown' | 'timeout'): void;
  now?: () => number;
}

const ACK_INTERVAL_MS = 10;
const KEEPALIVE_MS = 1000;
const PEER_IDLE_MS = 5000;
const MAX_BUFFERED = 8192;
const KM_REQ_SUBTYPE = EXT_KMREQ;
const KM_RSP_SUBTYPE = EXT_KMRSP;

interface Loss {
  detectedAt: number;
  nakAt: number;
}

/**
 * One SRT connection's receiving side after the handshake: puts data packets back in order,
 * asks for what is missing (NAK, again every RTT while missing), acknowledges every 10 ms
 * (the ACKACK gives the RTT), gives up on a gap once it is older than the latency (too-late
 * packet drop, as TSBPD would) and decrypts with the stream keys. Driven by its owner:
 * onPacket() for each datagram, tick() every few milliseconds.
 */
export class SrtReceiver {
  private nextSeq: number;
  private maxSeq: number;
  private readonly buffer = new Map<number, Uint8Array>();
  private readonly losses = new Map<number, Loss>();
  private readonly acksSent = new Map<number, number>();
  private ackNo = 1;
  private lastAckSeq = -1;
  private lastAckAt = 0;
  private lastSentAt = 0;
  private lastHeardAt: number;
  private lastDataAt: number;
  private readonly started: number;
  private rttUs = 100_000;
  private rttVarUs = 50_000;
  private keys: StreamKeys | undefined;
  private closedFlag = false;
  private windowStart: number;
  private windowPackets = 0;
  private windowBytes = 0;
  private rate = { packets: 0, bytes: 0 };
  readonly stats: SrtLinkStats;
  private readonly now: () => number;

  constructor(private readonly o: SrtReceiverOptions) {
    this.now = o.now ?? Date.now;
    this.nextSeq = o.initialSeq;
    this.maxSeq = seqNext(o.initialSeq, -1);
    this.keys = o.keys;
    this.started = this.now();
    this.lastHeardAt = this.started;
    this.lastDataAt = this.started;
    this.windowStart = this.started;
    this.stats = { rttMs: 100, packetsReceived: 0, packetsRetransmitted: 0, packetsLost: 0, packetsDropped: 0, packetsUndecrypted: 0, bytesReceived: 0, bufferedPackets: 0, latencyMs: o.latencyMs };
  }

  /** How long since the last data packet (keepalives and ACKACKs do not count). */
  msSinceData(): number {
    return this.now() - this.lastDataAt;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  private timestamp(): number {
    return ((this.now() - this.started) * 1000) >>> 0;
  }

  private sendControl(type: number, info: number, body?: Uint8Array, subtype = 0): void {
    this.lastSentAt = this.now();
    this.o.send(controlPacket(type, info, this.timestamp(), this.o.peerId, body, subtype));
  }

  onData(p: DataPacket): void {
    const now = this.now();
    this.lastHeardAt = now;
    this.lastDataAt = now;
    this.stats.packetsReceived++;
    this.stats.bytesReceived += p.payload.length;
    this.windowPackets++;
    this.windowBytes += p.payload.length + 44;
    if (p.retransmitted) this.stats.packetsRetransmitted++;
    const ahead = seqDiff(p.seq, this.nextSeq);
    if (ahead < 0 || this.buffer.has(p.seq)) return; // a duplicate, or one given up on
    let payload: Uint8Array | undefined = p.payload;
    if (p.keyIndex !== 0) {
      payload = this.keys ? decryptPayload(this.keys, p.keyIndex, p.header, p.payload) : undefined;
      if (!payload) this.stats.packetsUndecrypted++;
    }
    this.losses.delete(p.seq);
    const beyond = seqDiff(p.seq, this.maxSeq);
    if (beyond > 1) {
      const fresh: [number, number] = [seqNext(this.maxSeq), seqNext(p.seq, -1)];
      for (let s = fresh[0]; s !== p.seq; s = seqNext(s)) this.losses.set(s, { detectedAt: now, nakAt: now });
      this.stats.packetsLost += beyond - 1;
      this.sendControl(CTRL_NAK, 0, lossList([fresh]));
    }
    if (beyond > 0) this.maxSeq = p.seq;
    this.buffer.set(p.seq, payload ?? new Uint8Array(0));
    this.flush();
    if (this.buffer.size > MAX_BUFFERED) this.skipGap();
  }

  /** Hands on what is in order from nextSeq. */
  private flush(): void {
    for (let data = this.buffer.get(this.nextSeq); data !== undefined; data = this.buffer.get(this.nextSeq)) {
      this.buffer.delete(this.nextSeq);
      this.nextSeq = seqNext(this.nextSeq);
      if (data.length > 0) this.o.deliver(data);
    }
    this.stats.bufferedPackets = this.buffer.size;
  }

  /** Gives up on the packets missing at nextSeq up to the next one held. */
  private skipGap(): void {
    while (!this.buffer.has(this.nextSeq) && seqDiff(this.maxSeq, this.nextSeq) >= 0) {
      this.losses.delete(this.nextSeq);
      this.stats.packetsDropped++;
      this.nextSeq = seqNext(this.nextSeq);
    }
    this.flush();
  }

  onControl(p: ControlPacket): void {
    this.lastHeardAt = this.now();
    switch (p.type) {
      case CTRL_ACKACK: {
        const sentAt = this.acksSent.get(p.info);
        if (sentAt === undefined) return;
        this.acksSent.delete(p.info);
        const sample = (this.now() - sentAt) * 1000;
        this.rttVarUs = (3 * this.rttVarUs + Math.abs(this.rttUs - sample)) / 4;
        this.rttUs = (7 * this.rttUs + sample) / 8;
        this.stats.rttMs = Math.round(this.rttUs / 100) / 10;
        return;
      }
      case CTRL_DROPREQ: {
        const range = parseDropRange(p.body);
        if (!range) return;
        // the sender will not send these again: whatever of them is missing is skipped
        for (let s = range[0]; seqDiff(s, range[1]) <= 0; s = seqNext(s)) {
          if (seqDiff(s, this.nextSeq) < 0) continue;
          if (!this.buffer.has(s)) {
            this.buffer.set(s, new Uint8Array(0));
            if (this.losses.delete(s)) this.stats.packetsDropped++;
          }
          if (seqDiff(s, this.maxSeq) > 0) this.maxSeq = s;
        }
        this.flush();
        return;
      }
      case CTRL_SHUTDOWN:
        this.close('shutdown', false);
        return;
      case CTRL_USER:
        if (p.subtype === KM_REQ_SUBTYPE && this.o.passphrase) {
          // a key refresh: take the new keys and answer with the message, as the handshake did
          const km = unwrapKeyMaterial(p.body, this.o.passphrase);
          if (km.ok) this.keys = km.keys;
          this.sendControl(CTRL_USER, 0, p.body, KM_RSP_SUBTYPE);
        }
        return;
      case CTRL_KEEPALIVE:
      default:
        return;
    }
  }

  /** Periodic work: ACK, NAK reports, too-late drops, keepalive, peer timeout. */
  tick(): void {
    if (this.closedFlag) return;
    const now = this.now();
    if (now - this.lastHeardAt > PEER_IDLE_MS) return this.close('timeout', true);
    if (now - this.windowStart >= 1000) {
      const seconds = (now - this.windowStart) / 1000;
      this.rate = { packets: this.windowPackets / seconds, bytes: this.windowBytes / seconds };
      this.windowStart = now;
      this.windowPackets = 0;
      this.windowBytes = 0;
    }
    // a gap older than the latency will not be filled in time: skip it
    const oldest = this.losses.get(this.nextSeq);
    if (oldest && now - oldest.detectedAt > this.o.latencyMs) this.skipGap();
    if (now - this.lastAckAt >= ACK_INTERVAL_MS && (this.nextSeq !== this.lastAckSeq || now - this.lastAckAt >= 100)) {
      this.lastAckAt = now;
      this.lastAckSeq = this.nextSeq;
      const ackNo = this.ackNo++;
      this.acksSent.set(ackNo, now);
      if (this.acksSent.size > 1000) this.acksSent.delete(this.acksSent.keys().next().value!);
      this.sendControl(
        CTRL_ACK,
        ackNo,
        ackBody({
          ackSeq: this.nextSeq,
          rttUs: this.rttUs,
          rttVarUs: this.rttVarUs,
          bufferPackets: Math.max(2, MAX_BUFFERED - this.buffer.size),
          packetsPerSecond: this.rate.packets,
          capacity: Math.max(this.rate.packets, 1000),
          bytesPerSecond: this.rate.bytes,
        }),
      );
    }
    const again = Math.max(20, (this.rttUs + 4 * this.rttVarUs) / 1000);
    const ranges: [number, number][] = [];
    for (const [seq, loss] of this.losses) {
      if (now - loss.nakAt < again) continue;
      loss.nakAt = now;
      const last = ranges.at(-1);
      if (last && seqNext(last[1]) === seq) last[1] = seq;
      else ranges.push([seq, seq]);
      if (ranges.length >= 300) break;
    }
    if (ranges.length > 0) this.sendControl(CTRL_NAK, 0, lossList(ranges));
    if (now - this.lastSentAt >= KEEPALIVE_MS) this.sendControl(CTRL_KEEPALIVE, 0);
  }

  /** Ends the connection; `tellPeer`: send SHUTDOWN first. */
  close(reason: 'shutdown' | 'timeout', tellPeer = true): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (tellPeer) this.sendControl(CTRL_SHUTDOWN, 0, new Uint8Array(4));
    this.o.closed(reason);
  }
}
