import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { OutboxStore } from '../catalog/outbox.js';
import { SqliteCatalog } from '../catalog/sqlite-catalog.js';
import { parseConfig } from '../config.js';
import { Metrics } from '../metrics.js';
import { EventRecorder } from './event-recorder.js';
import { OutboxSender, retryDelay } from './outbox-sender.js';
import { SigningKey } from './signing-key.js';

describe('retryDelay', () => {
  it('doubles from the base to the cap, jittered over the upper half of each step', () => {
    const low = (a: number) => retryDelay(a, 1000, 300_000, () => 0);
    const high = (a: number) => retryDelay(a, 1000, 300_000, () => 1);
    expect([0, 1, 2, 3].map(low)).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map(high)).toEqual([1000, 2000, 4000, 8000]);
    expect(high(20)).toBe(300_000);
    expect(low(1000)).toBe(150_000); // no overflow past the cap, however many attempts
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The outbox, with heads() answering `delayMs` after it read them: a PostgreSQL round trip. */
function slowHeads(outbox: OutboxStore, delayMs: number): OutboxStore {
  return new Proxy(outbox, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === 'heads') {
        return async (now: number, limit: number) => {
          const rows = await target.heads(now, limit);
          await sleep(delayMs);
          return rows;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('OutboxSender', () => {
  it('sends each event once while the heads a look read are still on their way (delivered meanwhile)', async () => {
    const received = new Map<string, number>();
    const receiver = createServer((req, res) => {
      const id = String(req.headers['x-livechannel-event-id']);
      received.set(id, (received.get(id) ?? 0) + 1);
      req.resume().on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-sender-'));
    const config = parseConfig({ dataDir, notifications: [{ url }], events: { pollMs: 10 } });
    const catalog = new SqliteCatalog(':memory:');
    const metrics = new Metrics(false);
    const recorder = new EventRecorder(config.notifications, 'node-a', metrics);
    const key = await SigningKey.load(dataDir);
    const sender = new OutboxSender({
      outbox: slowHeads(catalog.outbox, 30),
      nodeId: 'node-a',
      config: config.events,
      key: async () => key,
      publicKeyUrl: async () => 'http://127.0.0.1:9/key',
      leaseTtlMs: 10_000,
      log: Fastify({ logger: { level: 'silent' } }).log,
      metrics,
    });
    sender.start();
    try {
      // events of three channels arriving over time, as segments are stored
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const entries = recorder.entries('publish.started', 'b', `c${i % 3}`, () => ({ remoteAddr: 'r' }));
        ids.push(...entries.map((e) => e.eventId));
        await catalog.outbox.append(entries);
        sender.wakeSoon();
        await sleep(7);
      }
      const deadline = Date.now() + 10_000;
      while ((await catalog.outbox.pending()) > 0 && Date.now() < deadline) await sleep(20);
      expect(await catalog.outbox.pending()).toBe(0);
      await sleep(100); // a duplicate in flight would arrive by now
      expect([...received.keys()].sort()).toEqual([...ids].sort());
      expect([...received].filter(([, n]) => n > 1)).toEqual([]);
    } finally {
      await sender.stop();
      receiver.close();
      await catalog.close();
    }
  }, 20_000);
});
