import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { LowLatencyStreams } from '../live/low-latency.js';
import { OssError } from '../oss/errors.js';
import { getLowLatency } from './low-latency-api.js';

/** The header a peer request carries its token in. */
export const PEER_TOKEN_HEADER = 'x-livechannel-peer-token';

export interface PeerServerOptions {
  host: string;
  port: number;
  /** The host other nodes use to reach this one (default: `host`). */
  advertiseHost?: string;
  lowLatency: LowLatencyStreams;
  log: FastifyBaseLogger;
}

/** How other nodes reach this one: recorded with each publish lease it takes. */
export interface PeerEndpoint {
  url: string;
  token: string;
}

/**
 * What another gateway process asks of this one: the LL-HLS playlists, parts and newest
 * segments only this process holds (it publishes the channel). A viewer's request reaches
 * whichever process the load balancer (or the cluster module) picked; that one authorizes it
 * and forwards it here. Requests carry the random token this process recorded in the catalog
 * with its lease, so only nodes that read the catalog can ask.
 */
export class PeerServer {
  private readonly token = randomBytes(16).toString('hex');
  private server: Server | undefined;
  private endpoint: PeerEndpoint | undefined;

  constructor(private readonly o: PeerServerOptions) {}

  async start(): Promise<PeerEndpoint> {
    const server = createServer((req, res) => {
      void this.answer(req.method, req.url ?? '/', req.headers[PEER_TOKEN_HEADER]).then(
        ({ status, headers, body }) => {
          res.writeHead(status, headers);
          res.end(body);
        },
        (err) => {
          this.o.log.warn({ err }, 'peer request failed');
          res.writeHead(500).end();
        },
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // exclusive: a cluster worker's own port, not one shared with its siblings
      server.listen({ port: this.o.port, host: this.o.host, exclusive: true }, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const host = this.o.advertiseHost ?? this.o.host;
    this.endpoint = { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, token: this.token };
    return this.endpoint;
  }

  /** What this node records with its leases (undefined before start). */
  get descriptor(): string | undefined {
    return this.endpoint && JSON.stringify(this.endpoint);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(method: string | undefined, url: string, token: string | string[] | undefined): Promise<{ status: number; headers: Record<string, string>; body?: Buffer }> {
    if (typeof token !== 'string' || !sameSecret(token, this.token)) return { status: 403, headers: {} };
    if (method !== 'GET') return { status: 405, headers: {} };
    const parsed = new URL(url, 'http://peer');
    const [, bucket, ...rest] = parsed.pathname.split('/').map(decodeURIComponent);
    if (!bucket || rest.length === 0) return { status: 404, headers: {} };
    const query = new Map(parsed.searchParams);
    const read = { method: 'GET' as const, requestHeaders: {}, overrides: new Map<string, string>(), publicRead: false };
    try {
      const r = await getLowLatency(this.o.lowLatency, bucket, rest.join('/'), query, read, Date.now());
      if (!r) return { status: 404, headers: {} };
      return { status: r.status, headers: r.headers, body: r.body as Buffer | undefined };
    } catch (err) {
      if (!(err instanceof OssError)) throw err;
      return { status: err.status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ code: err.code, message: err.message, extra: err.extra })) };
    }
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
