import type { Catalog } from '../catalog/catalog.js';
import { longestSegmentMs } from '../media/segmenter.js';

/** What the owner of an LL-HLS channel answered. */
export type PeerAnswer =
  | { ok: true; status: number; headers: Record<string, string>; body: Buffer }
  | { ok: false; status: number; code: string; message: string; extra: Record<string, string> };

export interface LowLatencyPeersOptions {
  catalog: Catalog;
  nodeId: string;
  /** The header the owner checks its token in. */
  tokenHeader: string;
  now?: () => number;
}

interface Cached<T> {
  at: number;
  value: T;
}

const CHANNEL_TTL_MS = 2000;
const LEASE_TTL_MS = 500;
const MAX_CACHED = 10_000;
/** What an LL-HLS publish serves from memory: its playlist, parts, newest segments and init segments. */
const LOW_LATENCY_OBJECT = /\.(m3u8|m4s|mp4)$/;
const FORWARDED_PARAMS = ['_HLS_msn', '_HLS_part', '_HLS_skip'];

/**
 * Requests for an LL-HLS channel that another process publishes: its parts and blocking
 * playlist reloads exist only in that process's memory. The owner is found through the
 * catalog (the channel's options, then its publish lease and the peer endpoint recorded
 * with it, each cached for a moment), and the request is forwarded there. Undefined when
 * the channel is not LL-HLS, not live, live here, or its owner cannot be reached: storage
 * answers then (the stored, plain playlist plays, with the usual latency).
 */
export class LowLatencyPeers {
  /** LL-HLS channels: how long a forwarded request may take; undefined for other channels. */
  private readonly channels = new Map<string, Cached<number | undefined>>();
  private readonly owners = new Map<string, Cached<{ url: string; token: string } | undefined>>();
  private readonly now: () => number;

  constructor(private readonly o: LowLatencyPeersOptions) {
    this.now = o.now ?? Date.now;
  }

  async forward(bucket: string, key: string, query: ReadonlyMap<string, string>): Promise<PeerAnswer | undefined> {
    const slash = key.indexOf('/');
    if (slash <= 0 || !LOW_LATENCY_OBJECT.test(key)) return undefined;
    const channel = key.slice(0, slash);
    const timeoutMs = await this.lowLatencyTimeout(bucket, channel);
    if (timeoutMs === undefined) return undefined;
    const owner = await this.owner(bucket, channel);
    if (!owner) return undefined;
    const params = new URLSearchParams();
    for (const p of FORWARDED_PARAMS) {
      const v = query.get(p);
      if (v !== undefined) params.set(p, v);
    }
    const path = [bucket, ...key.split('/')].map(encodeURIComponent).join('/');
    let res: Response;
    try {
      res = await fetch(`${owner.url}/${path}${params.size > 0 ? `?${params}` : ''}`, {
        headers: { [this.o.tokenHeader]: owner.token },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch {
      this.owners.delete(`${bucket}\u0000${channel}`);
      return undefined;
    }
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 404 || res.status === 403) return undefined;
    if (res.status >= 400) {
      const error = JSON.parse(body.toString() || '{}') as { code?: string; message?: string; extra?: Record<string, string> };
      return { ok: false, status: res.status, code: error.code ?? 'InternalError', message: error.message ?? `The publishing node answered ${res.status}.`, extra: error.extra ?? {} };
    }
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'etag', 'last-modified', 'cache-control', 'accept-ranges', 'x-oss-object-type']) {
      const v = res.headers.get(h);
      if (v !== null) headers[h] = v;
    }
    return { ok: true, status: res.status, headers, body };
  }

  /**
   * Undefined unless the channel is LL-HLS. A blocking reload may wait three target durations,
   * and a segment may last up to longestSegmentMs (the forced cut).
   */
  private async lowLatencyTimeout(bucket: string, channel: string): Promise<number | undefined> {
    return this.cached(this.channels, `${bucket}\u0000${channel}`, CHANNEL_TTL_MS, async () => {
      const c = await this.o.catalog.getChannel(bucket, channel);
      return c?.hls?.partDuration === undefined ? undefined : 3 * longestSegmentMs(c.fragDuration) + 5000;
    });
  }

  private async owner(bucket: string, channel: string): Promise<{ url: string; token: string } | undefined> {
    return this.cached(this.owners, `${bucket}\u0000${channel}`, LEASE_TTL_MS, async () => {
      const lease = await this.o.catalog.getLease(bucket, channel, this.now());
      if (!lease?.peer || lease.nodeId === this.o.nodeId) return undefined;
      try {
        return JSON.parse(lease.peer) as { url: string; token: string };
      } catch {
        return undefined;
      }
    });
  }

  private async cached<T>(map: Map<string, Cached<T>>, slot: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = map.get(slot);
    if (hit && now - hit.at < ttlMs) return hit.value;
    const value = await load();
    if (map.size >= MAX_CACHED) map.clear();
    map.set(slot, { at: now, value });
    return value;
  }
}
