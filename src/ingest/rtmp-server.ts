import { createServer, type Server, type Socket } from 'node:net';
import { adoptForSharedReads } from './shared-read-buffer.js';
import type { FastifyBaseLogger } from 'fastify';
import type { Catalog, LeaseHolder } from '../catalog/catalog.js';
import type { PublishedStat } from '../cluster/cluster-live.js';
import type { AcquireResult, PublishLeases } from '../cluster/publish-leases.js';
import type { BucketConfig, LimitsConfig } from '../config.js';
import type { LimitReporter } from '../limits.js';
import type { Metrics } from '../metrics.js';
import type { ObjectStore } from '../storage/object-store.js';
import { Semaphore } from '../storage/semaphore.js';
import { DEFAULT_UPLOAD_POLICY, type UploadPolicy } from '../storage/upload-pipeline.js';
import { LiveRegistry } from './live-registry.js';
import { LiveSession } from './live-session.js';
import { listenOn } from '../listen-error.js';
import { AdmissionQueue } from './admission-queue.js';
import { LoadGuard } from './load-guard.js';
import { authorizePush } from './push-auth.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { PublishHook } from '../events/publish-hook.js';
import type { LivePlaylists } from '../live/live-playlists.js';
import type { LowLatencyStreams } from '../live/low-latency.js';
import type { DecoderPool } from '../snapshots/decoder-pool.js';
import type { CertificateStore } from '../tls/certificate-store.js';
import { secureStreamServer } from '../tls/tls-servers.js';
import { RtmpConnection, remoteAddress, type ConnectionLimits, type PublishAuthorizer, type PublishDecision, type PublishingPeer, type PublishRequest } from './rtmp-connection.js';

export interface IngestOptions {
  catalog: Catalog;
  nodeId: string;
  leases: PublishLeases;
  /** How often a lease holder looks for stops asked of it (bounds a cross-node takeover's wait). */
  stopPollMs: number;
  buckets: BucketConfig[];
  defaultBucket: string;
  publicHost: string;
  credentials: { accessKeyId: string; accessKeySecret: string }[];
  storeFor(bucket: string): ObjectStore;
  log: FastifyBaseLogger;
  metrics: Metrics;
  reporter: LimitReporter;
  now?: () => number;
  limits: LimitsConfig;
  keyBuckets?: ReadonlyMap<string, ReadonlySet<string>>;
  uploadPolicy?: UploadPolicy;
  /** Storage writes in flight at once, all channels together. */
  uploadConcurrency?: number;
  /** Live playlists kept in memory for the HTTP side while their publish runs here. */
  playlists?: LivePlaylists;
  /** LL-HLS channels' parts and playlists, for the HTTP side while their publish runs here. */
  lowLatency?: LowLatencyStreams;
  /** The operator's server, asked before each publish starts. */
  publishHook?: PublishHook;
  /** Event notifications of publishes (none when absent). */
  recorder?: EventRecorder;
  /** Watches each publish's health (none when it is off). */
  health?: HealthMonitor;
  /** A bucket's storage said it is full (retention's emergency sweep). */
  onStorageFull?: (bucket: string) => void;
  /** Decoders for channels with the Snapshot option; none when the gateway has no ffmpeg. */
  snapshotDecoders?: DecoderPool;
  /** The cost of a publisher measured by this node's earlier run (see RememberedCost). */
  rememberedCost?: number;
}


/** The RTMP side: accepts publishers, authorises them, runs one LiveSession per publish. */
export class RtmpIngest implements PublishAuthorizer {
  readonly registry = new LiveRegistry();
  private readonly server: Server;
  private readonly connections = new Set<RtmpConnection>();
  private readonly secrets: Map<string, string>;
  private readonly limits: ConnectionLimits;
  private readonly now: () => number;
  private readonly semaphore: Semaphore;
  private readonly perIp = new Map<string, number>();
  /** Sockets open (plain, or TLS from before its handshake), which the connection limits count. */
  private sockets = 0;
  private secureServer: Server | undefined;
  private readonly idleSweep: NodeJS.Timeout;
  /** Connections that arrived between listen() and open(), paused (undefined once open). */
  private held: Socket[] | undefined = [];
  readonly load: LoadGuard;
  private readonly admission: AdmissionQueue;

  constructor(private readonly o: IngestOptions) {
    this.semaphore = new Semaphore(o.uploadConcurrency ?? 16);
    this.secrets = new Map(o.credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));
    this.limits = {
      maxMessageSize: o.limits.rtmpMaxMessageBytes,
      maxChunkStreams: o.limits.rtmpMaxChunkStreams,
      maxPendingBytes: o.limits.rtmpMaxPendingBytes,
      publishTimeoutMs: o.limits.rtmpPublishTimeoutMs,
      onLimit: (limit, peer, detail) => o.reporter.hit(limit, peer, detail),
    };
    this.now = o.now ?? Date.now;
    this.load = new LoadGuard({
      maxEventLoopDelayMs: o.limits.overloadEventLoopDelayMs,
      maxUnwrittenBytes: o.limits.overloadUnwrittenBytes,
      maxEventLoopUtilization: o.limits.overloadEventLoopUtilization,
      coldStartAdmissions: o.limits.overloadColdStartPublishers,
      rememberedCost: o.rememberedCost,
      unwrittenBytes: () => this.registry.all().reduce((sum, s) => sum + s.pendingUploadBytes, 0),
      publishers: () => this.registry.size,
      onSample: (utilization) => o.metrics.eventLoopUtilization.set(utilization),
    });
    this.admission = new AdmissionQueue(this.load, { maxWaitMs: o.limits.publishAdmitWaitMs, maxWaiting: o.limits.publishAdmitMaxWaiting });
    // accepted paused: reading starts once the connection has moved to the shared read buffer
    this.server = createServer({ pauseOnConnect: true }, (accepted) => {
      const socket = adoptForSharedReads(accepted);
      if (this.gate(socket)) this.arrive(socket);
      else socket.destroy();
    });
    // one sweep for every connection: publishers that stopped sending media are let go
    this.idleSweep = setInterval(() => this.dropIdlePublishers(), Math.min(1000, o.limits.rtmpIdleMediaTimeoutMs / 2));
    this.idleSweep.unref();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Binds the port; connections are held (paused, their bytes waiting) until open(), so the
   * port can be claimed before the catalog work of a start, and publishers reconnecting to a
   * starting gateway wait instead of being turned away.
   */
  async listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port);
  }

  /**
   * RTMPS: the same ingest behind TLS, with the store's certificate (reloaded for new
   * connections). Handshakes count against the connection limits and time out.
   */
  async listenSecure(store: CertificateStore, host: string, port: number): Promise<number> {
    const server = secureStreamServer(store, {
      admit: (raw) => this.gate(raw),
      secure: (socket) => this.arrive(socket),
      failed: (err, socket) => {
        const plain = /wrong version number|http request|unknown protocol|packet length too long/i.test(err.message);
        this.o.log.info(
          { remote: remoteAddress(socket), err: err.code ?? err.message },
          plain ? 'not a TLS handshake on the RTMPS port (plain rtmp:// goes to the RTMP port); closing' : 'TLS handshake failed on the RTMPS port; closing',
        );
      },
    });
    this.secureServer = server;
    return listenOn(server, host, port);
  }

  /** Takes the connections held since listen() and every one after. */
  open(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const socket of held) {
      if (socket.destroyed) continue;
      this.accept(socket);
      socket.resume();
    }
  }

  private arrive(socket: Socket): void {
    const held = this.held;
    if (!held) return this.accept(socket);
    socket.pause();
    socket.on('error', () => {}); // a reset while held: the close below forgets it
    held.push(socket);
    socket.once('close', () => held.splice(held.indexOf(socket) >>> 0, 1));
  }

  /** Stops accepting, ends every publish (flushing segments and history), closes sockets. */
  async close(): Promise<void> {
    clearInterval(this.idleSweep);
    for (const socket of this.held ?? []) socket.destroy();
    this.held = undefined;
    this.admission.close('server shutting down');
    this.load.close();
    const closing = Promise.all(
      [this.server, this.secureServer].map((server) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))),
    );
    await Promise.all([...this.connections].map((c) => c.close('server shutting down', 'shutdown')));
    await Promise.all(this.registry.all().map((s) => s.end('shutdown', 'server shutting down')));
    await closing;
  }

  /** Waits for room under the load guard (a storm of publishers is paced, not refused); why not, or undefined once admitted. */
  private async admit(req: PublishRequest): Promise<string | undefined> {
    // answer before the connection's own deadline, with a moment to spare for the rest
    const waiting = this.admission.enter(req.answerBy !== undefined ? req.answerBy - 1000 : undefined, req.gone);
    this.o.metrics.publishAdmissionWaiting.set(this.admission.size);
    const a = await waiting;
    this.o.metrics.publishAdmissionWaiting.set(this.admission.size);
    if (a.waitedMs > 0) this.o.metrics.publishAdmissionWait.observe(a.waitedMs / 1000);
    const outcome = a.admitted ? (a.waitedMs > 0 ? 'waited' : 'at_once') : a.reason === 'the publisher left' ? 'left' : a.waitedMs > 0 ? 'refused_waited' : 'refused_full';
    this.o.metrics.publishAdmissions.inc({ outcome });
    return a.admitted ? undefined : a.reason;
  }

  async authorize(req: PublishRequest, connection: PublishingPeer): Promise<PublishDecision> {
    const busy = await this.admit(req);
    if (busy) {
      this.o.reporter.hit('overload', connection.remoteAddr, busy);
      this.o.metrics.publishRejections.inc({ code: 'NetStream.Publish.Denied' });
      return { ok: false, code: 'NetStream.Publish.Denied', description: `gateway busy, try another node (${busy})` };
    }
    const grant = await authorizePush(
      {
        catalog: this.o.catalog,
        buckets: this.o.buckets,
        defaultBucket: this.o.defaultBucket,
        publicHost: this.o.publicHost,
        secrets: this.secrets,
        keyBuckets: this.o.keyBuckets,
        now: this.now,
      },
      req,
    );
    if (!grant.ok) {
      this.o.metrics.publishRejections.inc({ code: grant.code });
      return grant;
    }
    const channel = grant.channel.name;
    const verdict = await this.o.publishHook?.ask({
      bucket: grant.bucket,
      channel,
      remoteAddr: connection.remoteAddr,
      tcUrl: req.tcUrl,
      query: grant.query,
      nodeId: this.o.nodeId,
      time: new Date(this.now()).toISOString(),
    });
    if (verdict && !verdict.allow) {
      this.o.metrics.publishRejections.inc({ code: 'NetStream.Publish.Denied' });
      return { ok: false, code: 'NetStream.Publish.Denied', description: verdict.reason };
    }
    if (!this.registry.claim(grant.bucket, channel)) {
      const busyWith = this.registry.publisherOf(grant.bucket, channel);
      if (!(await this.replaceSilentPublisher(grant.bucket, channel, connection)) || !this.registry.claim(grant.bucket, channel)) {
        this.o.metrics.publishRejections.inc({ code: 'NetStream.Publish.BadName' });
        const by = busyWith ? ` (by ${busyWith})` : '';
        return { ok: false, code: 'NetStream.Publish.BadName', description: `Live channel "${channel}" is already being pushed to${by}; one publisher at a time.` };
      }
    }
    // one publisher per channel across every node and process sharing the catalog
    let acquired: AcquireResult;
    try {
      acquired = await this.o.leases.acquire(grant.bucket, channel, connection.remoteAddr);
      if (!acquired.ok && (await this.askSilentRemoteToStop(grant.bucket, channel, acquired.holder, connection))) {
        acquired = await this.acquireWithin(grant.bucket, channel, connection.remoteAddr, this.o.stopPollMs + 3000);
      }
    } catch (err) {
      this.registry.unclaim(grant.bucket, channel);
      throw err;
    }
    if (!acquired.ok) {
      this.registry.unclaim(grant.bucket, channel);
      this.o.metrics.publishRejections.inc({ code: 'NetStream.Publish.BadName' });
      const h = acquired.holder;
      return {
        ok: false,
        code: 'NetStream.Publish.BadName',
        description: `Live channel "${channel}" is already being pushed to (by ${h.remoteAddr} on node ${h.nodeId} since ${new Date(h.acquiredAt).toISOString()}); one publisher at a time.`,
      };
    }
    const lease = acquired.lease;
    try {
      const session = await LiveSession.open({
        nodeId: this.o.nodeId,
        lease,
        bucket: grant.bucket,
        channel: grant.channel,
        playlistName: grant.playlistName,
        remoteAddr: connection.remoteAddr,
        catalog: this.o.catalog,
        store: this.o.storeFor(grant.bucket),
        semaphore: this.semaphore,
        uploadPolicy: this.o.uploadPolicy ?? DEFAULT_UPLOAD_POLICY,
        metrics: this.o.metrics,
        log: connection.log,
        now: this.now,
        playlists: this.o.playlists,
        lowLatency: this.o.lowLatency,
        recorder: this.o.recorder,
        health: this.o.health,
        onStorageFull: () => this.o.onStorageFull?.(grant.bucket),
        snapshots: { pool: this.o.snapshotDecoders, storeFor: this.o.storeFor },
        onEnded: async (s) => {
          this.registry.remove(s);
          await this.o.leases.release(lease);
        },
      });
      session.link = () => connection.link();
      session.publisher = {
        msSinceMedia: () => connection.msSinceMedia(),
        stop: (reason, description) => connection.stopPublish(reason, description),
      };
      lease.owner = {
        stat: () => JSON.stringify({ ...session.stat(), silentMs: connection.msSinceMedia(), at: this.now() } satisfies PublishedStat),
        stop: (reason, description) => void session.publisher?.stop(reason, description),
      };
      this.registry.activate(session);
      return { ok: true, sink: session, description: `/live/${channel} is now published to bucket ${grant.bucket} (${grant.playlistName}).` };
    } catch (err) {
      this.registry.unclaim(grant.bucket, channel);
      await this.o.leases.release(lease);
      throw err;
    }
  }

  /**
   * The same takeover rule when the silent publisher is on another node: its owner published
   * how long its publisher had been silent with its last lease renewal; if that (plus the
   * time since) passes the takeover silence, the owner is asked through the catalog to stop.
   */
  private async askSilentRemoteToStop(bucket: string, channel: string, holder: LeaseHolder, newcomer: PublishingPeer): Promise<boolean> {
    if (!holder.stat) return false;
    const { silentMs, at } = JSON.parse(holder.stat) as PublishedStat;
    const silentNow = silentMs > 0 ? silentMs + (this.now() - at) : 0;
    if (silentNow < this.o.limits.rtmpTakeoverSilenceMs) return false;
    this.o.metrics.publisherTakeovers.inc();
    newcomer.log.warn({ bucket, channel, replaced: holder.remoteAddr, node: holder.nodeId, by: newcomer.remoteAddr, silentMs: silentNow }, 'asking another node to drop its silent publisher');
    return this.o.catalog.requestStop(bucket, channel, 'replaced', this.now());
  }

  private async acquireWithin(bucket: string, channel: string, remoteAddr: string, ms: number): Promise<AcquireResult> {
    const deadline = this.now() + ms;
    for (;;) {
      const r = await this.o.leases.acquire(bucket, channel, remoteAddr);
      if (r.ok || this.now() >= deadline) return r;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * A reconnecting encoder whose old connection went silent (Wi-Fi drop, NAT rebinding, a
   * frozen process) takes the channel over at once instead of waiting for the idle timeout.
   * A publisher still sending media is never replaced.
   */
  private async replaceSilentPublisher(bucket: string, channel: string, newcomer: PublishingPeer): Promise<boolean> {
    const current = this.registry.get(bucket, channel);
    const silentMs = current?.publisher?.msSinceMedia() ?? 0;
    if (!current?.publisher || silentMs < this.o.limits.rtmpTakeoverSilenceMs) return false;
    this.o.metrics.publisherTakeovers.inc();
    newcomer.log.warn({ bucket, channel, replaced: current.remoteAddr, by: newcomer.remoteAddr, silentMs }, 'silent publisher replaced by a new publish');
    await current.publisher.stop(
      'replaced',
      `Replaced by a new publisher from ${newcomer.remoteAddr}: this connection sent no media for ${(silentMs / 1000).toFixed(1)} s.`,
    );
    await current.end('replaced', 'replaced by a new publisher');
    return true;
  }

  /** Counts a new socket against the connection limits (until it closes); false: over them. */
  private gate(socket: Socket): boolean {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const fromIp = this.perIp.get(ip) ?? 0;
    if (this.sockets >= this.o.limits.rtmpMaxConnections) {
      this.o.reporter.hit('rtmp_connections', ip, `${this.sockets} connections`);
      return false;
    }
    if (fromIp >= this.o.limits.rtmpMaxConnectionsPerIp) {
      this.o.reporter.hit('rtmp_connections_per_ip', ip, `${fromIp} connections from this address`);
      return false;
    }
    this.sockets++;
    this.perIp.set(ip, fromIp + 1);
    socket.once('close', () => {
      this.sockets--;
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n > 0) this.perIp.set(ip, n);
      else this.perIp.delete(ip);
    });
    return true;
  }

  private accept(socket: Socket): void {
    const connection = new RtmpConnection(socket, this, this.limits, this.o.log);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  private dropIdlePublishers(): void {
    const limit = this.o.limits.rtmpIdleMediaTimeoutMs;
    for (const c of this.connections) {
      if (c.publishing && c.msSinceMedia() > limit) {
        this.o.reporter.hit('rtmp_idle_media', c.remoteAddr, `no media for ${limit} ms`);
        void c.stopPublish('idle', `No media received for ${Math.round(limit / 1000)} s; closing.`);
      }
    }
  }
}
