// npm run fuzz -- --minutes N [--seed S]: the suite's fuzzing, for longer. Rounds of fuzzed
// RTMP streams and API requests against a gateway in this process, until time is up; after
// each round the server must have closed every connection and still answer /healthz.
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { parseFlv, TAG_SCRIPT } from '../src/media/flv.js';
import { fixture } from './lib/fixtures.js';
import { fuzzApi, fuzzRtmp, fuzzSrt, mulberry32 } from './lib/fuzz.js';
import { message } from './lib/rtmp-wire.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, seed: { type: 'string', default: String(Date.now() % 1e9) } } });
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const key = { accessKeyId: 'fuzz', accessKeySecret: 'fuzz-secret' };
const app = createApp(
  parseConfig({
    dataDir: mkdtempSync(join(tmpdir(), 'lc-fuzz-')),
    http: { port: 0 },
    rtmp: { port: 0 },
    logLevel: 'error',
    credentials: [key],
    buckets: [{ name: 'media' }, { name: 'open', acl: 'public-read-write' }],
    srt: { port: 0 },
    limits: { rtmpPublishTimeoutMs: 1000, rtmpIdleMediaTimeoutMs: 1000, apiRequestsPerSecond: 100_000, apiBurst: 100_000 },
  }),
);
await app.start();
const endpoint = `http://127.0.0.1:${app.httpPort()}`;
for (let i = 0; i < 4; i++) await fetch(`${endpoint}/open/fuzz${i}?live`, { method: 'PUT', body: '<LiveChannelConfiguration><Target><Type>HLS</Type></Target></LiveChannelConfiguration>' });
const media = parseFlv(readFileSync(await fixture('main.flv')))
  .filter((x) => x.type !== TAG_SCRIPT)
  .slice(0, 200)
  .map((x) => message({ cid: x.type === 9 ? 6 : 4, type: x.type, streamId: 1, payload: Buffer.from(x.data), timestamp: x.timestamp }));

// hostile upload callbacks aim at this loopback server: it must hear nothing
let trapped = 0;
const trap = createServer((_req, res) => {
  trapped++;
  res.end('{"leaked":true}');
});
await new Promise<void>((resolve) => trap.listen(0, '::', resolve));
const trapPort = (trap.address() as AddressInfo).port;
const rand = mulberry32(seed);
const end = Date.now() + minutes * 60_000;
let rounds = 0;
let rtmpCases = 0;
let apiRequests = 0;
let srtDatagrams = 0;
const problems: string[] = [];
const startHeap = process.memoryUsage().heapUsed;
console.log(`fuzzing for ${minutes} min, seed ${seed}`);
while (Date.now() < end) {
  const r = await fuzzRtmp(app.rtmpPort(), rand, 200, media);
  const a = await fuzzApi(endpoint, rand, 300, key, trapPort);
  srtDatagrams += await fuzzSrt(app.srtPort()!, rand, 2000);
  rtmpCases += r.cases;
  apiRequests += a.requests;
  if (r.lingering) problems.push(`round ${rounds}: ${r.lingering} RTMP sockets left open`);
  problems.push(...a.problems);
  const deadline = Date.now() + 10_000;
  while (app.ingest.connectionCount > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
  if (app.ingest.connectionCount > 0) problems.push(`round ${rounds}: ${app.ingest.connectionCount} connections still open`);
  if ((await fetch(`${endpoint}/healthz`)).status !== 200) problems.push(`round ${rounds}: /healthz failed`);
  if (trapped > 0) problems.push(`round ${rounds}: hostile upload callbacks reached the internal server ${trapped} times`);
  trapped = 0;
  rounds++;
  console.log(`round ${rounds}: ${rtmpCases} RTMP cases, ${apiRequests} API requests, ${srtDatagrams} SRT datagrams, heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB, problems ${problems.length}`);
}
await app.stop();
trap.close();
console.log(`${rounds} rounds, ${rtmpCases} RTMP cases, ${apiRequests} API requests, ${srtDatagrams} SRT datagrams, heap ${(startHeap / 1048576).toFixed(0)} → ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB`);
for (const p of problems.slice(0, 50)) console.log(`problem: ${p}`);
console.log(`${problems.length === 0 ? rounds : 0} passed, ${problems.length === 0 ? 0 : 1} failed`);
process.exit(problems.length === 0 ? 0 : 1);
