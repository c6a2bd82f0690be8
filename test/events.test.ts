import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { startReceiver, type ReceiverProcess } from './support/receiver-process.js';
import { startServerProcess, writeGatewayConfig } from './support/server-process.js';
import { KEY, ossError, startTestApp, type AliOss, type TestApp } from './support/test-app.js';
// the verifier the README documents, independent of the gateway's signing code
import { verifyOssCallback } from './support/verify-oss-callback.mjs';

// Event notifications and upload callbacks, received over real HTTP by another process that
// checks every signature with the README's verifier.
interface Received {
  at: number;
  status: number;
  path: string;
  headers: Record<string, string>;
  verified: boolean;
  body: string;
}
interface Event {
  id: string;
  type: string;
  time: string;
  bucket: string;
  channel: string;
  nodeId: string;
  [field: string]: unknown;
}

const receivers: ReceiverProcess<Received>[] = [];
const apps: TestApp[] = [];
const pushes: PushProcess[] = [];
let main: string;
beforeAll(async () => {
  main = await fixture('main.flv');
});
afterAll(async () => {
  for (const p of pushes) p.kill();
  for (const a of apps) await a.close();
  for (const r of receivers) r.kill();
});

async function receiver(env: Record<string, string> = {}) {
  const r = await startReceiver<Received>('test/support/event-receiver.mjs', env);
  receivers.push(r);
  return r;
}

/** Delivered (2xx) events, parsed, in arrival order. */
const delivered = (r: ReceiverProcess<Received>, channel?: string): Event[] =>
  r.seen
    .filter((s) => s.status === 200 && s.path.startsWith('/events'))
    .map((s) => JSON.parse(s.body) as Event)
    .filter((e) => channel === undefined || e.channel === channel);

const fastDelivery = { pollMs: 50, retryBaseMs: 200, retryMaxMs: 2000 };
const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '1', FragCount: '3', PlaylistName: 'playlist.m3u8' } };

function push(app: { rtmpBase: string }, c: AliOss, channel: string, opts: Parameters<typeof ffmpegPush>[2] = { realtime: false }): PushProcess {
  const p = ffmpegPush(c.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, app.rtmpBase), main, opts);
  pushes.push(p);
  return p;
}

/** Checks one channel's publish events: started, its segments in order, ended last. */
function expectPublishInOrder(events: Event[]) {
  const types = events.map((e) => e.type).filter((t) => t.startsWith('publish.') || t === 'segment.stored');
  expect(types[0]).toBe('publish.started');
  expect(types.at(-1)).toBe('publish.ended');
  expect(types.slice(1, -1).every((t) => t === 'segment.stored')).toBe(true);
  const sequences = events.filter((e) => e.type === 'segment.stored').map((e) => e.sequence as number);
  expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
  const ended = events.find((e) => e.type === 'publish.ended')!;
  expect(ended.segments).toBe(sequences.length);
}

describe('event notifications', () => {
  let r: ReceiverProcess<Received>;
  let t: TestApp;
  let client: AliOss;
  beforeAll(async () => {
    r = await receiver();
    t = await startTestApp({ notifications: [{ url: r.url('/events?from=gateway'), events: ['*'] }], events: fastDelivery });
    apps.push(t);
    client = t.client('media');
  });

  it('sends a push as publish.started, its segments and publish.ended, in order, signed like an OSS callback', async () => {
    await client.putChannel('show', config);
    await client.putChannel('show', { ...config, Description: 'tonight' });
    const p = push(t, client, 'show');
    expect(await p.exited).toBe(0);
    const events = await eventually(() => {
      const e = delivered(r, 'show');
      return e.some((x) => x.type === 'publish.ended') ? e : undefined;
    }, 30_000, 'publish.ended');
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(['channel.created', 'channel.updated']);
    expect(events[1]).toMatchObject({ description: 'tonight', fragDuration: 1, fragCount: 3, playlistName: 'playlist.m3u8' });
    expectPublishInOrder(events);
    const started = events.find((e) => e.type === 'publish.started')!;
    expect(started).toMatchObject({ bucket: 'media', channel: 'show', nodeId: t.app.nodeId, pushId: expect.any(Number) });
    expect(started.remoteAddr).toMatch(/^127\.0\.0\.1:\d+$/);
    const segments = events.filter((e) => e.type === 'segment.stored');
    expect(segments.length).toBeGreaterThanOrEqual(5);
    for (const s of segments.slice(0, 3)) {
      const stored = (await t.app.storeFor('media').head(s.key as string))!;
      expect(s).toMatchObject({ pushId: started.pushId, size: stored.size, etag: stored.etag, discontinuity: expect.any(Boolean) });
      expect(s.durationMs).toBeGreaterThan(0);
    }
    expect(events.some((e) => e.type === 'playlist.updated' && e.key === 'show/playlist.m3u8')).toBe(true);
    const ended = events.find((e) => e.type === 'publish.ended')!;
    expect(ended).toMatchObject({ pushId: started.pushId, dropped: 0 });
    expect(['unpublished', 'disconnected']).toContain(ended.reason);
    expect(ended.bytesIn).toBeGreaterThan(100_000);
    expect(ended.durationMs).toBeGreaterThan(0);
    // every event verified by the receiver; ids unique; times ISO 8601
    const mine = r.seen.filter((s) => (JSON.parse(s.body) as Event).channel === 'show');
    expect(mine.every((s) => s.verified)).toBe(true);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.every((e) => !Number.isNaN(Date.parse(e.time)))).toBe(true);
    expect(mine[0]!.headers['x-livechannel-event-id']).toBe((JSON.parse(mine[0]!.body) as Event).id);
  });

  it('sends vod.created, channel.status and channel.deleted', async () => {
    const now = Math.floor(Date.now() / 1000);
    await client.createVod('show', 'vod.m3u8', { startTime: now - 3600, endTime: now + 60 });
    await client.putChannelStatus('show', 'disabled');
    await client.deleteChannel('show');
    const events = await eventually(() => {
      const e = delivered(r, 'show');
      return e.some((x) => x.type === 'channel.deleted') ? e : undefined;
    }, 15_000, 'channel.deleted');
    const tail = events.slice(events.findIndex((e) => e.type === 'vod.created'));
    expect(tail.map((e) => e.type)).toEqual(['vod.created', 'channel.status', 'channel.deleted']);
    expect(tail[0]).toMatchObject({ key: 'show/vod.m3u8', startTime: now - 3600, endTime: now + 60 });
    expect(tail[0]!.segments).toBeGreaterThanOrEqual(5);
    expect(tail[1]).toMatchObject({ status: 'disabled' });
  });

  it("a signature verifies with the documented verifier and fails when one byte changes; the key is served at the header's URL", async () => {
    const sample = r.seen.find((s) => s.status === 200)!;
    const request = { url: sample.path, headers: sample.headers, body: Buffer.from(sample.body) };
    expect(await verifyOssCallback(request, 'http://127.0.0.1:')).toBe(true);
    const body = Buffer.from(sample.body);
    body[body.length - 2]! ^= 1;
    expect(await verifyOssCallback({ ...request, body }, 'http://127.0.0.1:')).toBe(false);
    expect(await verifyOssCallback({ ...request, url: sample.path.replace('gateway', 'gatewaz') }, 'http://127.0.0.1:')).toBe(false);
    expect(await verifyOssCallback(request, 'https://keys.example.com/')).toBe(false); // an untrusted key URL is never fetched
    const keyUrl = Buffer.from(sample.headers['x-oss-pub-key-url']!, 'base64').toString();
    expect(keyUrl).toMatch(new RegExp(`^${t.endpoint}/_livechannel/events-key/[0-9a-f]{16}\\.pem$`));
    const key = await fetch(keyUrl);
    expect(key.status).toBe(200);
    expect(await key.text()).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await fetch(`${t.endpoint}/_livechannel/events-key/0000000000000000.pem`)).status).toBe(404);
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_events_delivered_total [1-9]/m);
    expect(metrics).toMatch(/^livechannel_events_queued_total\{type="segment.stored"\} [1-9]/m);
  });
});

describe('the documented verifier', () => {
  it('is the one these tests verify with, word for word', () => {
    expect(readFileSync('README.md', 'utf8')).toContain(readFileSync('test/support/verify-oss-callback.mjs', 'utf8'));
  });
});

describe('durable delivery', () => {
  it('a receiver answering 503 for 20 s, then 200, gets every event once, in order per channel', async () => {
    const r = await receiver({ RECEIVER_FAIL_MS: '20000' });
    const t = await startTestApp({ notifications: [{ url: r.url('/events'), events: ['*'] }], events: fastDelivery });
    apps.push(t);
    const client = t.client('media');
    for (const ch of ['one', 'two']) await client.putChannel(ch, config);
    const both = [push(t, client, 'one', {}), push(t, client, 'two', {})];
    for (const p of both) expect(await p.exited).toBe(0);
    for (const ch of ['one', 'two']) {
      await eventually(() => delivered(r, ch).some((e) => e.type === 'publish.ended') || undefined, 60_000, `publish.ended of ${ch}`);
    }
    expect(r.seen.filter((s) => s.status === 503).length).toBeGreaterThan(2); // it did fail, and was retried
    expect(r.seen.every((s) => s.verified)).toBe(true);
    for (const ch of ['one', 'two']) {
      const events = delivered(r, ch);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length); // each once
      expect(events[0]!.type).toBe('channel.created');
      expectPublishInOrder(events.slice(1));
      // nothing tried was lost: every event that came (even refused) came through
      const tried = new Set(r.seen.map((s) => JSON.parse(s.body) as Event).filter((e) => e.channel === ch).map((e) => e.id));
      expect(tried.size).toBe(events.length);
    }
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_events_retried_total [1-9]/m);
    expect(metrics).toMatch(/^livechannel_events_dead_total 0/m);
  }, 120_000);

  it('marks an event dead after events.retryForMs and goes on with the next', async () => {
    const r = await receiver({ RECEIVER_STATUS: '500' });
    const t = await startTestApp({ notifications: [{ url: r.url('/events'), events: ['channel.created', 'channel.deleted'] }], events: { ...fastDelivery, retryForMs: 1000 } });
    apps.push(t);
    const client = t.client('media');
    await client.putChannel('doomed', config);
    await client.deleteChannel('doomed');
    await eventually(async () => (await t.app.catalog.outbox.pending()) === 0 || undefined, 15_000, 'both events dead');
    const tried = r.seen.map((s) => (JSON.parse(s.body) as Event).type);
    expect(tried).toContain('channel.deleted'); // the channel moved on past the dead one
    expect(tried.filter((x) => x === 'channel.created').length).toBeGreaterThan(1); // retried before giving up
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_events_dead_total 2/m);
  });

  it('kill -9 during a push, then a restart: publish.ended with reason node-lost arrives', async () => {
    const r = await receiver();
    const { configFile } = writeGatewayConfig({ notifications: [{ url: r.url('/events') }], events: fastDelivery });
    const first = await startServerProcess(configFile);
    const c = (port: number) => new OSS({ ...KEY, bucket: 'open', endpoint: `http://127.0.0.1:${port}` }) as AliOss;
    await c(first.httpPort).putChannel('crash', config);
    const p = ffmpegPush(`rtmp://127.0.0.1:${first.rtmpPort}/live/crash`, main, { loopSeconds: 60 });
    pushes.push(p);
    await eventually(() => delivered(r, 'crash').filter((e) => e.type === 'segment.stored').length >= 2 || undefined, 20_000, 'segments');
    first.signal('SIGKILL');
    await first.exited;
    p.kill();
    const second = await startServerProcess(configFile);
    try {
      const ended = await eventually(() => delivered(r, 'crash').find((e) => e.type === 'publish.ended'), 15_000, 'publish.ended (node-lost)');
      const started = delivered(r, 'crash').find((e) => e.type === 'publish.started')!;
      expect(ended).toMatchObject({ reason: 'node-lost', pushId: started.pushId, bytesIn: null });
      expect(ended.segments).toBeGreaterThanOrEqual(2);
      expect(ended.durationMs).toBeGreaterThan(0);
    } finally {
      second.signal('SIGKILL');
      await second.exited;
    }
  }, 60_000);

  it('a restart resumes delivery: events recorded before a stop arrive after the next start', async () => {
    const r = await receiver({ RECEIVER_FAIL_MS: '3000' });
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-resume-'));
    const settings = { dataDir, notifications: [{ url: r.url('/events') }], events: fastDelivery };
    const first = await startTestApp(settings);
    await first.client('media').putChannel('kept', config);
    await eventually(() => r.seen.some((s) => s.status === 503) || undefined, 5000, 'a refused delivery');
    await first.close();
    expect(delivered(r, 'kept')).toEqual([]);
    const second = await startTestApp(settings);
    apps.push(second);
    const events = await eventually(() => (delivered(r, 'kept').length > 0 ? delivered(r, 'kept') : undefined), 15_000, 'channel.created after the restart');
    expect(events.map((e) => [e.type, e.nodeId])).toEqual([['channel.created', first.app.nodeId]]);
  });
});

describe('upload callbacks', () => {
  let r: ReceiverProcess<Received>;
  let t: TestApp;
  beforeAll(async () => {
    r = await receiver();
    // the receiver runs on loopback, which only callbackAllow opens to callbacks
    t = await startTestApp({ events: { callbackAllow: ['127.0.0.1'] } });
    apps.push(t);
  });

  it("ali-oss put with callback gets the receiver's JSON back; the callback is signed and carries the system and custom variables", async () => {
    const client = t.client('media');
    const res = await client.put('uploads/cover.jpg', Buffer.from('not really a jpeg'), {
      callback: {
        url: r.url('/upload-callback?app=cms'),
        body: 'bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&mimeType=${mimeType}&show=${x:show}',
        contentType: 'application/x-www-form-urlencoded',
        customValue: { show: 'late night' },
      },
    });
    const stored = (await t.app.storeFor('media').head('uploads/cover.jpg'))!;
    expect(res.data).toMatchObject({ verified: true });
    const form = new URLSearchParams(res.data.received as string);
    expect(Object.fromEntries(form)).toEqual({
      bucket: 'media',
      object: 'uploads/cover.jpg',
      etag: stored.etag.replace(/"/g, ''),
      size: '17',
      mimeType: 'image/jpeg',
      show: 'late night',
    });
    expect(res.res.headers.etag).toBe(stored.etag);
  });

  it('sends a JSON body with JSON values', async () => {
    const res = await t.client('media').put('uploads/a.txt', Buffer.from('hello'), {
      callback: { url: r.url('/upload-callback'), body: '{"object":${object},"size":${size},"who":${x:who}}', contentType: 'application/json', customValue: { who: 'me "quoted"' } },
    });
    expect(JSON.parse(res.data.received as string)).toEqual({ object: 'uploads/a.txt', size: 5, who: 'me "quoted"' });
  });

  it('answers 203 CallbackFailed when the callback fails, and keeps the object', async () => {
    const err = await ossError(t.client('media').put('uploads/b.txt', Buffer.from('kept'), { callback: { url: r.url('/upload-callback-fail'), body: 'object=${object}' } }));
    expect(err).toMatchObject({ status: 203, code: 'CallbackFailed' });
    expect(err.message).toContain('500');
    expect(await t.app.storeFor('media').head('uploads/b.txt')).toMatchObject({ size: 4 });
  });

  it('refuses a malformed callback before storing anything', async () => {
    const res = await fetch(`${t.endpoint}/open/uploads/c.txt`, {
      method: 'PUT',
      headers: { 'x-oss-callback': Buffer.from('{"callbackUrl": ""}').toString('base64') },
      body: 'x',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('callbackUrl');
    expect(await t.app.storeFor('open').head('uploads/c.txt')).toBeUndefined();
  });
});
