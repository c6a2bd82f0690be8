import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { fuzzApi, fuzzRtmp, mulberry32 } from '../scripts/lib/fuzz.js';
import { message } from '../scripts/lib/rtmp-wire.js';
import { parseFlv, TAG_SCRIPT } from '../src/media/flv.js';
import { ffmpegPush, eventually } from './support/ffmpeg-push.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let t: TestApp;
let media: Buffer[];
beforeAll(async () => {
  t = await startTestApp({ limits: { rtmpPublishTimeoutMs: 1000, rtmpIdleMediaTimeoutMs: 1000 } });
  for (let i = 0; i < 4; i++) await t.client('open').putChannel(`fuzz${i}`, { Target: { Type: 'HLS' } });
  await t.client('media').putChannel('fz', { Target: { Type: 'HLS' } });
  media = parseFlv(readFileSync(await fixture('main.flv')))
    .filter((x) => x.type !== TAG_SCRIPT)
    .slice(0, 200)
    .map((x) => message({ cid: x.type === 9 ? 6 : 4, type: x.type, streamId: 1, payload: Buffer.from(x.data), timestamp: x.timestamp }));
});
afterAll(() => t.close());

/** A loopback HTTP server that hostile callback URLs aim at; it must hear nothing. */
async function callbackTrap() {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.end('{"leaked":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests: () => requests };
}

const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

describe('fuzzing (seeded, bounded)', () => {
  it('survives random and mutated RTMP: every socket closed, server healthy, heap back to baseline', async () => {
    const baseline = heapMb();
    const r = await fuzzRtmp(t.app.rtmpPort(), mulberry32(1), 300, media);
    expect(r.cases).toBe(300);
    expect(r.lingering).toBe(0);
    await eventually(() => (t.app.ingest.connectionCount === 0 && t.app.ingest.registry.size === 0 ? true : undefined), 10_000, 'all connections gone');
    // still a working server: a real push goes through (once the fuzz cases' publishes have left
    // the overload guard's one-second admission window: on a fast machine 300 cases take less)
    // (its publish timeout is 1 s here, too short to wait in the admission queue)
    await eventually(() => (t.app.ingest.load.pacing() ? undefined : true), 5000, 'the admission window to pass');
    const p = ffmpegPush(`rtmp://127.0.0.1:${t.app.rtmpPort()}/live/fuzz0`, await fixture('main.flv'), { realtime: false, tcUrl: `rtmp://open.live.test:${t.app.rtmpPort()}/live` });
    expect(await p.exited, p.stderr()).toBe(0);
    await eventually(() => (t.app.ingest.registry.size === 0 ? true : undefined), 10_000, 'push ended');
    expect(heapMb() - baseline).toBeLessThan(30);
  }, 120_000);

  it('answers mutated XML, headers, signatures and paths with 4xx OSS errors, never a crash or 500', async () => {
    const baseline = heapMb();
    const trap = await callbackTrap();
    const r = await fuzzApi(t.endpoint, mulberry32(2), 600, KEY, trap.port);
    trap.server.close();
    expect(trap.requests(), 'requests that hostile upload callbacks made reach the trap').toBe(0);
    expect(r.problems).toEqual([]);
    expect(r.requests).toBe(600);
    expect((await fetch(`${t.endpoint}/healthz`)).status).toBe(200);
    expect(heapMb() - baseline).toBeLessThan(30);
  }, 120_000);
});
