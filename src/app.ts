import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Catalog } from './catalog/catalog.js';
import { SqliteCatalog } from './catalog/sqlite-catalog.js';
import type { Config } from './config.js';
import { buildHttpServer } from './http/server.js';
import { UrlBuilder } from './http/urls.js';
import { RtmpIngest } from './ingest/rtmp-server.js';
import { FsObjectStore } from './storage/fs-store.js';
import type { ObjectStore } from './storage/object-store.js';

export interface App {
  readonly config: Config;
  readonly catalog: Catalog;
  readonly http: FastifyInstance;
  readonly urls: UrlBuilder;
  readonly ingest: RtmpIngest;
  storeFor(bucket: string): ObjectStore;
  /** Bound HTTP port (after start). */
  httpPort(): number;
  /** Bound RTMP port (after start). */
  rtmpPort(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createApp(config: Config, options: { now?: () => number } = {}): App {
  const catalog = new SqliteCatalog(join(config.dataDir, 'catalog.db'));
  const stores = new Map<string, ObjectStore>(config.buckets.map((b) => [b.name, new FsObjectStore(b.storage.root)]));
  const storeFor = (bucket: string) => {
    const store = stores.get(bucket);
    if (!store) throw new Error(`no store for bucket ${bucket}`);
    return store;
  };
  let httpPort = config.http.port;
  let rtmpPort = config.rtmp.port;
  const urls = new UrlBuilder({ publicHost: config.publicHost, httpPort: () => httpPort, rtmpPort: () => rtmpPort });
  let ingest!: RtmpIngest;
  const http = buildHttpServer({
    ...config,
    catalog,
    live: { stat: (b, c) => ingest.registry.stat(b, c), disconnect: (b, c, r) => ingest.registry.disconnect(b, c, r) },
    urls,
    storeFor,
    now: options.now,
  });
  ingest = new RtmpIngest({ ...config, catalog, storeFor, log: http.log, now: options.now });

  return {
    config,
    catalog,
    http,
    urls,
    ingest,
    storeFor,
    httpPort: () => httpPort,
    rtmpPort: () => rtmpPort,
    async start() {
      const closed = await catalog.closeOpenPushes(Date.now());
      if (closed > 0) http.log.warn({ closed }, 'closed push records left open by an unclean shutdown');
      for (const store of stores.values()) await store.cleanUp?.();
      await http.listen({ host: config.http.host, port: config.http.port });
      httpPort = (http.server.address() as AddressInfo).port;
      rtmpPort = await ingest.listen(config.rtmp.host, config.rtmp.port);
    },
    async stop() {
      // publishers first: their last segments, playlists and history must reach storage
      await ingest.close();
      await http.close();
      await catalog.close();
    },
  };
}
