/**
 * The one place that touches node-media-server (pinned at 4.4.3): its RTMP protocol code
 * (handshake, chunk stream, AMF) with our fixes for its known gaps, behind a small typed
 * interface. Sessions, authorisation and media handling are ours.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// 4.4.3 has no "exports" map, so these deep requires resolve; the version is pinned exactly.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const NmsRtmp = require('node-media-server/src/protocol/rtmp.js') as any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const AMF = require('node-media-server/src/protocol/amf.js') as any;

export interface ConnectInfo {
  app: string;
  tcUrl: string;
  transId: number;
}

export interface PublishInfo {
  /** Stream name as sent, query included ("ch?OSSAccessKeyId=…"). */
  streamName: string;
  streamId: number;
}

export class RtmpProtocolError extends Error {}

export interface RtmpEvents {
  output(data: Buffer): void;
  connect(info: ConnectInfo): void;
  publish(info: PublishInfo): void;
  /** FCUnpublish, deleteStream or closeStream: the publisher is done. */
  unpublish(command: string): void;
  /** Audio (8), video (9) or data (18) message; `payload` is valid only during the call. */
  media(type: number, timestamp: number, payload: Buffer): void;
  /** A peer asked to play: this gateway only ingests. */
  play(): void;
}

export interface RtmpProtocol {
  feed(data: Buffer): void;
  acceptConnect(transId: number): void;
  sendStatus(streamId: number, level: 'status' | 'error', code: string, description: string): void;
  sendAck(bytesReceived: number): void;
  /** The acknowledgement window the peer announced, if any. */
  ackWindow(): number | undefined;
}

export interface RtmpLimits {
  maxMessageSize: number;
  maxChunkStreams: number;
}

const MEDIA_TYPES = new Set([8, 9, 18]);

/**
 * One class for every connection: a class made per connection gives each parser its own
 * hidden class, and node-media-server's shared parsing code then sees hundreds of shapes
 * (megamorphic property loads were a tenth of the ingest thread's time at 100 streams).
 */
class Protocol extends NmsRtmp {
  constructor(
    private readonly events: RtmpEvents,
    private readonly limits: RtmpLimits,
  ) {
    super();
    this.onOutputCallback = (b: Buffer) => events.output(b);
  }

  // 4.4.3 computes 3-byte basic-header ids as (64 + b1 + b2) << 8; the spec says 64 + b1 + b2·256.
  packetParse() {
    const b = this.parserBuffer;
    const fmt = b[0] >> 6;
    const cid = this.parserBasicBytes === 2 ? 64 + b[1] : this.parserBasicBytes === 3 ? 64 + b[1] + b[2] * 256 : b[0] & 0x3f;
    let packet = this.inPackets.get(cid);
    if (!packet) {
      if (this.inPackets.size >= this.limits.maxChunkStreams) throw new RtmpProtocolError(`more than ${this.limits.maxChunkStreams} RTMP chunk streams`);
      packet = { header: { fmt, cid, timestamp: 0, length: 0, type: 0, stream_id: 0 }, clock: 0, payload: Buffer.alloc(0), capacity: 0, bytes: 0 };
      this.inPackets.set(cid, packet);
    }
    this.parserPacket = packet;
    packet.header.fmt = fmt;
    this.chunkMessageHeaderRead();
  }

  packetAlloc() {
    // Message clocks are 32-bit; 4.4.3 drops every message once delta sums pass 2^32.
    this.parserPacket.clock %= 2 ** 32;
    const length = this.parserPacket.header.length;
    if (length > this.limits.maxMessageSize) {
      throw new RtmpProtocolError(`RTMP message of ${length} bytes exceeds the ${this.limits.maxMessageSize}-byte limit`);
    }
    super.packetAlloc();
  }

  invokeHandler() {
    const offset = this.parserPacket.header.type === 17 ? 1 : 0;
    const msg = AMF.decodeAmf0Cmd(this.parserPacket.payload.subarray(offset, this.parserPacket.header.length));
    switch (msg.cmd) {
      case 'connect': {
        // 4.4.3 calls new URL(tcUrl) here and throws on a malformed one; we parse it ourselves.
        const cmd = msg.cmdObj ?? {};
        this.objectEncoding = cmd.objectEncoding ?? 0;
        return this.events.connect({ app: String(cmd.app ?? ''), tcUrl: String(cmd.tcUrl ?? ''), transId: msg.transId });
      }
      case 'createStream':
        return this.respondCreateStream(msg.transId);
      case 'publish':
        return this.events.publish({ streamName: String(msg.streamName ?? ''), streamId: this.parserPacket.header.stream_id });
      case 'play':
        return this.events.play();
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        return this.events.unpublish(msg.cmd);
      default:
        return undefined; // releaseStream, FCPublish, _checkbw, getStreamLength, …
    }
  }

  dataHandler() {
    const h = this.parserPacket.header;
    // the payload buffer is reused and over-allocated: hand out exactly this message
    if (MEDIA_TYPES.has(h.type)) this.events.media(h.type, this.parserPacket.clock, this.parserPacket.payload.subarray(0, h.length));
  }
}

export function createRtmpProtocol(events: RtmpEvents, limits: RtmpLimits): RtmpProtocol {
  const p = new Protocol(events, limits);
  return {
    feed: (data) => void p.parserData(data),
    acceptConnect: (transId) => {
      p.sendWindowACK(5_000_000);
      p.setPeerBandwidth(5_000_000, 2);
      p.setChunkSize(p.outChunkSize);
      p.respondConnect(transId);
    },
    sendStatus: (streamId, level, code, description) => p.sendStatusMessage(streamId, level, code, description),
    sendAck: (bytes) => p.sendACK(bytes >>> 0),
    ackWindow: () => p.ackSize,
  };
}
