// npm run bench:ingest -- --streams N --seconds S [--compare nginx] [--workers N]
// Many real-time RTMP publishers against the gateway (its own process), and optionally the
// same load against nginx-rtmp in the same run, with CPU, RSS, lag and latency per server.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchFixture } from './lib/fixtures.js';
import { Publisher, prepare } from './lib/rtmp-load.js';

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
  },
});
const WORKERS = Number(values.workers);
const STREAMS = Number(values.streams);
const SECONDS = values.minutes ? Number(values.minutes) * 60 : Number(values.seconds);
const FRAG = Number(values['frag-duration']);
const WARMUP_S = 5;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Target {
  name: string;
  rtmpPort: number;
  pid: number;
  /** Folder where playlist files appear, and the playlist path of stream i relative to it. */
  watchDir: string;
  playlistOf(i: number): string;
  segmentCount(i: number): number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function treePids(root: number): number[] {
  const pids = [root];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === root) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

function cpuTicks(root: number): number {
  let total = 0;
  for (const pid of treePids(root)) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
      total += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return total;
}

function openFds(root: number): number {
  return treePids(root).reduce((n, pid) => {
    try {
      return n + readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      return n;
    }
  }, 0);
}

function rssBytes(root: number): number {
  let total = 0;
  for (const pid of treePids(root)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      /* gone */
    }
  }
  return total;
}

async function waitFor<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startGateway(dir: string): Promise<Target> {
  const cfg = join(dir, 'livechannel.json');
  const dataDir = join(dir, 'data');
  writeFileSync(cfg, JSON.stringify({ workers: WORKERS, dataDir, http: { port: 0 }, rtmp: { port: 0 }, logLevel: 'warn', credentials: [{ accessKeyId: 'bench', accessKeySecret: 'bench' }], buckets: [{ name: 'bench', acl: 'public-read-write' }], limits: { rtmpMaxConnectionsPerIp: 100_000, rtmpMaxConnections: 100_000, apiRequestsPerSecond: 100_000, apiBurst: 100_000 } }));
  // BENCH_CPU_PROF=dir writes a V8 CPU profile of the gateway there
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  // BENCH_NODE_ARGS="--trace-gc …": more V8/Node flags for the gateway
  prof.push(...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean));
  const child: ChildProcess = spawn(process.execPath, [...prof, 'dist/main.js', 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => {
    out += c;
    if (process.env.BENCH_GATEWAY_OUT) writeFileSync(process.env.BENCH_GATEWAY_OUT, c, { flag: 'a' });
  });
  child.stderr!.on('data', (c) => (out += c));
  const [, http, rtmp] = await waitFor(() => /API http:\/\/[^:]+:(\d+) +RTMP rtmp:\/\/[^:]+:(\d+)/.exec(out) ?? undefined, 20_000, 'the gateway to start');
  for (let i = 0; i < STREAMS; i++) {
    const body = `<LiveChannelConfiguration><Target><Type>HLS</Type><FragDuration>${FRAG}</FragDuration><FragCount>3</FragCount></Target></LiveChannelConfiguration>`;
    const res = await fetch(`http://127.0.0.1:${http}/bench/s${i}?live`, { method: 'PUT', body });
    if (res.status !== 200) throw new Error(`PutLiveChannel s${i}: ${res.status} ${await res.text()}`);
  }
  const root = join(dataDir, 'buckets', 'bench');
  // the playlist watcher must see every folder from the start
  for (let i = 0; i < STREAMS; i++) mkdirSync(join(root, `s${i}`), { recursive: true });
  return {
    name: WORKERS > 1 ? `livechannel (${WORKERS} workers)` : 'livechannel',
    rtmpPort: Number(rtmp),
    pid: child.pid!,
    watchDir: root,
    playlistOf: (i) => `s${i}/playlist.m3u8`,
    segmentCount: (i) => (existsSync(join(root, `s${i}`)) ? readdirSync(join(root, `s${i}`)).filter((f) => f.endsWith('.ts')).length : 0),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function startNginx(dir: string): Promise<Target> {
  const module = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
  if (!existsSync('/usr/sbin/nginx') || !existsSync(module)) throw new Error('nginx-rtmp not installed: apt-get install nginx-light libnginx-mod-rtmp');
  const port = await freePort();
  const hls = join(dir, 'hls');
  mkdirSync(hls, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `load_module ${module};
user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
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
  );
  const child = spawn('/usr/sbin/nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitFor(() => (existsSync(`${dir}/nginx.pid`) ? true : undefined), 10_000, 'nginx to start');
  await new Promise((r) => setTimeout(r, 300));
  return {
    name: 'nginx-rtmp',
    rtmpPort: port,
    pid: child.pid!,
    watchDir: hls,
    playlistOf: (i) => `s${i}.m3u8`,
    segmentCount: (i) => readdirSync(hls).filter((f) => f.startsWith(`s${i}-`) && f.endsWith('.ts')).length,
    stop: async () => {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

interface Result {
  name: string;
  keptUp: number;
  worstLagMs: number;
  cpuPercent: number;
  rssIdle: number;
  rssPeak: number;
  segments: number;
  expectedSegments: number;
  p50: number;
  p99: number;
  observedP50: number;
  observedP99: number;
  latencies: number;
  /** The load generator's own CPU (this process), % of a core. */
  generatorCpuPercent: number;
  failed: number;
}

async function run(target: Target, prepared: ReturnType<typeof prepare>): Promise<Result> {
  const rssIdle = rssBytes(target.pid);
  // playlist updates: the n-th new last segment of stream i is closed by its (n)th keyframe after the first
  const lastSeen = new Map<number, string>();
  const updates = new Map<number, { at: number; renamedAt: number }[]>();
  // one non-recursive watcher per folder: inotify reports every rename into it
  // (Node's recursive watch on Linux loses files that keep being replaced)
  const byDir = new Map<string, Map<string, number>>();
  for (let i = 0; i < STREAMS; i++) {
    const path = join(target.watchDir, target.playlistOf(i));
    const dir = dirname(path);
    if (!byDir.has(dir)) byDir.set(dir, new Map());
    byDir.get(dir)!.set(basename(path), i);
  }
  const watchers = [...byDir].map(([dir, names]) =>
    watch(dir, (_event, file) => {
      const i = file ? names.get(String(file)) : undefined;
      if (i === undefined) return;
      const at = Date.now();
      let text: string;
      let renamedAt: number;
      try {
        // the playlist is replaced by a rename, which sets the new file's ctime: when it
        // became readable, free of this process's own event-loop delay
        const fd = openSync(join(dir, String(file)), 'r');
        try {
          renamedAt = fstatSync(fd).ctimeMs;
          text = readFileSync(fd, 'utf8');
        } finally {
          closeSync(fd);
        }
      } catch {
        return;
      }
      const last = text.trimEnd().split('\n').filter((l) => l.endsWith('.ts')).at(-1);
      if (!last || lastSeen.get(i) === last) return;
      lastSeen.set(i, last);
      updates.set(i, [...(updates.get(i) ?? []), { at, renamedAt }]);
    }),
  );

  const publishers = Array.from({ length: STREAMS }, (_, i) => new Publisher(prepared as never, '127.0.0.1', target.rtmpPort, `s${i}`));
  let failed = 0;
  const pumping = setInterval(() => {
    const now = performance.now();
    for (const p of publishers) p.pump(now);
  }, 5);
  // ramp up over 2 s
  await Promise.all(
    publishers.map(async (p, i) => {
      await new Promise((r) => setTimeout(r, (2000 * i) / STREAMS));
      await p.start().catch((err) => {
        failed++;
        console.error(`stream ${i}: ${(err as Error).message}`);
      });
    }),
  );
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const cpu0 = cpuTicks(target.pid);
  const generatorCpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rssPeak = rssBytes(target.pid);
  const soakSamples: { minute: number; rss: number; fds: number }[] = [];
  let ticks = 0;
  const sampling = setInterval(() => {
    const rss = rssBytes(target.pid);
    rssPeak = Math.max(rssPeak, rss);
    if (values.soak && ++ticks % 60 === 0) {
      const sample = { minute: ticks / 60, rss, fds: openFds(target.pid) };
      soakSamples.push(sample);
      console.log(`  [${target.name}] minute ${sample.minute}: RSS ${(rss / 1048576).toFixed(1)} MB, ${sample.fds} open fds`);
    }
  }, 1000);
  await new Promise((r) => setTimeout(r, (SECONDS - WARMUP_S) * 1000));
  const elapsedS = (performance.now() - t0) / 1000;
  const cpuPercent = ((cpuTicks(target.pid) - cpu0) / CLK_TCK / elapsedS) * 100;
  const generatorCpu = process.cpuUsage(generatorCpu0);
  const generatorCpuPercent = ((generatorCpu.user + generatorCpu.system) / 1e6 / elapsedS) * 100;
  clearInterval(sampling);
  clearInterval(pumping);
  const segments = Array.from({ length: STREAMS }, (_, i) => target.segmentCount(i)).reduce((a, b) => a + b, 0);
  for (const p of publishers) p.stop();
  for (const w of watchers) w.close();

  // latency to the rename that made the playlist readable (its ctime: the server's own
  // timing), and to this process noticing it (adds the load generator's event-loop delay)
  const latencies: number[] = [];
  const observed: number[] = [];
  publishers.forEach((p, i) => {
    const seen = updates.get(i) ?? [];
    // playlist update n (0-based) is segment n, closed by keyframe n + 1
    seen.forEach(({ at, renamedAt }, n) => {
      const sent = p.stats.keyframeSentAt[n + 1];
      if (sent === undefined || at < sent) return;
      // ctime comes from the kernel's coarse clock (one tick behind Date.now() at most)
      latencies.push(Math.max(0, renamedAt - sent));
      observed.push(at - sent);
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
    rssIdle,
    rssPeak,
    segments,
    expectedSegments: expected,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    observedP50: pct(observed, 0.5),
    observedP99: pct(observed, 0.99),
    latencies: latencies.length,
    generatorCpuPercent,
    failed,
  };
}

const input = values.input ?? benchFixture();
const prepared = prepare(readFileSync(input));
const mbps = (prepared.bytesPerLoop * 8) / (prepared.span / 1000) / 1e6;
console.log(`${STREAMS} streams × ${mbps.toFixed(2)} Mbit/s for ${SECONDS} s (measured after ${WARMUP_S} s), FragDuration ${FRAG} s; input ${input}`);
execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });

const results: Result[] = [];
for (const which of ['livechannel', ...(values.compare === 'nginx' ? ['nginx'] : [])]) {
  const dir = mkdtempSync(join(tmpdir(), `bench-${which}-`));
  const target = which === 'nginx' ? await startNginx(dir) : await startGateway(dir);
  try {
    results.push(await run(target, prepared));
  } finally {
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
console.log('');
console.log('| server | streams kept up | worst lag | CPU (% of a core) | CPU/stream | RSS idle → peak | RSS/stream | segments (expected) | publish latency p50 / p99 | as observed by the generator | generator CPU |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.name} | ${r.keptUp}/${STREAMS}${r.failed ? ` (${r.failed} failed)` : ''} | ${r.worstLagMs.toFixed(0)} ms | ${r.cpuPercent.toFixed(1)} % | ${(r.cpuPercent / STREAMS).toFixed(3)} % | ${mb(r.rssIdle)} → ${mb(r.rssPeak)} MB | ${mb((r.rssPeak - r.rssIdle) / STREAMS)} MB | ${r.segments} (${r.expectedSegments}) | ${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} ms (${r.latencies}) | ${r.observedP50.toFixed(0)} / ${r.observedP99.toFixed(0)} ms | ${r.generatorCpuPercent.toFixed(1)} % |`,
  );
}
if (results.length === 2) {
  const [g, n] = results as [Result, Result];
  console.log('');
  console.log(`CPU per stream, livechannel ÷ nginx-rtmp: ${(g.cpuPercent / n.cpuPercent).toFixed(2)}×; RSS per stream: ${((g.rssPeak - g.rssIdle) / Math.max(1, n.rssPeak - n.rssIdle)).toFixed(2)}×`);
}
process.exit(0);
