import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { PushEndReason } from '../catalog/catalog.js';
import { EsToFlv } from '../media/es-to-flv.js';
import { TsDemuxer, type PesPacket } from '../media/ts-demuxer.js';
import type { Metrics } from '../metrics.js';
import { REJX_BAD_MODE, REJX_BAD_REQUEST, REJX_CONFLICT, REJX_FORBIDDEN, REJX_NOTFOUND, REJX_OVERLOAD, REJX_UNAUTHORIZED } from '../srt/srt-packets.js';
import { SrtListener, type SrtCaller, type SrtConnectionHandle, type SrtDecision } from '../srt/srt-listener.js';
import type { PublishAuthorizer, PublishDecision, PublishingPeer } from './rtmp-connection.js';

export interface SrtConfig {
  host: string;
  port: number;
  latencyMs: number;
  passphrase?: string;
  pbKeyLen: number;
}

export interface SrtIngestOptions {
  config: SrtConfig;
  authorizer: PublishAuthorizer;
  log: FastifyBaseLogger;
  metrics: Metrics;
  /** A publisher that sends no media for this long is let go. */
  idleMediaTimeoutMs: number;
  /** How long a publish may wait for an answer (the admission queue's bound). */
  answerWithinMs: number;
}

/** What a stream id names: the resource (`live/<channel>?query`), the mode, the host (for the bucket). */
export interface StreamIdRequest {
  resource: string;
  mode: string;
  host?: string;
}

/**
 * The stream id, in either form: what follows the host in a signed push URL
 * (`live/<channel>?OSSAccessKeyId=…&Expires=…&Signature=…`, a leading `/` allowed), or SRT's
 * access-control form `#!::r=live/<channel>?…,m=publish[,h=<bucket>.<host>]` (values may hold
 * `,` only percent-encoded). Undefined when it is neither.
 */
export function parseStreamId(raw: string): StreamIdRequest | undefined {
  // put in an srt:// URL's query (OBS's Server field, ffmpeg's URL), it arrives percent-encoded
  // as written: libsrt callers do not decode it. Decoded once, as OBS's RTMP decodes its key.
  let sid = raw;
  if (/^(\/?live%2F|%23%21)/i.test(raw)) {
    try {
      sid = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  if (sid.startsWith('#!::')) {
    const fields = new Map<string, string>();
    for (const part of sid.slice(4).split(',')) {
      const at = part.indexOf('=');
      if (at > 0) fields.set(part.slice(0, at), part.slice(at + 1));
    }
    const r = fields.get('r');
    if (!r) return undefined;
    return { resource: r.replace(/^\/+/, ''), mode: fields.get('m') ?? 'request', ...(fields.has('h') ? { host: fields.get('h')! } : {}) };
  }
  if (!sid) return undefined;
  return { resource: sid.replace(/^\/+/, ''), mode: 'publish' };
}

/** An SRT rejection code for an ingest refusal (access-control codes: 1000 + the HTTP status). */
export function rejectionCode(d: Extract<PublishDecision, { ok: false }>): number {
  const text = d.description;
  if (/gateway busy/.test(text)) return REJX_OVERLOAD;
  if (/already being pushed/.test(text)) return REJX_CONFLICT;
  if (/No live channel|does not exist in bucket|Bucket .* does not exist/i.test(text)) return REJX_NOTFOUND;
  // no credentials at all where they are needed; wrong, expired or insufficient ones are 1403
  if (/must be signed|needs all of OSSAccessKeyId/.test(text)) return REJX_UNAUTHORIZED;
  if (/^Invalid/.test(text)) return REJX_BAD_REQUEST;
  return REJX_FORBIDDEN;
}

const END_REASON: Record<'shutdown' | 'timeout' | 'stopped', PushEndReason> = { shutdown: 'unpublished', timeout: 'disconnected', stopped: 'disconnected' };

/**
 * SRT as a front door to the one publish session: a caller's stream id becomes the same
 * publish request an RTMP client makes (signed key, channel, hook, lease, load guard,
 * takeover), and its MPEG-TS becomes the FLV tags the session takes from RTMP.
 */
export class SrtIngest {
  private readonly listener: SrtListener;
  private readonly live = new Set<{ handle?: SrtConnectionHandle; peer: PublishingPeer; publishing: () => boolean }>();
  private readonly idleSweep: NodeJS.Timeout;
  /** Callers that complete a handshake before open() wait for it (the start's catalog work comes first). */
  private readonly opened: Promise<void>;
  open!: () => void;

  constructor(private readonly o: SrtIngestOptions) {
    this.opened = new Promise((resolve) => (this.open = resolve));
    this.listener = new SrtListener({
      host: o.config.host,
      port: o.config.port,
      latencyMs: o.config.latencyMs,
      passphrase: o.config.passphrase,
      pbKeyLen: o.config.passphrase ? o.config.pbKeyLen : 0,
      decide: (caller) => this.decide(caller),
      log: (level, fields, message) => o.log[level](fields, message),
    });
    this.idleSweep = setInterval(() => this.dropIdle(), 1000);
    this.idleSweep.unref();
  }

  get connectionCount(): number {
    return this.listener.connectionCount;
  }

  listen(): Promise<number> {
    return this.listener.listen();
  }

  async close(): Promise<void> {
    clearInterval(this.idleSweep);
    await Promise.all([...this.live].map((l) => l.peer.stopPublish('shutdown', 'server shutting down')));
    await this.listener.close();
  }

  private dropIdle(): void {
    for (const l of this.live) {
      if (l.publishing() && (l.handle?.msSinceData() ?? 0) > this.o.idleMediaTimeoutMs) {
        void l.peer.stopPublish('idle', `No media received for ${Math.round(this.o.idleMediaTimeoutMs / 1000)} s; closing.`);
      }
    }
  }

  private async decide(caller: SrtCaller): Promise<SrtDecision> {
    await this.opened;
    const log = this.o.log.child({ session: randomBytes(6).toString('hex'), remote: caller.remoteAddr, protocol: 'srt' });
    const request = parseStreamId(caller.streamId);
    if (!request) return { ok: false, code: REJX_BAD_REQUEST, reason: `stream id "${caller.streamId}" names no live/<channel>` };
    if (request.mode !== 'publish') return { ok: false, code: REJX_BAD_MODE, reason: `m=${request.mode}: this gateway only takes publishers over SRT; play over HTTP (HLS)` };
    const [path, query] = splitOnce(request.resource, '?');
    const [app, channel] = splitOnce(path, '/');
    if (app !== 'live' || !channel) return { ok: false, code: REJX_BAD_REQUEST, reason: `stream id resource must be live/<channel>, not "${path}"` };

    let handle: SrtConnectionHandle | undefined;
    let sink: Extract<PublishDecision, { ok: true }>['sink'] | undefined;
    let ended: Promise<void> | undefined;
    const end = (reason: PushEndReason, detail: string) => (ended ??= sink ? sink.end(reason, detail) : Promise.resolve());
    const entry = {
      handle: undefined as SrtConnectionHandle | undefined,
      publishing: () => sink !== undefined && ended === undefined,
      peer: {
        remoteAddr: caller.remoteAddr,
        log,
        msSinceMedia: () => handle?.msSinceData() ?? 0,
        link: () => ({ protocol: 'srt' as const, ...(handle ? { ...handle.stats } : {}) }),
        stopPublish: async (reason: PushEndReason, description: string) => {
          log.info({ reason, description }, 'SRT publish stopped by the gateway');
          // the end's reason first: closing the connection reports the caller gone
          const ending = end(reason, description);
          handle?.close();
          await ending;
        },
      } satisfies PublishingPeer,
    };
    const decision = await this.o.authorizer.authorize(
      { app: 'live', tcUrl: `srt://${request.host ?? this.o.config.host}/live`, streamName: query === undefined ? channel : `${channel}?${query}`, remoteAddr: caller.remoteAddr, answerBy: Date.now() + this.o.answerWithinMs },
      entry.peer,
    );
    if (!decision.ok) {
      log.info({ stream: channel, reason: decision.description }, 'SRT publish refused');
      return { ok: false, code: rejectionCode(decision), reason: decision.description };
    }
    sink = decision.sink;
    const demuxer = new TsDemuxer();
    const es = new EsToFlv();
    const deliver = (packets: PesPacket[]) => {
      for (const pes of packets) for (const tag of es.push(pes)) sink!.media(tag.type, tag.timestamp, Buffer.from(tag.data.buffer, tag.data.byteOffset, tag.data.byteLength));
    };
    let noticed = 0;
    const notice = () => {
      for (const n of demuxer.notices.splice(0)) if (noticed++ < 20) log.warn({ pid: n.pid, kind: n.kind }, n.detail);
      for (const n of es.notices.splice(0)) if (noticed++ < 20) log.warn(n);
    };
    this.live.add(entry);
    this.o.metrics.srtConnections.inc();
    log.info({ stream: channel, latencyMs: caller.latencyMs, encrypted: caller.encrypted }, 'SRT publish started');
    return {
      ok: true,
      attach: (h) => {
        handle = h;
        entry.handle = h;
      },
      payload: (bytes) => {
        if (ended) return;
        deliver(demuxer.push(bytes));
        if (demuxer.notices.length > 0 || es.notices.length > 0) notice();
      },
      closed: (reason) => {
        this.live.delete(entry);
        this.o.metrics.srtConnections.dec();
        if (handle) {
          const s = handle.stats;
          this.o.metrics.srtPackets.inc({ kind: 'received' }, s.packetsReceived);
          this.o.metrics.srtPackets.inc({ kind: 'retransmitted' }, s.packetsRetransmitted);
          this.o.metrics.srtPackets.inc({ kind: 'lost' }, s.packetsLost);
          this.o.metrics.srtPackets.inc({ kind: 'dropped' }, s.packetsDropped);
          log.info({ reason, ...s }, 'SRT connection closed');
        }
        // what is still being gathered: audio PES say their length, so a whole one is handed on;
        // a video PES does not, and a caller closing may not have sent it whole (libsrt drops
        // what is unsent at close), so the last one is not
        if (!ended) deliver(demuxer.flush(false));
        void end(END_REASON[reason], reason === 'timeout' ? 'the SRT peer went silent' : 'the SRT caller closed the connection');
      },
    };
  }
}

function splitOnce(s: string, by: string): [string, string | undefined] {
  const at = s.indexOf(by);
  return at < 0 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)];
}
