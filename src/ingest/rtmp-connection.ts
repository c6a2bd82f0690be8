import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { TLSSocket } from 'node:tls';
import type { LiveLinkStat } from '../live/live-sessions.js';
import type { PushEndReason } from '../catalog/catalog.js';
import { rejoinSplitStreamKey } from './push-query.js';
import { createRtmpProtocol, RtmpProtocolError, type RtmpProtocol } from './rtmp-protocol.js';
import { readSocket } from './shared-read-buffer.js';

/** What a publisher asked for, as the connection saw it. */
export interface PublishRequest {
  app: string;
  tcUrl: string;
  /** Stream name as sent, query included. */
  streamName: string;
  remoteAddr: string;
  /** When the publisher's connection is let go if it has no answer (epoch ms): a wait for room ends before. */
  answerBy?: number;
  /** Whether the publisher left while its publish was being decided. */
  gone?: () => boolean;
}

/** Receives one publish's media. */
export interface MediaSink {
  /** Lets the sink pause and resume reading from the publisher (TCP backpressure). */
  attachFlowControl?(pause: (paused: boolean) => void): void;
  media(type: number, timestamp: number, payload: Buffer): void;
  /** The publish ended (unpublish, disconnect, shutdown); resolves when everything is flushed. */
  end(reason: PushEndReason, detail: string): Promise<void>;
}

export type PublishDecision =
  | { ok: true; sink: MediaSink; description: string }
  | { ok: false; code: string; description: string };

/** What the publish path needs of the publisher's connection, whichever protocol brought it. */
export interface PublishingPeer {
  readonly remoteAddr: string;
  readonly log: FastifyBaseLogger;
  /** How long the publisher has sent no media. */
  msSinceMedia(): number;
  /** Tells the publisher why (as its protocol can), ends the publish and closes the connection. */
  stopPublish(reason: PushEndReason, description: string): Promise<void>;
  /** The link's figures for stat. */
  link(): LiveLinkStat;
}

export interface PublishAuthorizer {
  authorize(request: PublishRequest, connection: PublishingPeer): Promise<PublishDecision>;
}

export interface ConnectionLimits {
  maxMessageSize: number;
  maxChunkStreams: number;
  /** Media buffered while a publish is being authorised. */
  maxPendingBytes: number;
  /** A connection that has not started publishing after this long is closed. */
  publishTimeoutMs: number;
  onLimit?: (limit: string, peer: string, detail: string) => void;
}

/** The RTMP status a publisher stopped by the gateway receives, by reason (NetStream.Publish.Stopped otherwise). */
const STOP_CODES: Partial<Record<PushEndReason, string>> = {
  idle: 'NetStream.Publish.Idle',
  replaced: 'NetStream.Publish.BadName',
};

type State = 'handshake' | 'connected' | 'authorizing' | 'publishing' | 'closed';

export function remoteAddress(socket: Socket): string {
  const host = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

/** One RTMP client: handshake, connect, then at most one publish at a time. */
export class RtmpConnection {
  readonly remoteAddr: string;
  /** Short id on every log line of this connection and of its publishes. */
  readonly id = randomBytes(6).toString('hex');
  readonly log: FastifyBaseLogger;
  private readonly protocol: RtmpProtocol;
  private state: State = 'handshake';
  private app = '';
  private tcUrl = '';
  private streamId = 0;
  private bytesIn = 0;
  private lastAck = 0;
  private sink: MediaSink | undefined;
  private pending: { type: number; timestamp: number; payload: Buffer }[] = [];
  private pendingBytes = 0;
  private ending: Promise<void> | undefined;
  /** Why the gateway is closing this connection, when it is the one closing it. */
  private stopReason: PushEndReason | undefined;
  private lastMediaAt = Date.now();
  /** Reading is paused by flow control: the publisher is not silent, we are not listening. */
  private readPaused = false;
  private readonly publishDeadline: NodeJS.Timeout;
  private readonly publishDeadlineAt: number;
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly authorizer: PublishAuthorizer,
    private readonly limits: ConnectionLimits,
    parentLog: FastifyBaseLogger,
  ) {
    this.remoteAddr = remoteAddress(socket);
    this.log = parentLog.child({ session: this.id, remote: this.remoteAddr });
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.protocol = createRtmpProtocol(
      {
        output: (data) => {
          if (!socket.destroyed) socket.write(data);
        },
        connect: (info) => this.onConnect(info.app, info.tcUrl, info.transId),
        publish: (info) => void this.onPublish(info.streamName, info.streamId),
        unpublish: (command) => void this.endPublish('unpublished', `publisher sent ${command}`),
        media: (type, timestamp, payload) => this.onMedia(type, timestamp, payload),
        play: () => this.refuse('NetStream.Play.Failed', 'This server only accepts publishing; play the channel over HTTP (HLS).'),
      },
      limits,
    );
    socket.setNoDelay(true);
    this.publishDeadlineAt = Date.now() + limits.publishTimeoutMs;
    this.publishDeadline = setTimeout(() => {
      if (this.state === 'publishing' || this.state === 'closed') return;
      limits.onLimit?.('rtmp_publish_timeout', this.remoteAddr, `no publish within ${limits.publishTimeoutMs} ms`);
      void this.close('no publish in time');
    }, limits.publishTimeoutMs);
    this.publishDeadline.unref();
    readSocket(socket, (data) => this.onData(data));
    socket.on('error', (err) => this.log.debug({ err }, 'rtmp socket error'));
    socket.on('close', () => void this.onSocketClosed());
  }

  get publishing(): boolean {
    return this.state === 'publishing';
  }

  /** How long the publisher has sent no media (0 while flow control holds its reading). */
  link(): LiveLinkStat {
    return { protocol: this.socket instanceof TLSSocket ? 'rtmps' : 'rtmp' };
  }

  msSinceMedia(): number {
    return this.readPaused ? 0 : Date.now() - this.lastMediaAt;
  }

  /** Ends the connection (and its publish; `why` goes to its history record). */
  close(reason: string, why?: PushEndReason): Promise<void> {
    this.stopReason ??= why;
    if (this.state !== 'closed') {
      this.log.info({ reason }, 'closing rtmp connection');
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 200).unref();
    }
    return this.closed;
  }

  /**
   * Tells the publisher why it is being stopped, ends its publish at once (whatever it sends
   * from now on is dropped), then closes.
   */
  stopPublish(why: PushEndReason, description: string): Promise<void> {
    this.stopReason ??= why;
    if (this.state === 'publishing') this.protocol.sendStatus(this.streamId, 'error', STOP_CODES[why] ?? 'NetStream.Publish.Stopped', description);
    void this.endPublish(why, description);
    return this.close(description);
  }

  private onData(data: Buffer): void {
    if (this.state === 'closed') return;
    if (this.bytesIn === 0 && data[0] !== 3) {
      // C0 must announce RTMP version 3 (an HTTP request, RTMPE, or garbage otherwise)
      if (data[0] === 0x16) this.log.info({ firstByte: data[0] }, 'a TLS handshake on the plain RTMP port (rtmps:// goes to the RTMPS port); closing');
      else this.log.info({ firstByte: data[0] }, 'not an RTMP handshake; closing');
      this.state = 'closed';
      this.socket.destroy();
      return;
    }
    this.bytesIn += data.length;
    try {
      this.protocol.feed(data);
    } catch (err) {
      if (err instanceof RtmpProtocolError) this.limits.onLimit?.('rtmp_protocol', this.remoteAddr, err.message);
      this.log.warn({ err: (err as Error).message }, 'rtmp protocol error; closing');
      void this.close(`protocol error: ${(err as Error).message}`);
      return;
    }
    const window = this.protocol.ackWindow();
    if (window && this.bytesIn - this.lastAck >= window) {
      this.protocol.sendAck(this.bytesIn);
      this.lastAck = this.bytesIn;
    }
  }

  private onConnect(app: string, tcUrl: string, transId: number): void {
    // A wrong application is refused at publish time: ffmpeg and OBS show a publish
    // status's description, but not a connect _error's.
    this.app = app;
    this.tcUrl = tcUrl;
    this.state = 'connected';
    this.protocol.acceptConnect(transId);
  }

  private async onPublish(sentStreamName: string, streamId: number): Promise<void> {
    if (this.state !== 'connected') {
      this.protocol.sendStatus(streamId, 'error', 'NetStream.Publish.BadName', 'Already publishing on this connection.');
      return;
    }
    this.state = 'authorizing';
    this.streamId = streamId;
    const { app, streamName } = rejoinSplitStreamKey(this.app, sentStreamName);
    const appName = app.split('?')[0]!.replace(/\/+$/, '');
    if (appName !== 'live') {
      this.refuse('NetStream.Publish.BadName', `RTMP application must be "live", not "${appName}": push to rtmp://host/live/<channel>.`);
      return;
    }
    let decision: PublishDecision;
    try {
      decision = await this.authorizer.authorize(
        { app, tcUrl: this.tcUrl, streamName, remoteAddr: this.remoteAddr, answerBy: this.publishDeadlineAt, gone: () => this.state === 'closed' },
        this,
      );
    } catch (err) {
      this.log.error({ err }, 'publish authorisation failed');
      decision = { ok: false, code: 'NetStream.Publish.Failed', description: 'Internal error while authorising the publish.' };
    }
    if (!decision.ok) {
      this.log.info({ stream: streamName.split('?')[0], reason: decision.description }, 'publish refused');
      this.refuse(decision.code, decision.description);
      return;
    }
    if (this.state !== 'authorizing') {
      await decision.sink.end(this.stopReason ?? 'disconnected', 'publisher left before the publish started');
      return;
    }
    this.sink = decision.sink;
    this.lastMediaAt = Date.now();
    this.sink.attachFlowControl?.((paused) => {
      this.readPaused = paused;
      if (paused) {
        this.socket.pause();
      } else {
        this.lastMediaAt = Date.now();
        this.socket.resume();
      }
    });
    this.state = 'publishing';
    this.protocol.sendStatus(streamId, 'status', 'NetStream.Publish.Start', decision.description);
    for (const m of this.pending) this.sink.media(m.type, m.timestamp, m.payload);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private refuse(code: string, description: string): void {
    this.protocol.sendStatus(this.streamId, 'error', code, description);
    this.state = 'connected';
    void this.close(description);
  }

  private onMedia(type: number, timestamp: number, payload: Buffer): void {
    this.lastMediaAt = Date.now();
    if (this.state === 'publishing') {
      this.sink!.media(type, timestamp, payload);
    } else if (this.state === 'authorizing' && this.pendingBytes + payload.length <= this.limits.maxPendingBytes) {
      this.pending.push({ type, timestamp, payload: Buffer.from(payload) });
      this.pendingBytes += payload.length;
    }
  }

  private endPublish(reason: PushEndReason, detail: string): Promise<void> {
    const sink = this.sink;
    if (!sink) return this.ending ?? Promise.resolve();
    this.sink = undefined;
    if (this.state === 'publishing') this.state = 'connected';
    this.ending = sink.end(reason, detail);
    return this.ending;
  }

  private async onSocketClosed(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.publishDeadline);
    this.pending = [];
    await this.endPublish(this.stopReason ?? 'disconnected', 'connection closed');
    this.markClosed();
  }
}
