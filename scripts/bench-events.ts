// npm run bench:events -- [--events N] [--channels C] [--catalog postgres]
// The event path alone: segment.stored events recorded with their segment's catalog write (as
// ingest records them), delivered by the sender to a receiver in another process. Prints the
// CPU per event of each phase (recording; delivering: signing on the thread pool, POSTing,
// deleting) and how much of it was on the event loop.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConfig } from '../src/config.js';
import { createCatalog } from '../src/catalog/open-catalog.js';
import { EventRecorder } from '../src/events/event-recorder.js';
import { OutboxSender } from '../src/events/outbox-sender.js';
import { SigningKey } from '../src/events/signing-key.js';
import { Metrics } from '../src/metrics.js';
import { createBenchDatabase } from './lib/bench-database.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    channels: { type: 'string', default: '100' },
    catalog: { type: 'string', default: 'sqlite' },
  },
});
const EVENTS = Number(values.events);
const CHANNELS = Number(values.channels);

// the receiver: its own process, answering 204, printing how many events it got (by id) and how many twice
const receiver = spawn(process.execPath, ['-e', `
  const ids = new Set(); let again = 0;
  const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => {
    const id = q.headers['x-livechannel-event-id']; if (ids.has(id)) again++; else ids.add(id); r.writeHead(204).end(); }); });
  s.listen(0, '127.0.0.1', () => console.log('listening ' + s.address().port));
  setInterval(() => console.log('count ' + ids.size + ' ' + again), 100);`], { stdio: ['ignore', 'pipe', 'inherit'] });
let port = 0;
let received = 0;
let duplicates = 0;
receiver.stdout.on('data', (c: Buffer) => {
  for (const line of c.toString().split('\n')) {
    if (line.startsWith('listening ')) port = Number(line.slice(10));
    if (line.startsWith('count ')) [received, duplicates] = line.slice(6).split(' ').map(Number) as [number, number];
  }
});
while (!port) await new Promise((r) => setTimeout(r, 20));

const dir = mkdtempSync(join(tmpdir(), 'bench-events-'));
const db = values.catalog === 'postgres' ? await createBenchDatabase() : undefined;
const config = parseConfig({ dataDir: dir, ...(db ? { catalog: { type: 'postgres', url: db.url } } : {}), notifications: [{ url: `http://127.0.0.1:${port}/events` }] });
const catalog = createCatalog(config.catalog, dir, () => {});
await catalog.open?.();
const metrics = new Metrics();
const recorder = new EventRecorder(config.notifications, 'bench', metrics);
const key = SigningKey.load(dir);
await key;
const sender = new OutboxSender({
  outbox: catalog.outbox,
  nodeId: 'bench',
  config: config.events,
  key: () => key,
  publicKeyUrl: async () => 'http://127.0.0.1/_livechannel/events-key/x.pem',
  leaseTtlMs: 10_000,
  log: pino({ level: 'warn' }),
  metrics,
});

const tokens: number[] = [];
for (let c = 0; c < CHANNELS; c++) {
  await catalog.putChannel('b', `c${c}`, { description: '', status: 'enabled', fragDuration: 2, fragCount: 3, playlistName: 'p.m3u8' });
  const lease = await catalog.acquireLease({ bucket: 'b', channel: `c${c}`, nodeId: 'bench', remoteAddr: 'r', ttlMs: 3_600_000, now: Date.now() });
  if (!lease.ok) throw new Error('lease');
  tokens.push(lease.token);
}
/** CPU (all threads) and event-loop time per event of one phase. */
async function measure(what: string, phase: () => Promise<void>): Promise<void> {
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await phase();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const perEvent = (ms: number) => `${((ms / EVENTS) * 1000).toFixed(0)} µs`;
  console.log(`${what}: ${(EVENTS / seconds).toFixed(0)} events/s; CPU ${perEvent((cpu.user + cpu.system) / 1000)} per event (all threads), event loop ${perEvent(elu.active)}`);
}

console.log(`${EVENTS} segment.stored events over ${CHANNELS} channels, ${config.catalog.type} catalog`);
// as ingest records them: a segment's catalog write carries its event
await measure('record (segment index write + its event, one transaction)', async () => {
  for (let i = 0; i < EVENTS; i++) {
    const c = i % CHANNELS;
    const seg = { bucket: 'b', channel: `c${c}`, pushId: 1, sequence: i, key: `c${c}/p${i}.ts`, startTime: i, durationMs: 2000, discontinuity: false };
    await catalog.addSegment(seg, tokens[c]!, recorder.entries('segment.stored', 'b', `c${c}`, { ...seg, size: 800_000, etag: '"0123456789ABCDEF0123456789ABCDEF"' }));
  }
});
await measure('the same segment index writes without events', async () => {
  for (let i = 0; i < EVENTS; i++) {
    const c = i % CHANNELS;
    await catalog.addSegment({ bucket: 'b', channel: `c${c}`, pushId: 2, sequence: i, key: `c${c}/q${i}.ts`, startTime: EVENTS + i, durationMs: 2000, discontinuity: false }, tokens[c]!);
  }
});
await measure('deliver (sign, POST, delete)', async () => {
  sender.start();
  while (received < EVENTS) await new Promise((r) => setTimeout(r, 5));
});
await sender.stop();
await new Promise((r) => setTimeout(r, 150)); // the receiver's last count
console.log(`received twice: ${duplicates}`);
await catalog.close();
await db?.drop();
receiver.kill();
rmSync(dir, { recursive: true, force: true });
