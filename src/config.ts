import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { isAllowEntry } from './egress/address-policy.js';
import { EVENT_TYPES } from './events/event-types.js';

/** Bucket names follow OSS rules: 3–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen. */
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'must be 3-63 lowercase letters, digits or hyphens');

const storageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('fs'), root: z.string().min(1).optional() }).strict(),
  z
    .object({
      type: z.literal('oss'),
      endpoint: z.string().regex(/^https?:\/\/[^/]+\/?$/, 'must be http(s)://host[:port]'),
      bucket: bucketName,
      accessKeyId: z.string().min(1),
      accessKeySecret: z.string().min(1),
      stsToken: z.string().min(1).optional(),
      region: z.string().min(1).optional(),
      prefix: z.string().regex(/^([^/].*\/)?$/, 'must be empty or end with "/" (and not start with one)').optional(),
      timeoutMs: z.number().int().min(100).max(600_000).optional(),
      /** Play URLs point here (a CDN in front of the bucket) instead of at the bucket. */
      cdnBaseUrl: z.string().regex(/^https?:\/\/\S+[^/]$/, 'must be an http(s) URL without a trailing "/"').optional(),
    })
    .strict(),
]);

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "500ms", "30s", "10m", "2h", "7d" (or a number of ms) → ms. */
const duration = z.union([
  z.number().int().min(1),
  z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, 'must be like "500ms", "30s", "10m", "2h" or "7d"')
    .transform((v) => Number(/^\d+/.exec(v)![0]) * DURATION_UNITS[/[a-z]+$/.exec(v)![0]]!),
]);
const BYTE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
/** "10GiB", "500MB" (or a number of bytes) → bytes. */
const byteSize = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\d+(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/, 'must be like "500MB" or "10GiB"')
    .transform((v) => Number(/^\d+/.exec(v)![0]) * BYTE_UNITS[/[A-Za-z]+$/.exec(v)![0]]!),
]);

const retentionSchema = z
  .object({
    /** Segments older than this are deleted. */
    maxAge: duration.optional(),
    /** On a filesystem root: while less is free, the oldest segments are deleted. */
    minFreeBytes: byteSize.optional(),
    sweepInterval: duration.default(60_000),
    /** Channels whose segments live longer or shorter: the first whose `match` (* and ? wildcards) fits the name. */
    channels: z
      .array(z.object({ match: z.string().min(1), maxAge: z.union([duration, z.literal('forever')]) }).strict())
      .default([]),
  })
  .strict()
  .refine((r) => r.maxAge !== undefined || r.minFreeBytes !== undefined || r.channels.length > 0, 'needs maxAge, minFreeBytes or channels');

/** An HTTP(S) URL the gateway POSTs signed requests to (the signature covers the decoded path). */
const callbackUrl = z.url({ protocol: /^https?$/ }).refine((url) => {
  try {
    decodeURIComponent(new URL(url).pathname);
    return true;
  } catch {
    return false;
  }
}, "its path has a '%' that does not start a %XX escape");

const listener = (port: number) =>
  z.object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(port) }).strict();

const catalogSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('sqlite') }).strict(),
  z
    .object({
      type: z.literal('postgres'),
      url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must be postgres://user@host:5432/db'),
      poolSize: z.number().int().min(1).max(1000).default(10),
    })
    .strict(),
]);

const schema = z
  .object({
    /** This gateway's name in logs, metrics, history and leases (default: host name + RTMP port). */
    nodeId: z.string().min(1).max(200).optional(),
    catalog: catalogSchema.default({ type: 'sqlite' }),
    /** Asks an HTTP server whether each publish may start (after the signed-URL check). */
    publishHook: z
      .object({
        url: callbackUrl,
        timeoutMs: z.number().int().min(1).default(3000),
        onError: z.enum(['deny', 'allow']).default('deny'),
      })
      .strict()
      .optional(),
    /** Where event notifications go: a JSON POST per event, signed like an OSS upload callback. */
    notifications: z
      .array(
        z
          .object({
            url: callbackUrl,
            events: z.array(z.enum([...EVENT_TYPES, '*'])).min(1).default(['*']),
          })
          .strict(),
      )
      .default([])
      .refine((targets) => new Set(targets.map((t) => t.url)).size === targets.length, 'each notification URL may appear once'),
    events: z
      .object({
        /** PEM RSA private key that signs notifications and upload callbacks (default: one made in dataDir on first start). */
        privateKeyFile: z.string().min(1).optional(),
        /** One delivery attempt's time limit. */
        timeoutMs: z.number().int().min(100).default(5000),
        /** How long an event is retried before it is marked dead. */
        retryForMs: z.number().int().min(1000).default(24 * 3600 * 1000),
        retryBaseMs: z.number().int().min(10).default(1000),
        retryMaxMs: z.number().int().min(10).default(5 * 60 * 1000),
        /** The outbox's bound in rows (segment.stored and playlist.updated are dropped first). */
        maxOutboxRows: z.number().int().min(100).default(100_000),
        /** Deliveries in flight at once (each channel's events still go one at a time, in order). */
        concurrency: z.number().int().min(1).max(1024).default(16),
        /** How often the sender looks for new events besides being woken by this process. */
        pollMs: z.number().int().min(10).default(250),
        /**
         * Upload callback servers on a private network that clients may name (CIDRs or host
         * names); every other internal address is refused as a callback target.
         */
        callbackAllow: z.array(z.string().min(1).refine(isAllowEntry, 'must be a CIDR (10.1.2.0/24), an IP address or a host name')).default([]),
      })
      .strict()
      .prefault({}),
    /** Gateway processes `serve` runs, sharing its ports and catalog ("auto": one per core). */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1),
    cluster: z
      .object({
        /** A publish lease not renewed for this long passes to whichever node asks next. */
        leaseTtlMs: z.number().int().min(1000).max(600_000).default(10_000),
        /** How often an owner renews its leases (and publishes its live stats). */
        leaseRenewMs: z.number().int().min(100).default(2_000),
        /** How often a node looks for stops asked of it (disable, takeover) besides LISTEN/NOTIFY. */
        stopPollMs: z.number().int().min(50).default(500),
        /**
         * Where this process listens for the other gateway processes (LL-HLS parts live in the
         * memory of the process that publishes the channel; the others forward to it). Port 0:
         * any free port. On several machines: an address they reach, on a private network.
         */
        peerHost: z.string().min(1).default('127.0.0.1'),
        peerPort: z.number().int().min(0).max(65535).default(0),
        /** The host other nodes use for this one, when peerHost is 0.0.0.0 or behind NAT. */
        peerAdvertiseHost: z.string().min(1).optional(),
      })
      .strict()
      .prefault({})
      .refine((c) => c.leaseRenewMs * 3 <= c.leaseTtlMs, 'leaseRenewMs must be at most a third of leaseTtlMs'),
    /** false: no plain HTTP listener (HTTPS only). */
    http: z.union([z.literal(false), listener(8080)]).prefault({}),
    /** PEM certificate chain and key for RTMPS and HTTPS (reloaded on SIGHUP and when the files change). */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    /** RTMP over TLS; on by default where `tls` is set. */
    rtmps: z.union([z.literal(false), listener(1936)]).optional(),
    /** HTTPS for the API, playback and the console; on by default where `tls` is set. */
    https: z.union([z.literal(false), listener(8443)]).optional(),
    playback: z
      .object({
        /** Memory for recently read segments (every viewer of a channel fetches the same ones); 0: none. */
        segmentCacheBytes: z.number().int().min(0).default(256 * 1024 * 1024),
        /** A cached segment is read from storage again after this long. */
        segmentCacheTtlMs: z.number().int().min(1).default(30_000),
      })
      .strict()
      .prefault({}),
    snapshots: z
      .object({
        /** ffmpeg processes decoding keyframes to JPEG, for the whole gateway; default: one per core. */
        decoders: z.number().int().min(1).max(256).optional(),
        /** A decode that takes longer is abandoned (its ffmpeg restarted) and the snapshot skipped. */
        timeoutMs: z.number().int().min(100).default(5000),
        /** A decoder with nothing to do for this long exits. */
        idleMs: z.number().int().min(1000).default(60_000),
        /** Keyframes that may wait for a decoder (they come in bursts); default 16 per decoder. */
        maxQueued: z.number().int().min(0).max(100_000).optional(),
        /** JPEG quality as ffmpeg's -q:v: 2 (best) to 31. */
        quality: z.number().int().min(2).max(31).default(4),
      })
      .strict()
      .prefault({}),
    /** Stream health: per-publish samples every second (the last hour) and ten-second summaries in the catalog (24 h). */
    health: z
      .object({
        enabled: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** Per-channel gauges in /metrics (bitrate, frame rate, verdict, segment latency): one series set per live channel. */
        perChannel: z.boolean().default(false),
        /** At most this many channels get series (the rest are counted in livechannel_channel_series_dropped). */
        perChannelLimit: z.number().int().min(1).max(100_000).default(500),
      })
      .strict()
      .prefault({}),
    /** SRT ingest (MPEG-TS over SRT, from OBS, ffmpeg, GStreamer, hardware encoders). Off when absent. */
    srt: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(10080),
        /** The receiver's latency: how long a lost packet may take to be resent before it is given up. */
        latencyMs: z.number().int().min(20).max(60_000).default(120),
        /** Callers must encrypt with this passphrase (AES); unencrypted or wrongly keyed callers are refused. */
        passphrase: z
          .string()
          .min(10)
          .max(79)
          .regex(/^[^\s&#?%]+$/, 'must not hold spaces, &, #, ? or % (it goes into srt:// URLs as written: ffmpeg and OBS do not decode it)')
          .optional(),
        /** The key length callers must use with the passphrase: 16, 24 or 32 bytes (AES-128/192/256). */
        pbKeyLen: z.union([z.literal(16), z.literal(24), z.literal(32)]).default(16),
      })
      .strict()
      .optional(),
    /** false: no plain RTMP listener (RTMPS only). */
    rtmp: z.union([z.literal(false), listener(1935)]).prefault({}),
    /** Host name used to build publish/play URLs; defaults to the HTTP host. */
    publicHost: z.string().min(1).optional(),
    dataDir: z.string().min(1).default('./data'),
    credentials: z
      .array(
        z
          .object({
            accessKeyId: z.string().min(1),
            accessKeySecret: z.string().min(1),
            /** Limit this key to these buckets (default: every bucket). */
            buckets: z.array(bucketName).min(1).optional(),
          })
          .strict(),
      )
      .default([]),
    buckets: z
      .array(
        z
          .object({
            name: bucketName,
            acl: z.enum(['private', 'public-read', 'public-read-write']).default('private'),
            storage: storageSchema.default({ type: 'fs' }),
            /** What the retention sweeper deletes (nothing when absent). */
            retention: retentionSchema.optional(),
          })
          .strict(),
      )
      .default([]),
    defaultBucket: bucketName.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    limits: z
      .object({
        rtmpMaxMessageBytes: z.number().int().min(64 * 1024).default(8 * 1024 * 1024),
        rtmpMaxChunkStreams: z.number().int().min(4).max(65_599).default(64),
        rtmpMaxConnections: z.number().int().min(1).default(2000),
        rtmpMaxConnectionsPerIp: z.number().int().min(1).default(100),
        /** A connection must publish within this time, or it is closed. */
        rtmpPublishTimeoutMs: z.number().int().min(100).default(10_000),
        /** A publisher that sends no media for this long is disconnected. */
        rtmpIdleMediaTimeoutMs: z.number().int().min(100).default(20_000),
        /** A new publish with valid credentials replaces a publisher that has sent no media for this long. */
        rtmpTakeoverSilenceMs: z.number().int().min(100).default(3_000),
        /** New publishes are refused (and /readyz is 503) while the event loop's p99 delay is above this… */
        overloadEventLoopDelayMs: z.number().int().min(1).default(200),
        /** …or while this many segment bytes, all channels together, wait for storage. */
        overloadUnwrittenBytes: z.number().int().min(1).default(512 * 1024 * 1024),
        /** …or while one more publisher, at what each live one costs, would keep the event loop busier than this share. */
        overloadEventLoopUtilization: z.number().gt(0).max(1).default(0.6),
        /** Publishers admitted per second before the cost of one is measured (a process just started). */
        overloadColdStartPublishers: z.number().int().min(1).default(50),
        /**
         * A publisher arriving when there is no room this instant (a reconnect storm) waits this
         * long for it, its RTMP answer held, before it is refused; never past rtmpPublishTimeoutMs.
         */
        publishAdmitWaitMs: z.number().int().min(0).default(8000),
        /** Publishers waiting for room at once; more are refused at once. */
        publishAdmitMaxWaiting: z.number().int().min(0).default(2000),
        rtmpMaxPendingBytes: z.number().int().min(0).default(4 * 1024 * 1024),
        httpMaxBodyBytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024),
        /**
         * Management requests (LiveChannel operations, object writes and listings) per second per
         * access key (per IP for anonymous requests), and burst. Object reads are not counted here.
         */
        apiRequestsPerSecond: z.number().min(0.1).default(1000),
        apiBurst: z.number().int().min(1).default(2000),
        /** Object reads (GET/HEAD, hls/sign playlists) per second per client address; 0: unlimited. */
        readRequestsPerSecondPerIp: z.number().min(0).default(0),
        readBurst: z.number().int().min(1).default(1000),
      })
      .strict()
      .prefault({}),
    upload: z
      .object({
        /** Unwritten segment bytes a channel may hold before its oldest are dropped. */
        maxQueuedBytesPerChannel: z.number().int().min(1024).default(32 * 1024 * 1024),
        /** Storage writes in flight at once, all channels together. */
        concurrency: z.number().int().min(1).max(1024).default(16),
        retryBaseMs: z.number().int().min(1).default(200),
        retryMaxMs: z.number().int().min(1).default(5000),
        /** How long ending a publish keeps retrying writes before giving up. */
        finishTimeoutMs: z.number().int().min(0).default(30_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  // the publisher is let go at rtmpPublishTimeoutMs: a hook may not take that long
  .refine((c) => !c.publishHook || c.publishHook.timeoutMs < c.limits.rtmpPublishTimeoutMs, {
    message: 'must be below limits.rtmpPublishTimeoutMs (a publisher not publishing by then is disconnected)',
    path: ['publishHook', 'timeoutMs'],
  });

export type ConfigInput = z.input<typeof schema>;

export type StorageConfig =
  | { type: 'fs'; root: string }
  | {
      type: 'oss';
      endpoint: string;
      bucket: string;
      accessKeyId: string;
      accessKeySecret: string;
      stsToken?: string;
      region?: string;
      prefix?: string;
      timeoutMs?: number;
      cdnBaseUrl?: string;
    };

export interface RetentionConfig {
  maxAge?: number;
  minFreeBytes?: number;
  sweepInterval: number;
  /** Per-channel maxAge ("forever": never by age), first match wins. */
  channels?: { match: string; maxAge: number | 'forever' }[];
}

export interface BucketConfig {
  name: string;
  acl: 'private' | 'public-read' | 'public-read-write';
  storage: StorageConfig;
  retention?: RetentionConfig;
}

export interface LimitsConfig {
  rtmpMaxMessageBytes: number;
  rtmpMaxChunkStreams: number;
  rtmpMaxConnections: number;
  rtmpMaxConnectionsPerIp: number;
  rtmpPublishTimeoutMs: number;
  rtmpIdleMediaTimeoutMs: number;
  rtmpTakeoverSilenceMs: number;
  overloadEventLoopDelayMs: number;
  overloadUnwrittenBytes: number;
  overloadEventLoopUtilization: number;
  overloadColdStartPublishers: number;
  publishAdmitWaitMs: number;
  publishAdmitMaxWaiting: number;
  rtmpMaxPendingBytes: number;
  httpMaxBodyBytes: number;
  apiRequestsPerSecond: number;
  apiBurst: number;
  readRequestsPerSecondPerIp: number;
  readBurst: number;
}

export interface UploadConfig {
  maxQueuedBytesPerChannel: number;
  concurrency: number;
  retryBaseMs: number;
  retryMaxMs: number;
  finishTimeoutMs: number;
}

export interface ListenerConfig {
  host: string;
  port: number;
  enabled: boolean;
}

export type CatalogConfig = { type: 'sqlite' } | { type: 'postgres'; url: string; poolSize: number };

export interface ClusterConfig {
  leaseTtlMs: number;
  leaseRenewMs: number;
  stopPollMs: number;
  peerHost: string;
  peerPort: number;
  peerAdvertiseHost?: string;
}

export interface PublishHookConfig {
  url: string;
  timeoutMs: number;
  /** What a receiver that fails (no answer in time, unreachable) decides. */
  onError: 'deny' | 'allow';
}

export interface NotificationTarget {
  url: string;
  events: string[];
}

export interface EventsConfig {
  privateKeyFile?: string;
  timeoutMs: number;
  retryForMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxOutboxRows: number;
  concurrency: number;
  pollMs: number;
  callbackAllow: string[];
}

export interface SnapshotsConfig {
  decoders: number;
  timeoutMs: number;
  idleMs: number;
  maxQueued: number;
  quality: number;
}

export interface Config {
  /** Undefined: host name + RTMP port, decided once the port is bound. */
  nodeId?: string;
  publishHook?: PublishHookConfig;
  notifications: NotificationTarget[];
  events: EventsConfig;
  catalog: CatalogConfig;
  workers: number | 'auto';
  cluster: ClusterConfig;
  /** The plain HTTP listener (`enabled` false: HTTPS only; host and port still name it in URLs). */
  http: ListenerConfig;
  /** Certificate and key files for RTMPS and HTTPS (absolute paths). */
  tls?: { cert: string; key: string };
  rtmps?: { host: string; port: number };
  srt?: { host: string; port: number; latencyMs: number; passphrase?: string; pbKeyLen: 16 | 24 | 32 };
  https?: { host: string; port: number };
  playback: { segmentCacheBytes: number; segmentCacheTtlMs: number };
  snapshots: SnapshotsConfig;
  health: { enabled: boolean };
  metrics: { perChannel: boolean; perChannelLimit: number };
  rtmp: ListenerConfig;
  publicHost: string;
  dataDir: string;
  credentials: { accessKeyId: string; accessKeySecret: string; buckets?: string[] }[];
  buckets: BucketConfig[];
  defaultBucket: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  upload: UploadConfig;
  limits: LimitsConfig;
  /** The config file read (as named: -c, LIVECHANNEL_CONFIG or ./livechannel.json); undefined: none. */
  file?: string;
  /** Set when no buckets or credentials were configured and the demo ones were made. */
  demo?: { bucket: string; accessKeyId: string; accessKeySecret: string };
}

export class ConfigError extends Error {}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/** A union's issue stands for the branch that got furthest (a listener object, not `false`). */
function deepest(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return issue;
  const branch = [...issue.errors].sort((a, b) => Math.max(...b.map((i) => i.path.length)) - Math.max(...a.map((i) => i.path.length)))[0]!;
  const inner = branch.find((i) => i.path.length > 0);
  return inner ? { ...deepest(inner), path: [...issue.path, ...deepest(inner).path] } : issue;
}

function formatIssues(error: z.ZodError): string {
  return (error.issues as Issue[])
    .map(deepest)
    .map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`)
    .join('; ');
}

type Parsed = z.output<typeof schema>;

/**
 * SRT in one process: a connection's datagrams must all reach the process that took its
 * handshake, which worker processes sharing one UDP port do not ensure.
 */
function srtConfig(srt: NonNullable<Parsed['srt']>, workers: Parsed['workers']): NonNullable<Config['srt']> {
  if (workers !== 1) throw new ConfigError('srt: not with workers yet (run one process per SRT port)');
  return srt;
}

/**
 * The listeners: plain RTMP and HTTP unless turned off (false), RTMPS and HTTPS on by default
 * once `tls` names a certificate; at least one way in for publishers and one for the API.
 */
function listeners(c: Parsed, baseDir: string): Pick<Config, 'http' | 'rtmp' | 'tls' | 'rtmps' | 'https'> {
  const plain = (l: Parsed['http'], port: number): ListenerConfig => (l === false ? { host: '127.0.0.1', port, enabled: false } : { ...l, enabled: true });
  const http = plain(c.http, 8080);
  const rtmp = plain(c.rtmp, 1935);
  const secure = (name: 'rtmps' | 'https', port: number, host: string) => {
    const l = c[name];
    if (l === false) return undefined;
    if (l === undefined) return c.tls ? { host, port } : undefined;
    if (!c.tls) throw new ConfigError(`${name}: needs "tls": { "cert": "fullchain.pem", "key": "privkey.pem" }`);
    return l;
  };
  const rtmps = secure('rtmps', 1936, rtmp.host);
  const https = secure('https', 8443, http.host);
  if (!rtmp.enabled && !rtmps) throw new ConfigError('rtmp: false needs rtmps (and tls): publishers need a way in');
  if (!http.enabled && !https) throw new ConfigError('http: false needs https (and tls): the API needs a way in');
  return {
    http,
    rtmp,
    ...(c.tls ? { tls: { cert: resolve(baseDir, c.tls.cert), key: resolve(baseDir, c.tls.key) } } : {}),
    ...(rtmps ? { rtmps } : {}),
    ...(https ? { https } : {}),
  };
}

/** Environment overrides: LIVECHANNEL_HTTP_PORT=9000, LIVECHANNEL_PUBLIC_HOST=…, etc. */
const ENV_OVERRIDES: [string, string[], 'string' | 'number' | 'workers'][] = [
  ['LIVECHANNEL_HTTP_HOST', ['http', 'host'], 'string'],
  ['LIVECHANNEL_HTTP_PORT', ['http', 'port'], 'number'],
  ['LIVECHANNEL_RTMP_HOST', ['rtmp', 'host'], 'string'],
  ['LIVECHANNEL_RTMP_PORT', ['rtmp', 'port'], 'number'],
  ['LIVECHANNEL_RTMPS_PORT', ['rtmps', 'port'], 'number'],
  ['LIVECHANNEL_HTTPS_PORT', ['https', 'port'], 'number'],
  ['LIVECHANNEL_TLS_CERT', ['tls', 'cert'], 'string'],
  ['LIVECHANNEL_TLS_KEY', ['tls', 'key'], 'string'],
  ['LIVECHANNEL_SRT_PORT', ['srt', 'port'], 'number'],
  ['LIVECHANNEL_SRT_PASSPHRASE', ['srt', 'passphrase'], 'string'],
  ['LIVECHANNEL_PUBLIC_HOST', ['publicHost'], 'string'],
  ['LIVECHANNEL_DATA_DIR', ['dataDir'], 'string'],
  ['LIVECHANNEL_DEFAULT_BUCKET', ['defaultBucket'], 'string'],
  ['LIVECHANNEL_LOG_LEVEL', ['logLevel'], 'string'],
  ['LIVECHANNEL_NODE_ID', ['nodeId'], 'string'],
  ['LIVECHANNEL_WORKERS', ['workers'], 'workers'],
];

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, path, type] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let target = raw;
    for (const key of path.slice(0, -1)) {
      if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const parsed = type === 'number' || (type === 'workers' && value !== 'auto') ? Number(value) : value;
    if (type !== 'string' && parsed !== 'auto' && !Number.isInteger(parsed)) throw new ConfigError(`${name}: must be an integer, got "${value}"`);
    target[path.at(-1)!] = parsed;
  }
}

/** Demo credentials persisted in dataDir so that a restart keeps the same key. */
export const DEMO_CREDENTIALS_FILE = 'demo-credentials.json';

function demoCredentials(dataDir: string): { accessKeyId: string; accessKeySecret: string } {
  const file = join(dataDir, DEMO_CREDENTIALS_FILE);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const creds = {
    accessKeyId: `LTAI${randomBytes(10).toString('hex').toUpperCase()}`,
    accessKeySecret: randomBytes(22).toString('base64url'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  return creds;
}

export function parseConfig(input: unknown, env: NodeJS.ProcessEnv = {}, baseDir = process.cwd()): Config {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ConfigError('(config): must be a JSON object');
  const raw = structuredClone(input) as Record<string, unknown>;
  applyEnv(raw, env);
  if (env.LIVECHANNEL_DATABASE_URL) {
    const poolSize = (raw.catalog as { poolSize?: number } | undefined)?.poolSize;
    raw.catalog = { type: 'postgres', url: env.LIVECHANNEL_DATABASE_URL, ...(poolSize ? { poolSize } : {}) };
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error));
  const c = result.data;
  const dataDir = isAbsolute(c.dataDir) ? c.dataDir : resolve(baseDir, c.dataDir);

  let demo: Config['demo'];
  let credentials = c.credentials;
  let buckets = c.buckets;
  if (buckets.length === 0) {
    buckets = [{ name: 'demo', acl: 'private', storage: { type: 'fs' } }];
    if (credentials.length === 0) {
      const creds = demoCredentials(dataDir);
      credentials = [creds];
      demo = { bucket: 'demo', ...creds };
    }
  }
  if (credentials.length === 0) throw new ConfigError('credentials: at least one access key is required when buckets are configured');
  const names = new Set<string>();
  for (const b of buckets) {
    if (names.has(b.name)) throw new ConfigError(`buckets: bucket "${b.name}" is listed twice`);
    names.add(b.name);
  }
  const keyIds = new Set<string>();
  for (const k of credentials) {
    if (keyIds.has(k.accessKeyId)) throw new ConfigError(`credentials: access key "${k.accessKeyId}" is listed twice`);
    keyIds.add(k.accessKeyId);
    const unknown = k.buckets?.find((b) => !names.has(b));
    if (unknown) throw new ConfigError(`credentials: access key "${k.accessKeyId}" names bucket "${unknown}", which is not configured`);
  }
  const defaultBucket = c.defaultBucket ?? buckets[0]!.name;
  if (!names.has(defaultBucket)) throw new ConfigError(`defaultBucket: "${defaultBucket}" is not one of the configured buckets`);

  return {
    nodeId: c.nodeId,
    ...(c.publishHook ? { publishHook: c.publishHook } : {}),
    notifications: c.notifications,
    events: { ...c.events, ...(c.events.privateKeyFile ? { privateKeyFile: resolve(baseDir, c.events.privateKeyFile) } : {}) },
    catalog: c.catalog,
    workers: c.workers,
    cluster: c.cluster,
    ...listeners(c, baseDir),
    ...(c.srt ? { srt: srtConfig(c.srt, c.workers) } : {}),
    playback: c.playback,
    snapshots: snapshotsConfig(c.snapshots),
    health: c.health,
    metrics: c.metrics,
    publicHost: c.publicHost ?? (c.http === false ? (c.https || undefined)?.host : c.http.host) ?? '127.0.0.1',
    dataDir,
    credentials,
    buckets: buckets.map((b) => ({
      name: b.name,
      acl: b.acl,
      ...(b.retention ? { retention: b.retention } : {}),
      storage:
        b.storage.type === 'fs'
          ? { type: 'fs' as const, root: b.storage.root ? resolve(baseDir, b.storage.root) : join(dataDir, 'buckets', b.name) }
          : { ...b.storage, endpoint: b.storage.endpoint.replace(/\/$/, '') },
    })),
    defaultBucket,
    logLevel: c.logLevel,
    upload: c.upload,
    limits: c.limits,
    demo,
  };
}

function snapshotsConfig(c: Omit<SnapshotsConfig, 'decoders' | 'maxQueued'> & { decoders?: number; maxQueued?: number }): SnapshotsConfig {
  const decoders = c.decoders ?? availableParallelism();
  return { ...c, decoders, maxQueued: c.maxQueued ?? 16 * decoders };
}

/** Reads the config file (if any), applies env overrides and validates. */
/** The default config file name, looked for in the working directory. */
export const CONFIG_FILE_NAME = 'livechannel.json';

/**
 * The config file the gateway and the CLI read, found the same way by both: `-c <file>`, else
 * LIVECHANNEL_CONFIG, else ./livechannel.json when it exists; undefined: the defaults.
 */
export function findConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit) return explicit;
  if (env.LIVECHANNEL_CONFIG) return env.LIVECHANNEL_CONFIG;
  return existsSync(CONFIG_FILE_NAME) ? CONFIG_FILE_NAME : undefined;
}

export function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  const file = findConfigFile(explicit, env);
  let input: unknown = {};
  let baseDir = process.cwd();
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    try {
      input = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    baseDir = resolve(file, '..');
  }
  return { ...parseConfig(input, env, baseDir), ...(file ? { file } : {}) };
}
