import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { prng } from './packager-run.js';

export interface FaultPlan {
  /** Added before forwarding, ms. */
  latencyMs?: number;
  /** Share of requests answered 503 ServiceUnavailable (0..1). */
  failRate?: number;
  /** Share of requests whose connection is reset. */
  resetRate?: number;
  /** Share of requests never answered (until the client gives up). */
  stallRate?: number;
  /** Every connection is closed on arrival: storage unreachable. */
  down?: boolean;
  /** Faults apply to these methods only (all when absent). */
  methods?: string[];
}

export interface ProxyStats {
  requests: number;
  failed: number;
  resets: number;
  stalls: number;
  refused: number;
  forwarded: number;
}

/** An HTTP proxy in front of an OSS-speaking server that injects faults, for storage tests. */
export class FaultProxy {
  plan: FaultPlan = {};
  readonly stats: ProxyStats = { requests: 0, failed: 0, resets: 0, stalls: 0, refused: 0, forwarded: 0 };
  /** Sees every forwarded request with its body, before it reaches the target. */
  onForward?: (req: IncomingMessage, body: Buffer) => void;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly random = prng(20261123);

  private constructor(private readonly targetPort: number) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      if (this.plan.down) {
        this.stats.refused++;
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(targetPort: number): Promise<FaultProxy> {
    const p = new FaultProxy(targetPort);
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    return p;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Goes down (every open connection cut, new ones refused) or comes back. */
  setDown(down: boolean): void {
    this.plan.down = down;
    if (down) for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const p = this.plan;
    const applies = !p.methods || p.methods.includes(req.method ?? '');
    if (applies && p.latencyMs) await new Promise((r) => setTimeout(r, p.latencyMs));
    if (applies) {
      const roll = this.random();
      if (roll < (p.resetRate ?? 0)) {
        this.stats.resets++;
        req.socket.destroy();
        return;
      }
      if (roll < (p.resetRate ?? 0) + (p.stallRate ?? 0)) {
        this.stats.stalls++;
        return; // never answered; closed by the client's timeout or close()
      }
      if (roll < (p.resetRate ?? 0) + (p.stallRate ?? 0) + (p.failRate ?? 0)) {
        this.stats.failed++;
        res.writeHead(503, { 'content-type': 'application/xml', 'x-oss-request-id': 'FAULTPROXY' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Injected by the fault proxy.</Message><RequestId>FAULTPROXY</RequestId><HostId>proxy</HostId></Error>');
        return;
      }
    }
    this.onForward?.(req, body);
    this.stats.forwarded++;
    const upstream = request(
      { host: '127.0.0.1', port: this.targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }
}
