import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Catalog } from './catalog/catalog.js';
import { SqliteCatalog } from './catalog/sqlite-catalog.js';
import type { Config } from './config.js';
import { buildHttpServer } from './http/server.js';
import { UrlBuilder } from './http/urls.js';
import { noLiveSessions, type LiveSessions } from './live/live-sessions.js';
import { FsObjectStore } from './storage/fs-store.js';
import type { ObjectStore } from './storage/object-store.js';

export interface App {
  readonly config: Config;
  readonly catalog: Catalog;
  readonly http: FastifyInstance;
  readonly urls: UrlBuilder;
  storeFor(bucket: string): ObjectStore;
  /** Bound HTTP port (after start). */
  httpPort(): number;
  /** RTMP port publishers connect to. */
  rtmpPort(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createApp(config: Config, options: { now?: () => number; live?: LiveSessions } = {}): App {
  const catalog = new SqliteCatalog(join(config.dataDir, 'catalog.db'));
  const stores = new Map<string, ObjectStore>(config.buckets.map((b) => [b.name, new FsObjectStore(b.storage.root)]));
  const storeFor = (bucket: string) => {
    const store = stores.get(bucket);
    if (!store) throw new Error(`no store for bucket ${bucket}`);
    return store;
  };
  let httpPort = config.http.port;
  const rtmpPort = config.rtmp.port;
  const urls = new UrlBuilder({ publicHost: config.publicHost, httpPort: () => httpPort, rtmpPort: () => rtmpPort });
  const http = buildHttpServer({
    ...config,
    catalog,
    live: options.live ?? noLiveSessions,
    urls,
    storeFor,
    now: options.now,
  });

  return {
    config,
    catalog,
    http,
    urls,
    storeFor,
    httpPort: () => httpPort,
    rtmpPort: () => rtmpPort,
    async start() {
      const closed = await catalog.closeOpenPushes(Date.now());
      if (closed > 0) http.log.warn({ closed }, 'closed push records left open by an unclean shutdown');
      await http.listen({ host: config.http.host, port: config.http.port });
      httpPort = (http.server.address() as AddressInfo).port;
    },
    async stop() {
      await http.close();
      await catalog.close();
    },
  };
}
