// npm run bench:play -- [--viewers N] [--channels C] [--seconds S] [--sign] [--compare nginx] [--wrk] [--ll]
// Playback load against live channels of the gateway (its own process), and optionally the
// same load against nginx serving the same files, in one run:
// - viewers: N simulated players spread over C live channels, each polling its playlist every
//   target duration and fetching every new segment (as hls.js does); reports how many kept up;
// - --wrk: Debian's wrk (-t1 -c200) on one live playlist and on one segment: req/s, MB/s, p50/p99;
// - --ll: LL-HLS channels (fMP4, 0.5 s parts); each viewer does what hls.js does in low-latency
//   mode: a blocking playlist reload for the next part, then that part, round after round.
// The servers run on CPU 0 and this process (publishers, viewers) and wrk on CPU 1 (taskset).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import OSS from 'ali-oss';
import { benchFixture } from './lib/fixtures.js';
import { spawnGateway, stopGateway, waitFor } from './lib/gateway-process.js';
import { freePort, runNginx } from './lib/nginx-process.js';
import { CLK_TCK, cpuTicks } from './lib/proc-stats.js';
import { Publisher, prepare } from './lib/rtmp-load.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '200' },
    channels: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    /** Viewers fetch `?x-oss-process=hls/sign` playlists with a signed URL, and signed segments. */
    sign: { type: 'boolean', default: false },
    compare: { type: 'string' },
    /** Also measure raw throughput with wrk on a playlist and a segment. */
    wrk: { type: 'boolean', default: false },
    connections: { type: 'string', default: '200' },
    /** Which objects wrk loads: playlist, segment or both. */
    'wrk-objects': { type: 'string', default: 'playlist,segment' },
    ll: { type: 'boolean', default: false },
  },
});
if (values.ll && (values.compare || values.wrk)) throw new Error('--ll has no nginx or wrk comparison: nginx serves no LL-HLS');
const PART_S = 0.5;
const VIEWERS = Number(values.viewers);
const CHANNELS = Number(values.channels);
const SECONDS = Number(values.seconds);
const KEY = { accessKeyId: 'bench', accessKeySecret: 'bench-secret' };
const SERVER_CPU = ['taskset', '-c', '0'];
execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });

interface Server {
  name: string;
  base: string;
  pid: number;
  stop(): Promise<void>;
}

async function startNginx(dir: string, root: string): Promise<Server> {
  const port = await freePort();
  const nginx = await runNginx(
    dir,
    `events { worker_connections 16384; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { application/x-mpegURL m3u8; video/MP2T ts; }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location ~ \\.m3u8$ { add_header Cache-Control no-cache; }
  }
}
`,
    SERVER_CPU,
  );
  return { name: 'nginx (static files)', base: `http://127.0.0.1:${port}`, pid: nginx.pid, stop: () => nginx.stop() };
}

interface LatencyStats {
  requests: number;
  bytes: number;
  p50: number;
  p99: number;
}

function summarize(list: number[], bytes: number): LatencyStats {
  const sorted = [...list].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
  return { requests: list.length, bytes, p50: at(0.5), p99: at(0.99) };
}

function get(agent: Agent, url: string): Promise<{ status: number; body: Buffer | undefined; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const keep = res.headers['content-type']?.includes('mpegURL');
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keep) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: keep ? Buffer.concat(chunks) : undefined, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface ViewerResult {
  keptUp: number;
  errors: Map<string, number>;
  playlist: LatencyStats;
  segment: LatencyStats;
  serverCpu: number;
  /** This process's own event-loop delay p99 (ms): when high, the viewers' polls ran late. */
  generatorLagMs: number;
}

/** What a player reports to the harness. */
interface PlayerLog {
  /** A playlist request (for LL players, a blocking reload) took `ms` and brought `bytes`. */
  playlist(ms: number, bytes: number): void;
  /** A segment (or part) request. */
  media(ms: number, bytes: number): void;
  fail(what: string): void;
}

/** One player until `until`; resolves whether it fell behind. */
type Player = (url: string, agent: Agent, until: number, log: PlayerLog) => Promise<boolean>;

/** N players over the playlist URLs, joining over 2 s; the server's CPU and this process's loop delay meanwhile. */
async function runPlayers(server: Server, playlistUrls: string[], player: Player): Promise<ViewerResult> {
  const errors = new Map<string, number>();
  const playlistMs: number[] = [];
  const mediaMs: number[] = [];
  let playlistBytes = 0;
  let mediaBytes = 0;
  const log: PlayerLog = {
    playlist: (ms, bytes) => {
      playlistMs.push(ms);
      playlistBytes += bytes;
    },
    media: (ms, bytes) => {
      mediaMs.push(ms);
      mediaBytes += bytes;
    },
    fail: (what) => errors.set(what, (errors.get(what) ?? 0) + 1),
  };
  let keptUp = 0;
  const until = performance.now() + SECONDS * 1000;
  const cpu0 = cpuTicks([server.pid]) / CLK_TCK;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const t0 = performance.now();
  const viewer = async (i: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    await new Promise((r) => setTimeout(r, (i * 2000) / VIEWERS)); // joining over 2 s
    const behind = await player(playlistUrls[i % playlistUrls.length]!, agent, until, log);
    agent.destroy();
    if (!behind) keptUp++;
  };
  await Promise.all(Array.from({ length: VIEWERS }, (_, i) => viewer(i)));
  const elapsed = (performance.now() - t0) / 1000;
  return {
    keptUp,
    errors,
    playlist: summarize(playlistMs, playlistBytes),
    segment: summarize(mediaMs, mediaBytes),
    serverCpu: ((cpuTicks([server.pid]) / CLK_TCK - cpu0) / elapsed) * 100,
    generatorLagMs: lag.percentile(99) / 1e6,
  };
}

/** A player as hls.js is one: poll the playlist every target duration, fetch each segment not fetched yet. */
const pollingPlayer: Player = async (url, agent, until, log) => {
  const seen = new Set<string>();
  let behind = false;
  while (performance.now() < until) {
    const pollStart = performance.now();
    let target = 2;
    try {
      const res = await get(agent, url);
      log.playlist(performance.now() - pollStart, res.bytes);
      if (res.status !== 200) throw new Error(`playlist ${res.status}`);
      const text = res.body!.toString();
      target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1] ?? 2);
      const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
      // a player starts at the live edge: the segments before the last are taken as seen
      if (seen.size === 0) uris.slice(0, -1).forEach((u) => seen.add(u.split('?')[0]!));
      for (const uri of uris) {
        const name = uri.split('?')[0]!;
        if (seen.has(name)) continue;
        seen.add(name);
        const s = performance.now();
        const seg = await get(agent, new URL(uri, url).toString());
        log.media(performance.now() - s, seg.bytes);
        if (seg.status !== 200) throw new Error(`segment ${seg.status}`);
      }
    } catch (err) {
      log.fail((err as Error).message);
      behind = true;
    }
    // a player that needs longer than a target duration for a round falls behind the edge
    const spent = performance.now() - pollStart;
    if (spent > target * 1000) behind = true;
    await new Promise((r) => setTimeout(r, Math.max(0, target * 1000 - spent)));
  }
  return behind;
};

const partsOf = (text: string) => [...text.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]*?(\d+)\.(\d+)\.m4s[^"]*)"/g)].map((m) => ({ uri: m[1]!, msn: Number(m[2]), part: Number(m[3]) }));

/**
 * An LL-HLS player as hls.js is one in low-latency mode: it asks for the part after the newest
 * it has (`_HLS_msn`/`_HLS_part`, a blocking reload), then fetches the new parts the answer
 * lists. It falls behind when a round (reload + parts) takes longer than two parts, or a
 * request fails.
 */
const lowLatencyPlayer: Player = async (url, agent, until, log) => {
  let behind = false;
  const seen = new Set<string>();
  let next: { msn: number; part: number } | undefined;
  while (performance.now() < until) {
    const round = performance.now();
    try {
      const reloadUrl = next ? `${url}${url.includes('?') ? '&' : '?'}_HLS_msn=${next.msn}&_HLS_part=${next.part}` : url;
      const res = await get(agent, reloadUrl);
      // the first load does not block: only reloads are counted
      if (next) log.playlist(performance.now() - round, res.bytes);
      if (res.status !== 200) throw new Error(`playlist ${res.status}`);
      const parts = partsOf(res.body!.toString());
      const last = parts.at(-1);
      if (!last) throw new Error('no parts');
      // a player starts at the live edge: the parts before the newest are taken as seen
      if (!next) parts.slice(0, -1).forEach((p) => seen.add(p.uri));
      for (const p of parts) {
        if (seen.has(p.uri)) continue;
        seen.add(p.uri);
        const s = performance.now();
        const got = await get(agent, new URL(p.uri, url).toString());
        log.media(performance.now() - s, got.bytes);
        if (got.status !== 200) throw new Error(`part ${got.status}`);
      }
      // the next part of the same segment; a part past a finished segment's last is the next segment's first
      next = { msn: last.msn, part: last.part + 1 };
    } catch (err) {
      log.fail((err as Error).message);
      behind = true;
      await new Promise((r) => setTimeout(r, PART_S * 1000));
    }
    if (performance.now() - round > 2 * PART_S * 1000) behind = true;
  }
  return behind;
};

interface WrkResult {
  rps: number;
  mbps: number;
  p50: string;
  p99: string;
  errors: string;
}

function wrk(url: string): WrkResult {
  const out = spawnSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${values.connections}`, '-d10s', '--latency', url], { encoding: 'utf8' });
  if (out.error || out.status !== 0) throw new Error(`wrk failed (apt-get install wrk): ${out.error?.message ?? out.stderr}`);
  const text = out.stdout;
  const num = (re: RegExp) => re.exec(text)?.[1];
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(text);
  const unit = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 }[transfer?.[2] ?? 'MB'] ?? 1;
  return {
    rps: Number(num(/Requests\/sec:\s+([\d.]+)/)),
    mbps: Number(transfer?.[1] ?? 0) * unit,
    p50: num(/\s50%\s+([\d.]+\w+)/) ?? '?',
    p99: num(/\s99%\s+([\d.]+\w+)/) ?? '?',
    errors: [num(/Non-2xx or 3xx responses: (\d+)/) && `${num(/Non-2xx or 3xx responses: (\d+)/)} non-2xx`, /Socket errors: ([^\n]+)/.exec(text)?.[1]].filter(Boolean).join(', ') || 'none',
  };
}

const input = benchFixture();
const prepared = prepare(readFileSync(input));
execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'bench-play-'));
const dataDir = join(dir, 'data');
const cfg = join(dir, 'livechannel.json');
writeFileSync(
  cfg,
  JSON.stringify({
    dataDir,
    http: { port: 0 },
    rtmp: { port: 0 },
    logLevel: 'warn',
    credentials: [KEY],
    buckets: [{ name: 'bench', acl: 'public-read-write' }],
    limits: { rtmpMaxConnectionsPerIp: 100_000, rtmpMaxConnections: 100_000 },
  }),
);
const gateway = await spawnGateway(cfg, SERVER_CPU);
const gatewayServer: Server = { name: 'livechannel', base: `http://127.0.0.1:${gateway.http}`, pid: gateway.child.pid!, stop: () => stopGateway(gateway) };
const lowLatency = values.ll ? `<SegmentFormat>fMP4</SegmentFormat><PartDuration>${PART_S}</PartDuration>` : '';
const body = `<LiveChannelConfiguration><Target><Type>HLS</Type><FragDuration>2</FragDuration><FragCount>3</FragCount>${lowLatency}</Target></LiveChannelConfiguration>`;
for (let c = 0; c < CHANNELS; c++) {
  const res = await fetch(`${gatewayServer.base}/bench/c${c}?live`, { method: 'PUT', body });
  if (res.status !== 200) throw new Error(`PutLiveChannel c${c}: ${res.status} ${await res.text()}`);
}
const publishers = Array.from({ length: CHANNELS }, (_, c) => new Publisher(prepared as never, '127.0.0.1', gateway.rtmp, `c${c}`));
const pumping = setInterval(() => {
  const now = performance.now();
  for (const p of publishers) p.pump(now);
}, 5);
await Promise.all(publishers.map((p) => p.start()));
const root = join(dataDir, 'buckets', 'bench');
// three segments in every playlist: a full live window
await waitFor(
  () => (Array.from({ length: CHANNELS }, (_, c) => join(root, `c${c}`, 'playlist.m3u8')).every((f) => existsSync(f) && (readFileSync(f, 'utf8').match(/\.(ts|m4s)\n/g)?.length ?? 0) >= 3) ? true : undefined),
  30_000,
  'every live playlist',
);
const signer = new OSS({ ...KEY, bucket: 'bench', endpoint: 'http://bench.test' });
const playlistPath = (c: number) => {
  if (!values.sign) return `/c${c}/playlist.m3u8`;
  const signed = new URL(signer.signatureUrl(`c${c}/playlist.m3u8`, { expires: 3600, process: 'hls/sign' }));
  return `/c${c}/playlist.m3u8${signed.search}`;
};
console.log(
  `${VIEWERS} ${values.ll ? 'LL-HLS ' : ''}viewers over ${CHANNELS} live channel(s) (2.6 Mbit/s, 2 s segments${values.ll ? `, ${PART_S} s parts` : ''}) for ${SECONDS} s${values.sign ? ', signed hls/sign playlists and segments' : ''}; servers on CPU 0, viewers and wrk on CPU 1`,
);

const servers: Server[] = [gatewayServer];
if (values.compare === 'nginx') servers.push(await startNginx(dir, root));
const rows: string[] = [];
const wrkRows: string[] = [];
for (const server of servers) {
  // nginx serves the files: the gateway's bucket path is its root
  const prefix = server === gatewayServer ? '/bench' : '';
  const urls = Array.from({ length: CHANNELS }, (_, c) => `${server.base}${prefix}${playlistPath(c)}`);
  const r = await runPlayers(server, urls, values.ll ? lowLatencyPlayer : pollingPlayer);
  const mb = (b: number) => (b / 1048576 / SECONDS).toFixed(1);
  const errors = [...r.errors].map(([k, v]) => `${v}× ${k}`).join(', ') || '0';
  rows.push(
    `| ${server.name} | ${r.keptUp}/${VIEWERS} | ${errors} | ${r.playlist.requests} (${r.playlist.p50.toFixed(1)} / ${r.playlist.p99.toFixed(1)} ms) | ${r.segment.requests}, ${mb(r.segment.bytes)} MB/s (${r.segment.p50.toFixed(1)} / ${r.segment.p99.toFixed(1)} ms) | ${r.serverCpu.toFixed(1)} % | ${r.generatorLagMs.toFixed(0)} ms |`,
  );
  if (values.wrk) {
    const playlistText = readFileSync(join(root, 'c0', 'playlist.m3u8'), 'utf8');
    const segment = playlistText.split('\n').find((l) => l.endsWith('.ts'))!;
    const objects = values['wrk-objects'].split(',');
    for (const [what, url] of [
      ['playlist', `${server.base}${prefix}/c0/playlist.m3u8`],
      ['segment', `${server.base}${prefix}/c0/${segment}`],
    ] as const) {
      if (!objects.includes(what)) continue;
      const w = wrk(url);
      wrkRows.push(`| ${server.name} | ${what === 'playlist' ? 'live playlist' : 'segment'} | ${w.rps.toFixed(0)} | ${w.mbps.toFixed(1)} | ${w.p50} / ${w.p99} | ${w.errors} |`);
    }
  }
}
clearInterval(pumping);
for (const p of publishers) p.stop();
for (const s of servers) await s.stop();
rmSync(dir, { recursive: true, force: true });

console.log('');
console.log(
  values.ll
    ? '| server | viewers kept up | errors | blocking reloads (p50 / p99 wait) | part requests, throughput (p50 / p99) | server CPU (% of a core) | generator loop delay p99 |'
    : '| server | viewers kept up | errors | playlist requests (p50 / p99) | segment requests, throughput (p50 / p99) | server CPU (% of a core) | generator loop delay p99 |',
);
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
if (wrkRows.length) {
  console.log('');
  console.log(`wrk -t1 -c${values.connections} -d10s:`);
  console.log('| server | object | req/s | MB/s | latency p50 / p99 | errors |');
  console.log('|---|---|---|---|---|---|');
  for (const row of wrkRows) console.log(row);
}
process.exit(0);
