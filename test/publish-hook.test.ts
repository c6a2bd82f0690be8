import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { startReceiver, type ReceiverProcess } from './support/receiver-process.js';
import { startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// The publish-auth hook asks a receiver in another process, over real HTTP, whether a push
// may start; ffmpeg prints the receiver's reason when it says no.
interface Seen {
  at: number;
  path: string;
  contentType: string;
  body: { bucket: string; channel: string; remoteAddr: string; tcUrl: string; query: Record<string, string>; nodeId: string; time: string };
}
let receiver: ReceiverProcess<Seen>;
let seen: Seen[];
let hookUrl: string;
let t: TestApp;
let client: AliOss;
let main: string;
let long: string;
const pushes: PushProcess[] = [];
const apps: TestApp[] = [];

beforeAll(async () => {
  receiver = await startReceiver<Seen>('test/support/hook-receiver.mjs');
  seen = receiver.seen;
  hookUrl = receiver.url('/on_publish');
  t = await startTestApp({
    defaultBucket: 'pub',
    publicHost: 'live.test',
    publishHook: { url: hookUrl, timeoutMs: 15_000, onError: 'deny' },
    // the wait for the hook counts against the publish timeout
    limits: { rtmpPublishTimeoutMs: 20_000 },
  });
  apps.push(t);
  client = t.client('pub');
  main = await fixture('main.flv');
  long = await fixture('long.flv');
});
afterAll(async () => {
  for (const p of pushes) p.kill();
  for (const a of apps) await a.close();
  receiver?.kill();
});

const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', PlaylistName: 'playlist.m3u8' } };
const push = (app: TestApp, c: AliOss, channel: string, opts: Parameters<typeof ffmpegPush>[2] = { realtime: false }) => {
  const p = ffmpegPush(c.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, app.rtmpBase), main, opts);
  pushes.push(p);
  return p;
};
const status = async (c: AliOss, channel: string) => (await c.getChannelStatus(channel)).data.Status as string;

describe('the publish hook', () => {
  it('refuses a push when the receiver says no: ffmpeg prints its reason, nothing is stored, and the receiver saw who asked', async () => {
    await client.putChannel('deny-show', config);
    const p = push(t, client, 'deny-show');
    expect(await p.exited).not.toBe(0);
    expect(p.stderr()).toContain("not on tonight's schedule");
    expect(await t.app.storeFor('pub').head('deny-show/playlist.m3u8')).toBeUndefined();
    const asked = seen.find((s) => s.body.channel === 'deny-show')!;
    expect(asked.path).toBe('/on_publish');
    expect(asked.contentType).toBe('application/json');
    expect(asked.body).toMatchObject({ bucket: 'pub', channel: 'deny-show', nodeId: expect.any(String) });
    expect(asked.body.remoteAddr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(asked.body.tcUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
    expect(Object.keys(asked.body.query).sort()).toEqual(['Expires', 'OSSAccessKeyId']); // no Signature
    expect(Math.abs(Date.parse(asked.body.time) - Date.now())).toBeLessThan(60_000);
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_publish_hook_seconds_count\{outcome="denied"\} [1-9]/m);
  });

  it('passes on a plain-text reason, one line, and lets an allowed push through', async () => {
    await client.putChannel('text-show', config);
    const refused = push(t, client, 'text-show');
    expect(await refused.exited).not.toBe(0);
    expect(refused.stderr()).toContain('stream key revoked by the operator');
    await client.putChannel('ok-show', config);
    const allowed = push(t, client, 'ok-show');
    expect(await allowed.exited).toBe(0);
    await eventually(() => t.app.storeFor('pub').head('ok-show/playlist.m3u8'), 10_000, 'the allowed push stored');
  });

  it('asks about unsigned pushes to a public-read-write bucket too, so the receiver can be the only judge', async () => {
    const open = t.client('open');
    await open.putChannel('deny-open', config);
    const p = ffmpegPush(`${t.rtmpBase}/live/deny-open`, main, { realtime: false, tcUrl: `rtmp://open.live.test:${t.app.rtmpPort()}/live` });
    pushes.push(p);
    expect(await p.exited).not.toBe(0);
    expect(p.stderr()).toContain("not on tonight's schedule");
    expect(seen.find((s) => s.body.channel === 'deny-open')?.body.bucket).toBe('open');
  });

  it('a receiver taking 10 s delays only the publisher it is asked about', async () => {
    await client.putChannel('slow-a', config);
    await client.putChannel('ok-b', config);
    const slow = ffmpegPush(client.getRtmpUrl('slow-a', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase), long, { loopSeconds: 30 });
    pushes.push(slow);
    await eventually(() => seen.find((s) => s.body.channel === 'slow-a'), 10_000, 'the hook asked about slow-a');
    const started = Date.now();
    const fast = ffmpegPush(client.getRtmpUrl('ok-b', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase), long, { loopSeconds: 30 });
    pushes.push(fast);
    await eventually(async () => ((await status(client, 'ok-b')) === 'Live' ? true : undefined), 8_000, 'ok-b Live');
    const fastMs = Date.now() - started;
    expect(await status(client, 'slow-a')).toBe('Idle'); // still waiting for its answer
    await eventually(async () => ((await status(client, 'slow-a')) === 'Live' ? true : undefined), 15_000, 'slow-a Live');
    const slowAsked = seen.find((s) => s.body.channel === 'slow-a')!.at;
    expect(Date.now() - slowAsked).toBeGreaterThanOrEqual(9_500);
    expect(fastMs).toBeLessThan(5_000);
    slow.kill();
    fast.kill();
  }, 40_000);

  it('decides by onError when the receiver does not answer in time or cannot be reached', async () => {
    const lenient = await startTestApp({ defaultBucket: 'pub', publishHook: { url: hookUrl, timeoutMs: 500, onError: 'allow' } });
    apps.push(lenient);
    const lc = lenient.client('pub');
    await lc.putChannel('slow-lenient', config);
    expect(await push(lenient, lc, 'slow-lenient').exited).toBe(0);
    expect(await (await fetch(`${lenient.endpoint}/metrics`)).text()).toMatch(/^livechannel_publish_hook_seconds_count\{outcome="error_allowed"\} 1$/m);

    const strict = await startTestApp({ defaultBucket: 'pub', publishHook: { url: 'http://127.0.0.1:1/on_publish', timeoutMs: 2000, onError: 'deny' } });
    apps.push(strict);
    const sc = strict.client('pub');
    await sc.putChannel('nobody-home', config);
    const refused = push(strict, sc, 'nobody-home');
    expect(await refused.exited).not.toBe(0);
    expect(refused.stderr()).toMatch(/The publish hook is unreachable \(.*\); try again later\./);
  }, 30_000);
});
