import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { prepare, Publisher } from '../scripts/lib/rtmp-load.js';
import { eventually } from './support/ffmpeg-push.js';
import { startTestApp, type TestApp } from './support/test-app.js';

// Publishers arriving together (every encoder reconnecting after a restart) are paced, not
// turned away: a publish that cannot start this instant is held, its RTMP answer delayed,
// until the load guard has room; only after a bounded wait is it refused. Real RTMP from the
// project's own publisher (the bench's), many at once.
const apps: TestApp[] = [];
const publishers: Publisher[] = [];
let prepared: ReturnType<typeof prepare>;
beforeAll(async () => {
  prepared = prepare(readFileSync(await fixture('main.flv')));
});
afterAll(async () => {
  for (const p of publishers) p.stop();
  for (const a of apps) await a.close();
});

async function gateway(limits: Record<string, number>, channels: number): Promise<TestApp> {
  // defaultBucket "open" is public-read-write: unsigned pushes, as the bench sends them
  const t = await startTestApp({ defaultBucket: 'open', limits });
  apps.push(t);
  const c = t.client('open');
  for (let i = 0; i < channels; i++) await c.putChannel(`storm${i}`, { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
  return t;
}

/** Starts `n` publishers at once; each settles as published or with the refusal text. */
async function storm(t: TestApp, n: number): Promise<{ published: number; refusals: string[] }> {
  const started = Array.from({ length: n }, (_, i) => {
    const p = new Publisher(prepared as never, '127.0.0.1', t.app.rtmpPort(), `storm${i}`);
    publishers.push(p);
    return p.start().then(
      () => undefined,
      (err: Error) => err.message,
    );
  });
  const pumping = setInterval(() => {
    const now = performance.now();
    for (const p of publishers) p.pump(now);
  }, 20);
  try {
    const outcomes = await Promise.all(started);
    return { published: outcomes.filter((o) => o === undefined).length, refusals: outcomes.filter((o): o is string => o !== undefined) };
  } finally {
    clearInterval(pumping);
  }
}

const metric = async (t: TestApp, outcome: string) => {
  const text = await (await fetch(`${t.endpoint}/metrics`)).text();
  return Number(new RegExp(`^livechannel_publish_admissions_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
};

describe('a reconnect storm', () => {
  it('holds the publishers that do not fit this instant and admits them all as room appears', async () => {
    // three admissions a second until a publisher's cost is measured: eight arriving at once must wait their turn
    const t = await gateway({ overloadColdStartPublishers: 3 }, 8);
    const { published, refusals } = await storm(t, 8);
    expect(refusals).toEqual([]);
    expect(published).toBe(8);
    const atOnce = await metric(t, 'at_once');
    const waited = await metric(t, 'waited');
    expect(atOnce + waited).toBe(8);
    expect(waited).toBeGreaterThanOrEqual(2);
    await eventually(() => (t.app.ingest.registry.size === 8 ? true : undefined), 10_000, 'all eight live');
  }, 60_000);

  it('refuses, with the busy reason, those still without room when their wait runs out', async () => {
    const t = await gateway({ overloadColdStartPublishers: 1, publishAdmitWaitMs: 300 }, 6);
    const { published, refusals } = await storm(t, 6);
    expect(published).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(published + refusals.length).toBe(6);
    for (const r of refusals) expect(r).toMatch(/gateway busy, try another node \(\d+ publishers admitted in the last second, their cost not measured yet\)/);
    expect(await metric(t, 'refused_waited')).toBe(refusals.length);
    // /readyz stays 200: pacing a burst is not being full
    expect((await fetch(`${t.endpoint}/readyz`)).status).toBe(200);
  }, 60_000);
});
