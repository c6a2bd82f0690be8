import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// A process that cannot keep up refuses new publishers (and fails /readyz, so that a load
// balancer sends them elsewhere) instead of letting every channel degrade at once.
let t: TestApp;
let client: AliOss;
let main: string;
beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'pub', limits: { overloadEventLoopDelayMs: 60 } });
  client = t.client('pub');
  main = await fixture('main.flv');
});
afterAll(() => t.close());

/** Keeps this process's event loop busy for `sliceMs` of every `everyMs`; clearInterval() stops it. */
function keepBusy(sliceMs: number, everyMs: number): NodeJS.Timeout {
  return setInterval(() => {
    const until = Date.now() + sliceMs;
    while (Date.now() < until);
  }, everyMs);
}

const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', PlaylistName: 'playlist.m3u8' } };
const url = (channel: string) => client.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase);

describe('an overloaded gateway', () => {
  it('refuses new publishers with "gateway busy, try another node", answers /readyz 503, and takes them again once it recovers', async () => {
    await client.putChannel('busy-node', config);
    // the gateway runs in this process: make its event loop late, as hundreds of streams would
    const blocker = keepBusy(150, 200);
    try {
      const ready = await eventually(async () => {
        const res = await fetch(`${t.endpoint}/readyz`);
        return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      }, 10_000, '/readyz 503');
      expect(ready.reason).toMatch(/^gateway busy: event loop \d+ ms late \(limit 60 ms\)$/);
      const refused = ffmpegPush(url('busy-node'), main, { realtime: false });
      expect(await refused.exited).not.toBe(0);
      expect(refused.stderr()).toMatch(/Server error: gateway busy, try another node \(event loop \d+ ms late/);
    } finally {
      clearInterval(blocker);
    }
    await eventually(async () => (await fetch(`${t.endpoint}/readyz`)).status === 200, 10_000, '/readyz 200 again');
    const accepted = ffmpegPush(url('busy-node'), main, { realtime: false });
    expect(await accepted.exited).toBe(0);
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_limit_hits_total\{limit="overload"\} [1-9]/m);
  }, 60_000);

  it('refuses a publisher that would make the event loop busier than overloadEventLoopUtilization, before any delay shows', async () => {
    const strict = await startTestApp({ defaultBucket: 'pub', limits: { overloadEventLoopUtilization: 0.3 } });
    try {
      const c = strict.client('pub');
      await c.putChannel('half-busy', config);
      const push = (name: string) => ffmpegPush(c.getRtmpUrl(name, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, strict.rtmpBase), main, { realtime: false });
      // busy half the time in 100 ms slices: far below the 200 ms delay bound
      const blocker = keepBusy(100, 200);
      try {
        const ready = await eventually(async () => {
          const res = await fetch(`${strict.endpoint}/readyz`);
          return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
        }, 10_000, '/readyz 503');
        expect(ready.reason).toMatch(/^gateway busy: event loop \d+ % busy \(limit 30 %\)$/);
        const refused = push('half-busy');
        expect(await refused.exited).not.toBe(0);
        expect(refused.stderr()).toMatch(/Server error: gateway busy, try another node \(event loop \d+ % busy \(limit 30 %\)\)/);
      } finally {
        clearInterval(blocker);
      }
      await eventually(async () => (await fetch(`${strict.endpoint}/readyz`)).status === 200, 10_000, '/readyz 200 again');
      expect(await push('half-busy').exited).toBe(0);
      const metrics = await (await fetch(`${strict.endpoint}/metrics`)).text();
      expect(Number(/^livechannel_event_loop_utilization ([\d.e-]+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    } finally {
      await strict.close();
    }
  }, 60_000);
});
