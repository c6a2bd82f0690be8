import { isIP, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import type { Catalog } from './catalog/catalog.js';
import { createCatalog } from './catalog/open-catalog.js';
import { ClusterLive } from './cluster/cluster-live.js';
import { PublishLeases } from './cluster/publish-leases.js';
import { DEMO_CREDENTIALS_FILE, type BucketConfig, type Config } from './config.js';
import { EventRecorder } from './events/event-recorder.js';
import { OutboxSender } from './events/outbox-sender.js';
import { PublishHook } from './events/publish-hook.js';
import { SigningKey } from './events/signing-key.js';
import { UploadCallbacks } from './events/upload-callback.js';
import { listenOn, listenOr } from './listen-error.js';
import { GuardedClient } from './egress/guarded-client.js';
import { buildHttpServer } from './http/server.js';
import { SegmentCache } from './http/segment-cache.js';
import { UrlBuilder } from './http/urls.js';
import { RememberedCost } from './ingest/remembered-cost.js';
import { RtmpIngest } from './ingest/rtmp-server.js';
import { SrtIngest } from './ingest/srt-ingest.js';
import { CertificateStore } from './tls/certificate-store.js';
import { secureHttpServer } from './tls/tls-servers.js';
import { LimitReporter, RequestRateLimiter } from './limits.js';
import { LivePlaylists } from './live/live-playlists.js';
import { LowLatencyStreams } from './live/low-latency.js';
import { LowLatencyPeers } from './cluster/low-latency-peers.js';
import { PEER_TOKEN_HEADER, PeerServer } from './http/peer-server.js';
import { Metrics } from './metrics.js';
import { RetentionSweeper } from './retention/retention-sweeper.js';
import { findSnapshotDecoders } from './snapshots/find-decoders.js';
import { FsObjectStore } from './storage/fs-store.js';
import { OssObjectStore } from './storage/oss-store.js';
import type { ObjectStore } from './storage/object-store.js';
import { HealthMonitor } from './health/health-monitor.js';
import { registerChannelMetrics } from './health/channel-metrics.js';

export interface App {
  readonly config: Config;
  /** This gateway's name in logs, metrics, history and leases. */
  readonly nodeId: string;
  readonly catalog: Catalog;
  readonly http: FastifyInstance;
  readonly urls: UrlBuilder;
  readonly ingest: RtmpIngest;
  readonly metrics: Metrics;
  storeFor(bucket: string): ObjectStore;
  /** Bound HTTP port (after start). */
  httpPort(): number;
  /** Bound RTMP port (after start). */
  rtmpPort(): number;
  /** Bound RTMPS, HTTPS and SRT ports (after start; undefined when off). */
  rtmpsPort(): number | undefined;
  srtPort(): number | undefined;
  httpsPort(): number | undefined;
  /** Reads the TLS certificate and key again (SIGHUP); false when there is no TLS or the new pair was refused. */
  reloadTls(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The TLS certificate store, its expiry in the metrics, its reloads and refusals in the log. */
function openCertificates(tls: { cert: string; key: string }, log: FastifyBaseLogger, metrics: Metrics): CertificateStore {
  const store = new CertificateStore({
    certFile: tls.cert,
    keyFile: tls.key,
    onReload: (pair) => log.info({ serial: pair.serial, subject: pair.subject, notAfter: pair.notAfter.toISOString() }, 'TLS certificate reloaded; new connections get it'),
    onError: (message) => log.error(`TLS certificate not reloaded: ${message}`),
  });
  store.serve((pair) => metrics.tlsCertificateExpiry.set(pair.notAfter.getTime() / 1000));
  return store;
}

function storeOf(b: BucketConfig): ObjectStore {
  return b.storage.type === 'fs' ? new FsObjectStore(b.storage.root) : new OssObjectStore(b.storage);
}

/** Play URLs of an OSS-backed bucket: its CDN, or the storage bucket itself. */
function objectBaseOf(b: BucketConfig): string | undefined {
  const s = b.storage;
  if (s.type !== 'oss') return undefined;
  const prefix = (s.prefix ?? '').replace(/\/$/, '');
  if (s.cdnBaseUrl) return s.cdnBaseUrl + (prefix ? `/${prefix}` : '');
  const url = new URL(s.endpoint);
  const pathStyle = isIP(url.hostname) !== 0 || url.hostname === 'localhost';
  const base = pathStyle ? `${url.protocol}//${url.host}/${s.bucket}` : `${url.protocol}//${s.bucket}.${url.host}`;
  return base + (prefix ? `/${prefix}` : '');
}

/**
 * Host name + RTMP port, which a restart keeps, so that it releases the leases its previous
 * run died holding. With an ephemeral port, host name + data dir serves the same way.
 */
export function defaultNodeId(config: Config): string {
  return `${hostname()}:${config.rtmp.port || config.dataDir}`;
}

export interface AppOptions {
  now?: () => number;
  /** See HttpServerOptions.metricsText. */
  metricsText?: () => Promise<{ text: string; contentType: string }>;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const nodeId = config.nodeId ?? defaultNodeId(config);
  let log: FastifyInstance['log'] | undefined;
  const catalog = createCatalog(config.catalog, config.dataDir, (err, what) => log?.warn({ err }, `${what} failed`));
  const stores = new Map<string, ObjectStore>(config.buckets.map((b) => [b.name, storeOf(b)]));
  const storeFor = (bucket: string) => {
    const store = stores.get(bucket);
    if (!store) throw new Error(`no store for bucket ${bucket}`);
    return store;
  };
  let httpPort = config.http.port;
  let rtmpPort = config.rtmp.port;
  let rtmpsPort: number | undefined;
  let srtPort: number | undefined;
  let httpsPort: number | undefined;
  let certificates: CertificateStore | undefined;
  let https: HttpsServer | undefined;
  const bases = new Map(config.buckets.map((b) => [b.name, objectBaseOf(b)]));
  const urls = new UrlBuilder({
    publicHost: config.publicHost,
    httpPort: () => httpPort,
    rtmpPort: () => rtmpPort,
    rtmpsPort: () => rtmpsPort,
    httpsPort: () => httpsPort,
    objectBase: (b) => bases.get(b),
  });
  let ingest!: RtmpIngest;
  const metrics = new Metrics(true);
  metrics.nodeInfo.set({ node: nodeId }, 1);
  let ready = false;
  let reporter!: LimitReporter;
  const keyBuckets = new Map(config.credentials.filter((c) => c.buckets).map((c) => [c.accessKeyId, new Set(c.buckets)]));
  const limiter = new RequestRateLimiter(config.limits.apiRequestsPerSecond, config.limits.apiBurst, (peer, who) => reporter.hit('api_rate', peer, who));
  const playlists = new LivePlaylists();
  const lowLatency = new LowLatencyStreams();
  const segments =
    config.playback.segmentCacheBytes > 0
      ? new SegmentCache({ maxBytes: config.playback.segmentCacheBytes, ttlMs: config.playback.segmentCacheTtlMs, now: options.now })
      : undefined;
  const readLimiter =
    config.limits.readRequestsPerSecondPerIp > 0
      ? new RequestRateLimiter(config.limits.readRequestsPerSecondPerIp, config.limits.readBurst, (peer) => reporter.hit('read_rate', peer))
      : undefined;
  let leases!: PublishLeases;
  let live!: ClusterLive;
  let health: HealthMonitor | undefined;
  const recorder = new EventRecorder(config.notifications, nodeId, metrics, options.now);
  let signingKey: Promise<SigningKey> | undefined;
  // made (or read) on first use: at start when notifications are configured, else at the first upload callback
  const key = () => (signingKey ??= SigningKey.load(config.dataDir, config.events.privateKeyFile));
  const publicKeyUrl = async () => urls.gatewayUrl(`/_livechannel/events-key/${(await key()).keyId}.pem`);
  let sender: OutboxSender | undefined;
  const snapshots = findSnapshotDecoders(config.snapshots, metrics);
  const http = buildHttpServer({
    ...config,
    nodeId,
    metrics,
    metricsText: options.metricsText,
    limiter,
    readLimiter,
    keyBuckets,
    maxBodyBytes: config.limits.httpMaxBodyBytes,
    onLimit: (limit, peer) => reporter.hit(limit, peer),
    ready: async () => {
      if (!ready) return 'starting or stopping';
      const busy = ingest.load.busy();
      if (busy) return `gateway busy: ${busy}`;
      return (await catalog.ping()) || 'catalog unreachable';
    },
    catalog,
    live: { stat: (b, c) => live.stat(b, c), disconnect: (b, c, r) => live.disconnect(b, c, r) },
    healthSource: config.health.enabled ? { local: (b, c) => health?.local(b, c), summaries: (b, c, from, to) => health!.summaries(b, c, from, to) } : undefined,
    urls,
    storeFor,
    playlists,
    lowLatency,
    lowLatencyPeers: new LowLatencyPeers({ catalog, nodeId, tokenHeader: PEER_TOKEN_HEADER, now: options.now }),
    segments,
    now: options.now,
    recorder,
    snapshotsUnavailable: snapshots.unavailable,
    signingKey: key,
    demoCredentialsFile: config.demo ? join(config.dataDir, DEMO_CREDENTIALS_FILE) : undefined,
    uploadCallbacks: new UploadCallbacks({ key, publicKeyUrl, metrics, guard: new GuardedClient(config.events.callbackAllow) }),
  });
  log = http.log;
  if (snapshots.unavailable) http.log.warn(`snapshots are off: no ffmpeg (${snapshots.unavailable}); channels with the Snapshot option cannot be created`);
  const sweepers = new Map(
    config.buckets.flatMap((b) =>
      b.retention ? [[b.name, new RetentionSweeper({ bucket: b.name, config: b.retention, store: storeFor(b.name), catalog, log: http.log, metrics, now: options.now })] as const] : [],
    ),
  );
  if (recorder.enabled) {
    sender = new OutboxSender({
      outbox: catalog.outbox,
      nodeId,
      config: config.events,
      key,
      publicKeyUrl,
      leaseTtlMs: config.cluster.leaseTtlMs,
      log: http.log,
      metrics,
      now: options.now,
    });
    recorder.onRecorded = () => sender?.wakeSoon();
  }
  reporter = new LimitReporter(metrics, http.log);
  if (config.health.enabled) {
    const monitor = new HealthMonitor({ catalog, recorder, log: http.log, now: options.now });
    registerChannelMetrics(metrics.registry, () => monitor.all(), { perChannel: config.metrics.perChannel, limit: config.metrics.perChannelLimit });
    health = monitor;
  }
  const lostPushEvents = recorder.enabled ? recorder.lostPushes : undefined;
  const peerServer = new PeerServer({ host: config.cluster.peerHost, port: config.cluster.peerPort, advertiseHost: config.cluster.peerAdvertiseHost, lowLatency, log: http.log });
  leases = new PublishLeases({ catalog, nodeId, cluster: config.cluster, log: http.log, metrics, now: options.now, lostPushEvents, peer: () => peerServer.descriptor });
  const rememberedCost = new RememberedCost(config.dataDir, nodeId);
  ingest = new RtmpIngest({
    ...config,
    nodeId,
    rememberedCost: rememberedCost.read(),
    leases,
    stopPollMs: config.cluster.stopPollMs,
    catalog,
    storeFor,
    playlists,
    lowLatency,
    publishHook: config.publishHook ? new PublishHook(config.publishHook, http.log, metrics) : undefined,
    recorder,
    health,
    snapshotDecoders: snapshots.pool,
    // a full disk: sweep now rather than at the next interval (one sweep runs at a time)
    onStorageFull: (bucket) => void sweepers.get(bucket)?.sweep().catch((err) => http.log.error({ err, bucket }, 'emergency retention sweep failed')),
    log: http.log,
    metrics,
    reporter,
    keyBuckets,
    now: options.now,
    uploadConcurrency: config.upload.concurrency,
    uploadPolicy: {
      maxQueuedBytes: config.upload.maxQueuedBytesPerChannel,
      backoff: { baseMs: config.upload.retryBaseMs, maxMs: config.upload.retryMaxMs },
      finishTimeoutMs: config.upload.finishTimeoutMs,
    },
  });

  const srt = config.srt
    ? new SrtIngest({
        config: config.srt,
        authorizer: ingest,
        log: http.log,
        metrics,
        idleMediaTimeoutMs: config.limits.rtmpIdleMediaTimeoutMs,
        // libsrt callers give up on a handshake after 3 s (SRTO_CONNTIMEO): a wait for room ends before
        answerWithinMs: Math.min(config.limits.publishAdmitWaitMs + 1000, 3000),
      })
    : undefined;
  live = new ClusterLive(ingest.registry, catalog, options.now);
  let rememberTimer: NodeJS.Timeout | undefined;

  return {
    config,
    nodeId,
    catalog,
    http,
    urls,
    ingest,
    metrics,
    storeFor,
    httpPort: () => httpPort,
    rtmpPort: () => rtmpPort,
    rtmpsPort: () => rtmpsPort,
    httpsPort: () => httpsPort,
    srtPort: () => srtPort,
    reloadTls: () => certificates?.reload() ?? false,
    /** Throws ListenError when a port cannot be bound, having closed whatever it opened. */
    async start() {
      try {
        await catalog.open?.();
        // the ports first: a gateway that cannot listen (a second one started by mistake,
        // with the same node id) must not touch the leases and pushes of the one that can
        if (config.tls) certificates = openCertificates(config.tls, http.log, metrics);
        if (config.http.enabled) {
          await listenOr('HTTP', config.http.host, config.http.port, 'stop it or set http.port in the config (LIVECHANNEL_HTTP_PORT)', () =>
            http.listen({ host: config.http.host, port: config.http.port }),
          );
          httpPort = (http.server.address() as AddressInfo).port;
        } else await http.ready();
        if (config.https && certificates) {
          const { host, port } = config.https;
          https = secureHttpServer(certificates, http.handleRequest, (err) => http.log.debug({ err: err.code ?? err.message }, 'TLS handshake failed on the HTTPS port'));
          httpsPort = await listenOr('HTTPS', host, port, 'stop it or set https.port in the config (LIVECHANNEL_HTTPS_PORT)', () => listenOn(https!, host, port));
        }
        if (config.rtmp.enabled) {
          rtmpPort = await listenOr('RTMP', config.rtmp.host, config.rtmp.port, 'stop it or set rtmp.port in the config (LIVECHANNEL_RTMP_PORT)', () =>
            ingest.listen(config.rtmp.host, config.rtmp.port),
          );
        }
        if (config.rtmps && certificates) {
          const { host, port } = config.rtmps;
          rtmpsPort = await listenOr('RTMPS', host, port, 'stop it or set rtmps.port in the config (LIVECHANNEL_RTMPS_PORT)', () => ingest.listenSecure(certificates!, host, port));
        }
        if (srt && config.srt) {
          const { host, port } = config.srt;
          srtPort = await listenOr('SRT', host, port, 'stop it or set srt.port in the config (LIVECHANNEL_SRT_PORT)', () => srt!.listen());
        }
        certificates?.watch();
        await listenOr('the cluster peer port', config.cluster.peerHost, config.cluster.peerPort, 'set cluster.peerPort in the config (0: any free port)', () => peerServer.start());
        // leases this node's previous run died holding, then pushes whose lease is gone (on
        // any node: another node's live pushes keep their lease and stay open)
        const released = await catalog.releaseNodeLeases(nodeId);
        const closed = await catalog.closeOpenPushes(Date.now(), lostPushEvents);
        if (closed > 0 || released > 0) http.log.warn({ closed, released }, 'closed push records left open by an unclean shutdown');
        leases.start();
        if (sender) {
          await key();
          sender.start();
        }
        for (const store of stores.values()) await store.cleanUp?.();
        for (const s of sweepers.values()) s.start();
        ingest.open();
        srt?.open();
        rememberTimer = setInterval(() => rememberedCost.write(ingest.load.costPerPublisher), 30_000);
        rememberTimer.unref();
        ready = true;
      } catch (err) {
        await this.stop().catch(() => {});
        throw err;
      }
    },
    async stop() {
      ready = false;
      clearInterval(rememberTimer);
      if (ingest.load.costPerPublisher !== undefined) rememberedCost.write(ingest.load.costPerPublisher);
      // publishers first: their last segments, playlists and history must reach storage
      await srt?.close();
      await ingest.close();
      health?.close();
      await health?.flushed();
      leases.stop();
      await sender?.stop();
      for (const s of sweepers.values()) await s.stop();
      // server.close() only closes connections idle at that instant; a keep-alive connection
      // finishing a response would then hold shutdown for Fastify's 72 s keep-alive timeout.
      // Give in-flight responses a moment, then close whatever is left.
      const force = setTimeout(() => http.server.closeAllConnections(), 2000);
      const closing = http.close();
      http.server.closeIdleConnections();
      const closingHttps = https && new Promise<void>((resolve) => https!.close(() => resolve()));
      https?.closeIdleConnections();
      const forceHttps = https && setTimeout(() => https!.closeAllConnections(), 2000);
      await closing;
      await closingHttps;
      clearTimeout(force);
      clearTimeout(forceHttps);
      certificates?.close();
      snapshots.pool?.close();
      await peerServer.stop();
      for (const store of stores.values()) await store.close?.();
      await catalog.close();
    },
  };
}
