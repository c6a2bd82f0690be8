/** Builds RTMP client byte streams by hand, for tests of the protocol edge cases. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const AMF = require('node-media-server/src/protocol/amf.js') as any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const NmsRtmp = require('node-media-server/src/protocol/rtmp.js') as any;

export const CHUNK_SIZE = 128;

export function c0c1(): Buffer {
  const b = Buffer.alloc(1537);
  b[0] = 3;
  return b;
}

function basicHeader(fmt: number, cid: number): Buffer {
  if (cid >= 320) return Buffer.from([(fmt << 6) | 1, (cid - 64) & 0xff, (cid - 64) >> 8]);
  if (cid >= 64) return Buffer.from([(fmt << 6) | 0, cid - 64]);
  return Buffer.from([(fmt << 6) | cid]);
}

/**
 * One message as chunks. fmt 0 carries the absolute timestamp, fmt 1 a delta; values of
 * 0xFFFFFF and above go in the extended field, repeated on continuation chunks.
 */
export function message(o: { cid: number; type: number; streamId?: number; payload: Buffer; timestamp?: number; delta?: number; chunkSize?: number }): Buffer {
  const chunkSize = o.chunkSize ?? CHUNK_SIZE;
  const fmt = o.delta === undefined ? 0 : 1;
  const time = o.delta ?? o.timestamp ?? 0;
  const extended = time >= 0xffffff;
  const header = Buffer.alloc(fmt === 0 ? 11 : 7);
  header.writeUIntBE(extended ? 0xffffff : time, 0, 3);
  header.writeUIntBE(o.payload.length, 3, 3);
  header[6] = o.type;
  if (fmt === 0) header.writeUInt32LE(o.streamId ?? 0, 7);
  const ext = Buffer.alloc(extended ? 4 : 0);
  if (extended) ext.writeUInt32BE(time);
  const parts: Buffer[] = [basicHeader(fmt, o.cid), header, ext];
  for (let p = 0; p < o.payload.length; p += chunkSize) {
    if (p > 0) parts.push(basicHeader(3, o.cid), ext);
    parts.push(o.payload.subarray(p, p + chunkSize));
  }
  return Buffer.concat(parts);
}

export function command(cmd: Record<string, unknown>, streamId = 0): Buffer {
  return message({ cid: 3, type: 20, streamId, payload: AMF.encodeAmf0Cmd(cmd) });
}

/** Set Chunk Size (what ffmpeg and OBS send before publishing: 4096). */
export function setChunkSize(size: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(size);
  return message({ cid: 2, type: 1, payload: p });
}

export function windowAckSize(size: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(size);
  return message({ cid: 2, type: 5, payload: p });
}

/** connect + createStream + publish for `streamName` on app "live"; `connectExtra` joins connect's command object (e.g. Enhanced RTMP's fourCcList). */
export function publishCommands(tcUrl: string, streamName: string, connectExtra: Record<string, unknown> = {}): Buffer {
  return Buffer.concat([
    command({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl, type: 'nonprivate', flashVer: 'FMLE/3.0', ...connectExtra } }),
    command({ cmd: 'createStream', transId: 2, cmdObj: null }),
    command({ cmd: 'publish', transId: 3, cmdObj: null, streamName, type: 'live' }, 1),
  ]);
}

/** Messages the server sends, parsed with the same chunk parser (client side). */
export class ServerMessages {
  readonly received: { type: number; payload: Buffer }[] = [];
  private readonly parser;

  constructor() {
    this.parser = new NmsRtmp();
    this.parser.handshakeState = 3; // past the handshake: parse chunks only
    this.parser.packetHandler = () => {
      const h = this.parser.parserPacket.header;
      const payload = Buffer.from(this.parser.parserPacket.payload.subarray(0, h.length));
      if (h.type === 1) this.parser.inChunkSize = payload.readUInt32BE(0);
      this.received.push({ type: h.type, payload });
    };
  }

  feed(data: Buffer): void {
    this.parser.parserData(data);
  }

  statuses(): { code: string; description: string }[] {
    return this.received
      .filter((m) => m.type === 20)
      .map((m) => AMF.decodeAmf0Cmd(m.payload))
      .filter((c: { cmd: string }) => c.cmd === 'onStatus')
      .map((c: { info: { code: string; description: string } }) => ({ code: c.info.code, description: c.info.description }));
  }
}

/** Media messages for FLV tags, delta-encoded per chunk stream, timestamps offset by `start`. */
export function mediaMessages(tags: readonly { type: number; timestamp: number; data: Uint8Array }[], start: number): Buffer {
  const last = new Map<number, number>();
  const parts: Buffer[] = [];
  for (const t of tags) {
    const cid = t.type === 9 ? 400 : 655;
    const ts = start + t.timestamp;
    const prev = last.get(cid);
    parts.push(message({ cid, type: t.type, streamId: 1, payload: Buffer.from(t.data), ...(prev === undefined ? { timestamp: ts } : { delta: ts - prev }) }));
    last.set(cid, ts);
  }
  return Buffer.concat(parts);
}
