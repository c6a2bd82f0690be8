// npm run bench:ingest -- --streams N[,N…] --seconds S [--compare nginx] [--pin] [--workers N] [--nodes N] [--catalog postgres] [--notify] [--snapshot-interval S [--admit-all]] [--storm | --reconnect] [--rtmps] [--srt] [--health-off]
// Many real-time RTMP publishers against the gateway (its own process, or --nodes processes on
// one PostgreSQL catalog and one storage root, publishers spread over them), and optionally the
// same load against nginx-rtmp in the same run, with CPU, RSS, lag and latency per server.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import { benchFixture } from './lib/fixtures.js';
import { spawnGateway, stopGateway, type GatewayProcess } from './lib/gateway-process.js';
import { freePort, runNginx } from './lib/nginx-process.js';
import { childrenNamed, CLK_TCK, cpuModel, cpuTicks, machineBusyTicks, treePids } from './lib/proc-stats.js';
import { createBenchDatabase } from './lib/bench-database.js';
import { startEventReceiver } from './lib/event-receiver.js';
import { pollPlaylists, type PlaylistUpdate } from './lib/playlist-poller.js';
import { Publisher, prepare } from './lib/rtmp-load.js';
import { prepareTs, SrtPublisher, type SrtPreparedTs } from './lib/srt-load.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '30' },
    compare: { type: 'string' },
    input: { type: 'string' },
    'frag-duration': { type: 'string', default: '2' },
    /** Soak mode: report RSS and open file descriptors every minute (and their drift). */
    soak: { type: 'boolean', default: false },
    minutes: { type: 'string' },
    /** Gateway worker processes ("workers" in its config). */
    workers: { type: 'string', default: '1' },
    /** Gateway processes (nodes of one cluster); more than one needs PostgreSQL. */
    nodes: { type: 'string', default: '1' },
    /** Catalog: sqlite (embedded, the default) or postgres (a database of its own on BENCH_PG). */
    catalog: { type: 'string' },
    /** Seconds over which the publishers connect. */
    ramp: { type: 'string', default: '2' },
    /** Servers on CPU 0, this load generator on CPU 1 (taskset): figures for the server alone. */
    pin: { type: 'boolean', default: false },
    /** Event notifications of every event to a receiver in this process (what they cost, how late they come). */
    notify: { type: 'boolean', default: false },
    /** Snapshot Interval (s) on every channel: the gateway runs twice, without and with snapshots. */
    'snapshot-interval': { type: 'string' },
    /**
     * The load guard lets every publisher in: runs then compare at the same stream count (each
     * run's guard admits a different number, and CPU per stream falls as streams rise).
     */
    'admit-all': { type: 'boolean', default: false },
    /** A storm: every publisher connects within one second (as after a failover). */
    storm: { type: 'boolean', default: false },
    /**
     * OBS after a restart: once every publisher is live, the gateway restarts (SIGTERM, then
     * the same config on the same ports) and each publisher reconnects 2 s after its
     * connection closed, again every 2 s while refused or unreachable.
     */
    reconnect: { type: 'boolean', default: false },
    /** The gateway twice: publishers over RTMP, then over RTMPS (a certificate made with openssl). */
    rtmps: { type: 'boolean', default: false },
    /** The gateway twice: publishers over RTMP, then the same media as MPEG-TS over SRT (this bench's own SRT caller). */
    srt: { type: 'boolean', default: false },
    /** The gateway twice: stream health on (the default), then off (health.enabled false): what watching health costs. */
    'health-off': { type: 'boolean', default: false },
  },
});
const RECONNECT_DELAY_MS = 2000;
const RECONNECT_TRIES = 10;
/** What counts as admitted in time after a storm. */
const ADMIT_WITHIN_MS = 10_000;
const WORKERS = Number(values.workers);
const NODES = Number(values.nodes);
const CATALOG = values.catalog ?? (NODES > 1 ? 'postgres' : 'sqlite');
if (CATALOG !== 'sqlite' && CATALOG !== 'postgres') throw new Error(`--catalog: sqlite or postgres, not ${CATALOG}`);
if (NODES > 1 && CATALOG !== 'postgres') throw new Error('--nodes > 1 needs --catalog postgres');
const PG_SERVER = process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432';
/** --streams 50,100,150 runs every server at each count in turn. */
const COUNTS = values.streams.split(',').map(Number);
if (COUNTS.some((n) => !(n >= 1))) throw new Error(`--streams: a count or a comma-separated list of counts, not ${values.streams}`);
let STREAMS = COUNTS[0]!;
/** The generator is the bottleneck past these: its event loop runs late, or it has no CPU left. */
const GENERATOR_MAX_LOOP_DELAY_MS = 50;
const GENERATOR_MAX_CPU_PERCENT = 90;
const SECONDS = values.minutes ? Number(values.minutes) * 60 : Number(values.seconds);
const FRAG = Number(values['frag-duration']);
const RAMP_S = values.storm ? 1 : Number(values.ramp);
if (values.reconnect && (NODES > 1 || WORKERS > 1)) throw new Error('--reconnect restarts one gateway process: no --nodes or --workers');
const SERVER_CPU = values.pin ? ['taskset', '-c', '0'] : [];
if (values.pin) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
const WARMUP_S = 5;
/** How often the bench looks at each playlist (the latency comes from its ctime, not from this). */
const PLAYLIST_POLL_MS = 100;
/** How often the gateway's /metrics is read (its event-loop figures). */
const METRICS_EVERY_S = 5;
const SNAPSHOT_INTERVAL = values['snapshot-interval'] === undefined ? undefined : Number(values['snapshot-interval']);
if (SNAPSHOT_INTERVAL !== undefined && !(SNAPSHOT_INTERVAL >= 1 && SNAPSHOT_INTERVAL <= 100)) throw new Error('--snapshot-interval: 1 to 100 seconds');

interface Target {
  name: string;
  /** Its channels have the Snapshot option. */
  snapshots?: boolean;
  /** Publisher i goes to rtmpPorts[i % length]. */
  rtmpPorts: number[];
  /** Publishers connect over TLS. */
  secure?: boolean;
  /** Publishers send MPEG-TS over SRT to this port. */
  srtPort?: number;
  pids: number[];
  /** Folder where playlist files appear, and the playlist path of stream i relative to it. */
  watchDir: string;
  playlistOf(i: number): string;
  segmentCount(i: number): number;
  /** The gateways' /metrics (livechannel only). */
  metricsUrls?: string[];
  /** Catalog transactions committed so far (PostgreSQL only). */
  catalogTransactions?(): Promise<number>;
  /** Stops the server and starts it again on the same ports (--reconnect). */
  restart?(): Promise<void>;
  stop(): Promise<void>;
}

/** Every PostgreSQL server process on this machine (the catalog's CPU shares the box). */
function postgresPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/comm`, 'utf8').trim() === 'postgres';
      } catch {
        return false;
      }
    })
    .map(Number);
}

function openFds(roots: number[]): number {
  return roots.flatMap(treePids).reduce((n, pid) => {
    try {
      return n + readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      return n;
    }
  }, 0);
}

function rssBytes(roots: number[]): number {
  let total = 0;
  for (const pid of roots.flatMap(treePids)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      /* gone */
    }
  }
  return total;
}


/** A self-signed certificate for 127.0.0.1 in `dir` (bench:ingest --rtmps). */
function benchCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

async function startGateway(dir: string, snapshotInterval?: number, secure = false, srt = false, health = true): Promise<Target> {
  const dataDir = join(dir, 'data');
  const db = CATALOG === 'postgres' ? await createBenchDatabase(PG_SERVER) : undefined;
  const gateways: GatewayProcess[] = [];
  for (let n = 0; n < NODES; n++) {
    const cfg = join(dir, `livechannel-${n}.json`);
    writeFileSync(
      cfg,
      JSON.stringify({
        workers: WORKERS,
        nodeId: `bench-${n}`,
        dataDir,
        ...(db ? { catalog: { type: 'postgres', url: db.url } } : {}),
        // a restart must come back on the same ports
        http: { port: values.reconnect ? await freePort() : 0 },
        rtmp: { port: values.reconnect ? await freePort() : 0 },
        logLevel: 'warn',
        ...(secure ? { tls: benchCertificate(dir), rtmps: { port: 0 }, https: false } : {}),
        ...(srt ? { srt: { port: await freePort() } } : {}),
        ...(health ? {} : { health: { enabled: false } }),
        credentials: [{ accessKeyId: 'bench', accessKeySecret: 'bench' }],
        buckets: [{ name: 'bench', acl: 'public-read-write' }],
        limits: {
          rtmpMaxConnectionsPerIp: 100_000,
          rtmpMaxConnections: 100_000,
          apiRequestsPerSecond: 100_000,
          apiBurst: 100_000,
          // a profiled gateway looks busier than it is: the profile is for costs, not for admission
          ...(process.env.BENCH_CPU_PROF || values['admit-all'] ? { overloadEventLoopUtilization: 1, overloadEventLoopDelayMs: 100_000 } : {}),
        },
        ...(notifications ? { notifications: [{ url: notifications.url, events: ['*'] }] } : {}),
      }),
    );
    // one at a time: the first creates the data folder and runs the migrations
    gateways.push(await spawnGateway(cfg, SERVER_CPU));
  }
  for (let i = 0; i < STREAMS; i++) {
    const snapshot = snapshotInterval ? `<Snapshot><DestBucket>bench</DestBucket><Interval>${snapshotInterval}</Interval></Snapshot>` : '';
    const body = `<LiveChannelConfiguration><Target><Type>HLS</Type><FragDuration>${FRAG}</FragDuration><FragCount>3</FragCount></Target>${snapshot}</LiveChannelConfiguration>`;
    const res = await fetch(`http://127.0.0.1:${gateways[0]!.http}/bench/s${i}?live`, { method: 'PUT', body });
    if (res.status !== 200) throw new Error(`PutLiveChannel s${i}: ${res.status} ${await res.text()}`);
  }
  const root = join(dataDir, 'buckets', 'bench');
  // the playlist watcher must see every folder from the start
  for (let i = 0; i < STREAMS; i++) mkdirSync(join(root, `s${i}`), { recursive: true });
  const shape = [NODES > 1 ? `${NODES} nodes` : '', WORKERS > 1 ? `${WORKERS} workers${NODES > 1 ? ' each' : ''}` : '', CATALOG === 'postgres' ? 'PostgreSQL' : ''].filter(Boolean).join(', ');
  const target: Target = {
    name: (shape ? `livechannel (${shape})` : 'livechannel') + (snapshotInterval ? ` + snapshots every ${snapshotInterval} s` : '') + (secure ? ' over RTMPS' : '') + (srt ? ' over SRT' : '') + (health ? '' : ' (health off)'),
    snapshots: snapshotInterval !== undefined,
    rtmpPorts: gateways.map((g) => (secure ? g.rtmps! : g.rtmp)),
    secure,
    ...(srt ? { srtPort: JSON.parse(readFileSync(join(dir, 'livechannel-0.json'), 'utf8')).srt.port as number } : {}),
    pids: gateways.map((g) => g.child.pid!),
    watchDir: root,
    playlistOf: (i) => `s${i}/playlist.m3u8`,
    segmentCount: (i) => (existsSync(join(root, `s${i}`)) ? readdirSync(join(root, `s${i}`)).filter((f) => f.endsWith('.ts')).length : 0),
    metricsUrls: gateways.map((g) => `http://127.0.0.1:${g.http}/metrics`),
    ...(db ? { catalogTransactions: () => db.transactions() } : {}),
    restart: async () => {
      await stopGateway(gateways[0]!);
      gateways[0] = await spawnGateway(join(dir, 'livechannel-0.json'), SERVER_CPU);
      target.pids = [gateways[0].child.pid!];
    },
    stop: async () => {
      await Promise.all(gateways.map(stopGateway));
      await db?.drop();
    },
  };
  return target;
}

async function startNginx(dir: string): Promise<Target> {
  const module = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
  if (!existsSync(module)) throw new Error('nginx-rtmp not installed: apt-get install nginx-light libnginx-mod-rtmp');
  const port = await freePort();
  const hls = join(dir, 'hls');
  mkdirSync(hls, { recursive: true });
  const nginx = await runNginx(
    dir,
    `load_module ${module};
events { worker_connections 8192; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    application live {
      live on;
      record off;
      hls on;
      hls_path ${hls};
      hls_fragment ${FRAG}s;
      hls_playlist_length ${FRAG * 3}s;
      hls_cleanup off;
    }
  }
}
`,
    SERVER_CPU,
  );
  return {
    name: 'nginx-rtmp',
    rtmpPorts: [port],
    pids: [nginx.pid],
    watchDir: hls,
    playlistOf: (i) => `s${i}.m3u8`,
    segmentCount: (i) => readdirSync(hls).filter((f) => f.startsWith(`s${i}-`) && f.endsWith('.ts')).length,
    stop: () => nginx.stop(),
  };
}

interface Result {
  name: string;
  keptUp: number;
  worstLagMs: number;
  cpuPercent: number;
  /** Of cpuPercent, what the gateways' ffmpeg children (snapshot decoders) used. */
  decoderCpuPercent: number;
  rssIdle: number;
  rssPeak: number;
  segments: number;
  expectedSegments: number;
  p50: number;
  p99: number;
  latencies: number;
  /** The load generator's own CPU (this process), % of a core. */
  generatorCpuPercent: number;
  /** The load generator's event-loop delay, 99th percentile (ms): above a few tens of ms it is the bottleneck. */
  generatorLoopDelayP99: number;
  /** Every CPU of the machine but the generator's (kernel threads such as writeback included), % of a core. */
  boxCpuPercent: number;
  /** Catalog transactions per second per stream over the measured window (PostgreSQL only). */
  catalogTxPerStreamSecond?: number;
  /** The gateways' event-loop busy shares (the last second's, read every METRICS_EVERY_S): mean, 90th percentile, highest (livechannel only). */
  eventLoopUtilization?: { mean: number; p90: number; max: number };
  /** PostgreSQL's CPU, % of a core (PostgreSQL only). */
  catalogCpuPercent?: number;
  /** Snapshot outcomes over the measured window (channels with the Snapshot option). */
  snapshots?: Record<string, number>;
  failed: number;
}

/** livechannel_snapshots_total by outcome, summed over the gateways. */
async function snapshotCounts(urls: readonly string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const url of urls) {
    const text = await (await fetch(url)).text();
    for (const m of text.matchAll(/^livechannel_snapshots_total\{outcome="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2]);
  }
  return counts;
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(1);

function srtFixture(flv: string, spanMs: number): SrtPreparedTs {
  const ts = flv.replace(/\.flv$/, '.ts');
  if (!existsSync(ts)) execFileSync(ffmpegPath(), ['-y', '-v', 'error', '-i', flv, '-c', 'copy', '-f', 'mpegts', ts]);
  return prepareTs(readFileSync(ts), spanMs);
}

/** Publisher i of a run: RTMP(S), or SRT carrying the same media as MPEG-TS. */
function publisherFor(target: Target, i: number, media: ReturnType<typeof prepare>): Publisher {
  if (target.srtPort !== undefined) return new SrtPublisher(srtTs!, target.srtPort, `live/s${i}`) as unknown as Publisher;
  return new Publisher(media as never, '127.0.0.1', target.rtmpPorts[i % target.rtmpPorts.length]!, `s${i}`, target.secure);
}

/** How the publishers got in: admitted within ADMIT_WITHIN_MS of their try, the slowest, refused. */
function reportAdmission(what: string, publishers: Publisher[]): void {
  const waits = publishers.filter((p) => p.stats.published).map((p) => p.stats.publishedAt! - p.stats.startedAt!);
  const within = waits.filter((w) => w <= ADMIT_WITHIN_MS).length;
  const sorted = [...waits].sort((a, b) => a - b);
  const q = (f: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]! / 1000).toFixed(2) : '-');
  console.error(
    `${what}: ${waits.length} of ${publishers.length} published, ${within} within ${ADMIT_WITHIN_MS / 1000} s (${((within / publishers.length) * 100).toFixed(1)} %); time to Publish.Start p50 ${q(0.5)} s, p99 ${q(0.99)} s, max ${q(1)} s`,
  );
}

async function run(target: Target, prepared: ReturnType<typeof prepare>): Promise<Result> {
  const rssIdle = rssBytes(target.pids);
  // playlist updates: the n-th new last segment of stream i is closed by its (n)th keyframe after the first
  const updates = new Map<number, PlaylistUpdate[]>();
  const poller = pollPlaylists(
    Array.from({ length: STREAMS }, (_, i) => join(target.watchDir, target.playlistOf(i))),
    PLAYLIST_POLL_MS,
    (i, update) => updates.set(i, [...(updates.get(i) ?? []), update]),
  );

  const publishers = Array.from({ length: STREAMS }, (_, i) => publisherFor(target, i, prepared));
  let failed = 0;
  const refusals = new Map<string, number[]>();
  const pumping = setInterval(() => {
    const now = performance.now();
    for (const p of publishers) p.pump(now);
  }, 5);
  await Promise.all(
    publishers.map(async (p, i) => {
      await new Promise((r) => setTimeout(r, (RAMP_S * 1000 * i) / STREAMS));
      await p.start().catch((err) => {
        failed++;
        const why = (err as Error).message.replace(/\d+/g, 'N');
        refusals.set(why, [...(refusals.get(why) ?? []), i]);
      });
    }),
  );
  for (const [why, streams] of refusals) console.error(`${streams.length} streams refused (first s${streams[0]}, last s${streams.at(-1)}): ${why}`);
  reportAdmission(`[${target.name}] ${values.storm ? 'storm' : `ramp over ${RAMP_S} s`}`, publishers);
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const updateOffset = new Map<number, number>();
  if (values.reconnect && target.restart) {
    const rssBefore = rssBytes(target.pids);
    const restarted = performance.now();
    const restart = target.restart();
    // each publisher reconnects on its own, RECONNECT_DELAY_MS after its connection closed
    const retries = await Promise.all(
      publishers.map(async (p, i) => {
        if (!p.stats.published) return 0;
        await p.closed;
        for (let attempt = 1; attempt <= RECONNECT_TRIES; attempt++) {
          await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS));
          const again = publisherFor(target, i, prepared);
          publishers[i] = again;
          try {
            await again.start();
            // the playlist updates from here on are this push's segments
            updateOffset.set(i, updates.get(i)?.length ?? 0);
            return attempt;
          } catch {
            again.stop();
          }
        }
        return RECONNECT_TRIES + 1;
      }),
    );
    await restart;
    const tries = retries.filter((n) => n > 0);
    console.error(
      `[${target.name}] restart: back after ${((performance.now() - restarted) / 1000).toFixed(1)} s; reconnects needing 1 try: ${tries.filter((n) => n === 1).length}, 2–${RECONNECT_TRIES}: ${tries.filter((n) => n > 1 && n <= RECONNECT_TRIES).length}, never: ${tries.filter((n) => n > RECONNECT_TRIES).length}; RSS ${mb(rssBefore)} MB before, ${mb(rssBytes(target.pids))} MB after`,
    );
    reportAdmission(`[${target.name}] after the restart`, publishers);
    failed = publishers.filter((p) => !p.stats.published).length;
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  }
  const snapshots0 = target.snapshots ? await snapshotCounts(target.metricsUrls ?? []) : undefined;
  const cpu0 = cpuTicks(target.pids);
  // decoders start and stop with demand: each one's ticks from when it was first seen
  const decoderTicks = new Map<number, { first: number; last: number }>();
  const sampleDecoders = () => {
    for (const pid of childrenNamed(target.pids, 'ffmpeg')) {
      const t = cpuTicks([pid], false);
      const known = decoderTicks.get(pid);
      if (known) known.last = t;
      else decoderTicks.set(pid, { first: t, last: t });
    }
  };
  sampleDecoders();
  const tx0 = await target.catalogTransactions?.();
  const pgCpu0 = cpuTicks(postgresPids(), false);
  const generatorCpu0 = process.cpuUsage();
  const box0 = machineBusyTicks();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = performance.now();
  let rssPeak = rssBytes(target.pids);
  const soakSamples: { minute: number; rss: number; fds: number }[] = [];
  let ticks = 0;
  const eluSamples: number[] = [];
  let metricsTick = 0;
  const sampling = setInterval(() => {
    // scraped every few seconds, as Prometheus would: rendering /metrics costs the gateway CPU that nginx does not spend
    if (metricsTick++ % METRICS_EVERY_S === 0) for (const url of target.metricsUrls ?? []) {
      void fetch(url)
        .then((r) => r.text())
        .then((text) => {
          const m = /^livechannel_event_loop_utilization(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
          if (m) eluSamples.push(Number(m[1]));
        })
        .catch(() => {});
    }
    sampleDecoders();
    const rss = rssBytes(target.pids);
    rssPeak = Math.max(rssPeak, rss);
    if (values.soak && ++ticks % 60 === 0) {
      const sample = { minute: ticks / 60, rss, fds: openFds(target.pids) };
      soakSamples.push(sample);
      console.log(`  [${target.name}] minute ${sample.minute}: RSS ${(rss / 1048576).toFixed(1)} MB, ${sample.fds} open fds`);
    }
  }, 1000);
  await new Promise((r) => setTimeout(r, (SECONDS - WARMUP_S) * 1000));
  const elapsedS = (performance.now() - t0) / 1000;
  const cpuPercent = ((cpuTicks(target.pids) - cpu0) / CLK_TCK / elapsedS) * 100;
  sampleDecoders();
  const decoderCpuPercent = ([...decoderTicks.values()].reduce((sum, d) => sum + d.last - d.first, 0) / CLK_TCK / elapsedS) * 100;
  // processes that ended within the window drop out of this sum: an estimate from below
  const pgCpuPercent = ((cpuTicks(postgresPids(), false) - pgCpu0) / CLK_TCK / elapsedS) * 100;
  const tx1 = await target.catalogTransactions?.();
  const snapshots1 = snapshots0 ? await snapshotCounts(target.metricsUrls ?? []) : undefined;
  const generatorCpu = process.cpuUsage(generatorCpu0);
  const generatorCpuPercent = ((generatorCpu.user + generatorCpu.system) / 1e6 / elapsedS) * 100;
  const boxCpuPercent = ((machineBusyTicks() - box0) / CLK_TCK / elapsedS) * 100 - generatorCpuPercent;
  loopDelay.disable();
  const generatorLoopDelayP99 = loopDelay.percentile(99) / 1e6;
  clearInterval(sampling);
  clearInterval(pumping);
  const segments = Array.from({ length: STREAMS }, (_, i) => target.segmentCount(i)).reduce((a, b) => a + b, 0);
  for (const p of publishers) p.stop();
  poller.close();

  // latency to the rename that made the playlist readable (its ctime: the server's own timing)
  const latencies: number[] = [];
  publishers.forEach((p, i) => {
    const seen = (updates.get(i) ?? []).slice(updateOffset.get(i) ?? 0);
    // playlist update n (0-based) is segment n, closed by keyframe n + 1
    seen.forEach(({ at, renamedAt }, n) => {
      const sent = p.stats.keyframeSentAt[n + 1];
      if (sent === undefined || at < sent) return;
      // ctime comes from the kernel's coarse clock (one tick behind Date.now() at most)
      latencies.push(Math.max(0, renamedAt - sent));
    });
  });
  if (process.env.BENCH_DEBUG) {
    publishers.forEach((p, i) => console.error(`s${i}: ${updates.get(i)?.length ?? 0} playlist updates, ${p.stats.keyframeSentAt.length} keyframes`, (updates.get(i) ?? []).slice(0, 3).map(({ renamedAt }, n) => renamedAt - (p.stats.keyframeSentAt[n + 1] ?? 0))));
  }
  const pct = (list: number[], q: number) => {
    const sorted = [...list].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
  };
  const lags = publishers.map((p) => p.stats.maxLagMs);
  // every keyframe after the first closes a segment (GOP = FragDuration)
  const expected = publishers.reduce((sum, p) => sum + Math.max(0, p.stats.keyframeSentAt.length - 1), 0);
  if (values.soak && soakSamples.length >= 2) {
    const first = soakSamples[0]!;
    const last = soakSamples.at(-1)!;
    console.log(`  [${target.name}] drift from minute ${first.minute} to ${last.minute}: RSS ${((last.rss - first.rss) / 1048576).toFixed(1)} MB, fds ${last.fds - first.fds}`);
  }
  return {
    name: target.name,
    keptUp: lags.filter((l, i) => l <= 1000 && publishers[i]!.stats.published).length,
    worstLagMs: Math.max(...lags),
    cpuPercent,
    decoderCpuPercent,
    rssIdle,
    rssPeak,
    segments,
    expectedSegments: expected,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    latencies: latencies.length,
    generatorCpuPercent,
    generatorLoopDelayP99,
    boxCpuPercent,
    ...(eluSamples.length ? { eventLoopUtilization: { mean: eluSamples.reduce((a, b) => a + b, 0) / eluSamples.length, p90: pct(eluSamples, 0.9), max: Math.max(...eluSamples) } } : {}),
    ...(tx0 !== undefined && tx1 !== undefined ? { catalogTxPerStreamSecond: (tx1 - tx0) / elapsedS / STREAMS, catalogCpuPercent: pgCpuPercent } : {}),
    ...(snapshots1 ? { snapshots: Object.fromEntries(Object.entries(snapshots1).map(([k, v]) => [k, v - (snapshots0![k] ?? 0)])) } : {}),
    failed,
  };
}

const input = values.input ?? benchFixture();
const prepared = prepare(readFileSync(input));
/** --srt: the same media as MPEG-TS, made once next to the FLV. */
const srtTs = values.srt ? srtFixture(input, prepared.span) : undefined;
const mbps = (prepared.bytesPerLoop * 8) / (prepared.span / 1000) / 1e6;
console.log(`${COUNTS.join(', ')} streams × ${mbps.toFixed(2)} Mbit/s for ${SECONDS} s (measured after ${WARMUP_S} s), FragDuration ${FRAG} s; input ${input}`);
console.log(`machine: ${cpuModel()}, ${cpus().length} CPUs${values.pin ? '; servers pinned to CPU 0, this generator to CPU 1' : ''}`);
execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });

const notifications = values.notify ? await startEventReceiver() : undefined;
const comparisons: { streams: number; line: string }[] = [];
for (const count of COUNTS) {
  STREAMS = count;
  const results: Result[] = [];
  const runs = ['livechannel', ...(SNAPSHOT_INTERVAL ? ['snapshots'] : []), ...(values.rtmps ? ['rtmps'] : []), ...(values.srt ? ['srt'] : []), ...(values['health-off'] ? ['nohealth'] : []), ...(values.compare === 'nginx' ? ['nginx'] : [])];
  for (const which of runs) {
    const dir = mkdtempSync(join(tmpdir(), `bench-${which}-`));
    const target = which === 'nginx' ? await startNginx(dir) : await startGateway(dir, which === 'snapshots' ? SNAPSHOT_INTERVAL : undefined, which === 'rtmps', which === 'srt', which !== 'nohealth');
    try {
      results.push(await run(target, prepared));
    } finally {
      await target.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  report(results);
}
if (comparisons.length > 1) {
  console.log('\n' + comparisons.map((c) => `${c.streams} streams: ${c.line}`).join('\n'));
}
if (notifications) {
  const n = notifications.stats();
  console.log(
    `\nnotifications: ${n.received} events received (${n.byType}), ${(n.received / SECONDS / COUNTS.length).toFixed(0)}/s; event time → receipt p50 ${n.p50} ms, p99 ${n.p99} ms, max ${n.max} ms`,
  );
  notifications.close();
}

/**
 * Why runs cannot be compared, if they cannot: a ratio only means something when every server
 * kept every stream up and the generator was not the bottleneck in any of them.
 */
function whyNoRatio(runs: Result[]): string | undefined {
  const why: string[] = [];
  for (const r of runs) {
    if (r.keptUp < STREAMS) why.push(`${r.name} kept ${r.keptUp} of ${STREAMS} streams up`);
    if (r.generatorLoopDelayP99 > GENERATOR_MAX_LOOP_DELAY_MS) why.push(`the generator's event loop ran ${r.generatorLoopDelayP99.toFixed(0)} ms late (p99) sending to ${r.name}`);
    if (r.generatorCpuPercent > GENERATOR_MAX_CPU_PERCENT) why.push(`the generator used ${r.generatorCpuPercent.toFixed(0)} % of a core sending to ${r.name}`);
  }
  return why.length ? why.join('; ') : undefined;
}

/** Prints one stream count's runs (and its comparison with nginx-rtmp, when both sides kept up). */
function report(results: Result[]): void {
  /** Streams that were admitted (per-stream figures divide by these, not by the offered count). */
  const live = (r: Result) => Math.max(1, STREAMS - r.failed);
  const perStream = (r: Result) => r.cpuPercent / live(r);
  console.log('');
  console.log(`| streams | server | kept up | worst lag | CPU (% of a core) | CPU/stream | machine CPU/stream | RSS idle → peak | RSS/stream | segments (expected) | publish latency p50 / p99 | generator CPU, loop delay p99 |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${STREAMS} | ${r.name} | ${r.keptUp}/${STREAMS}${r.failed ? ` (${r.failed} failed)` : ''} | ${r.worstLagMs.toFixed(0)} ms | ${r.cpuPercent.toFixed(1)} % | ${(r.cpuPercent / live(r)).toFixed(3)} % | ${(r.boxCpuPercent / live(r)).toFixed(3)} % | ${mb(r.rssIdle)} → ${mb(r.rssPeak)} MB | ${mb((r.rssPeak - r.rssIdle) / live(r))} MB | ${r.segments} (${r.expectedSegments}) | ${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} ms (${r.latencies}) | ${r.generatorCpuPercent.toFixed(1)} %, ${r.generatorLoopDelayP99.toFixed(0)} ms |`,
    );
  }
  console.log('(machine CPU: every process and kernel thread but the generator, e.g. the page cache writeback nginx leaves to the kernel)');
  for (const r of results) {
    const elu = r.eventLoopUtilization;
    if (elu) console.log(`\n${r.name}: event loop busy ${(elu.mean * 100).toFixed(0)} % of the time (mean over the run${NODES * WORKERS > 1 ? ' and the processes' : ''}; read every ${METRICS_EVERY_S} s: 90th percentile ${(elu.p90 * 100).toFixed(0)} %, highest ${(elu.max * 100).toFixed(0)} %)`);
    if (r.catalogTxPerStreamSecond !== undefined) {
      console.log(`${r.name}: PostgreSQL ${(r.catalogTxPerStreamSecond * STREAMS).toFixed(0)} transactions/s (${r.catalogTxPerStreamSecond.toFixed(2)} per stream per second), its CPU ${r.catalogCpuPercent!.toFixed(1)} % of a core`);
    }
  }
  const snapshotRun = results.find((r) => r.snapshots);
  if (snapshotRun) {
    const plain = results[0]!;
    const s = snapshotRun.snapshots!;
    const offered = Object.values(s).reduce((a, b) => a + b, 0);
    const window = SECONDS - WARMUP_S;
    console.log(
      `\nsnapshots every ${SNAPSHOT_INTERVAL} s: ${offered} keyframes offered in the ${window} s window (about ${Math.round((STREAMS * window) / SNAPSHOT_INTERVAL!)} intervals): ` +
        Object.entries(s).map(([k, v]) => `${k} ${v}`).join(', '),
    );
    console.log(`CPU per stream with snapshots ÷ without: ${(perStream(snapshotRun) / perStream(plain)).toFixed(3)}× (${perStream(snapshotRun).toFixed(3)} % vs ${perStream(plain).toFixed(3)} % of a core; decoders included)`);
    const stored = s.stored ?? 0;
    const gatewayMs = (r: Result) => (r.cpuPercent - r.decoderCpuPercent) * 10; // the gateway process's ms of CPU per second
    console.log(
      `of it, the ffmpeg decoders: ${snapshotRun.decoderCpuPercent.toFixed(1)} % of a core` +
        (stored ? ` (${((snapshotRun.decoderCpuPercent * 10 * window) / stored).toFixed(1)} ms per stored snapshot)` : '') +
        `; the gateway process: ${(gatewayMs(snapshotRun) / live(snapshotRun) - gatewayMs(plain) / live(plain)).toFixed(3)} ms per stream per second more than without`,
    );
  }
  const srtRun = results.find((r) => r.name.endsWith('over SRT'));
  if (srtRun) {
    const plain = results[0]!;
    const why = whyNoRatio([plain, srtRun]);
    console.log(
      `\nCPU per stream, SRT ÷ RTMP: ${!why ? `${(perStream(srtRun) / perStream(plain)).toFixed(2)}×` : `no ratio: ${why}`} (${perStream(srtRun).toFixed(3)} % vs ${perStream(plain).toFixed(3)} % of a core; SRT segment latency is not measured: its publisher does not mark keyframes)`,
    );
  }
  const healthOff = results.find((r) => r.name.endsWith('(health off)'));
  if (healthOff) {
    const on = results[0]!;
    const why = whyNoRatio([on, healthOff]);
    console.log(
      `\nCPU per stream, health on ÷ off: ${!why ? `${(perStream(on) / perStream(healthOff)).toFixed(3)}×` : `no ratio: ${why}`} (${perStream(on).toFixed(3)} % vs ${perStream(healthOff).toFixed(3)} % of a core); RSS peak ${mb(on.rssPeak)} vs ${mb(healthOff.rssPeak)} MB`,
    );
  }
  const rtmpsRun = results.find((r) => r.name.endsWith('over RTMPS'));
  if (rtmpsRun) {
    const plain = results[0]!;
    const why = whyNoRatio([plain, rtmpsRun]);
    console.log(
      `\nCPU per stream, RTMPS ÷ RTMP: ${!why ? `${(perStream(rtmpsRun) / perStream(plain)).toFixed(2)}×` : `no ratio: ${why}`} (${perStream(rtmpsRun).toFixed(3)} % vs ${perStream(plain).toFixed(3)} % of a core)`,
    );
  }
  if (values.compare === 'nginx') {
    const [g, n] = [results[0]!, results.at(-1)!];
    const rssPerStream = (r: Result) => Math.max(1, r.rssPeak - r.rssIdle) / live(r);
    const machinePerStream = (r: Result) => r.boxCpuPercent / live(r);
    const why = whyNoRatio([g, n]);
    const line = why
      ? `no ratio: ${why}`
      : `CPU per stream, livechannel ÷ nginx-rtmp: ${(perStream(g) / perStream(n)).toFixed(2)}× (machine CPU ${(machinePerStream(g) / machinePerStream(n)).toFixed(2)}×); RSS per stream: ${(rssPerStream(g) / rssPerStream(n)).toFixed(2)}×; livechannel's publish latency p99 ${g.p99.toFixed(0)} ms`;
    console.log(`\n${line}`);
    comparisons.push({ streams: STREAMS, line });
  }
}

process.exit(0);
