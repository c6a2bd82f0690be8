import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { playlistWarnings } from './support/media-tools.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { startReceiver, type ReceiverProcess } from './support/receiver-process.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { KEY, type AliOss } from './support/test-app.js';

// Several gateway processes on loopback sharing one PostgreSQL catalog and one storage root.
const LEASE_TTL_MS = 4000;
let db: TestDatabase;
let storageRoot: string;
let long: string;
const servers: ServerProcess[] = [];
const pushes: PushProcess[] = [];
let receiver: ReceiverProcess<{ status: number; verified: boolean; body: string }>;

beforeAll(async () => {
  receiver = await startReceiver('test/support/event-receiver.mjs');
  db = await createTestDatabase();
  storageRoot = mkdtempSync(join(tmpdir(), 'lc-cluster-store-'));
  long = await fixture('long.flv');
});
afterAll(async () => {
  for (const p of pushes) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
  for (const s of servers) {
    s.signal('SIGCONT');
    s.signal('SIGKILL');
  }
  await Promise.all(servers.map((s) => s.exited));
  receiver.kill();
  await db.drop();
});

async function node(nodeId: string): Promise<ServerProcess & { client: AliOss; pushUrl: (channel: string) => string }> {
  const dir = mkdtempSync(join(tmpdir(), `lc-node-${nodeId}-`));
  const configFile = join(dir, 'livechannel.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      nodeId,
      dataDir: join(dir, 'data'),
      http: { port: 0 },
      rtmp: { port: 0 },
      logLevel: 'info',
      catalog: { type: 'postgres', url: db.url, poolSize: 4 },
      cluster: { leaseTtlMs: LEASE_TTL_MS, leaseRenewMs: 1000, stopPollMs: 250 },
      credentials: [KEY],
      buckets: [{ name: 'media', acl: 'public-read', storage: { type: 'fs', root: storageRoot } }],
      notifications: [{ url: receiver.url('/events'), events: ['publish.started', 'publish.ended'] }],
      events: { pollMs: 100 },
    }),
  );
  const s = await startServerProcess(configFile);
  servers.push(s);
  const client = new OSS({ ...KEY, bucket: 'media', endpoint: `http://127.0.0.1:${s.httpPort}` }) as AliOss;
  const pushUrl = (channel: string) => client.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${s.rtmpPort}`);
  return { ...s, client, pushUrl };
}

const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '50', PlaylistName: 'playlist.m3u8' } };
const push = (url: string, opts: Parameters<typeof ffmpegPush>[2] = {}) => {
  const p = ffmpegPush(url, long, opts);
  pushes.push(p);
  return p;
};

/** Retries a push every 250 ms until one keeps running for a second; returns it and when it was accepted. */
async function pushUntilAccepted(url: string, withinMs: number, opts: Parameters<typeof ffmpegPush>[2] = {}): Promise<{ push: PushProcess; refusals: string[] }> {
  const deadline = Date.now() + withinMs;
  const refusals: string[] = [];
  while (Date.now() < deadline) {
    const attempt = push(url, opts);
    const outcome = await Promise.race([attempt.exited, new Promise((r) => setTimeout(() => r('running'), 1000))]);
    if (outcome === 'running') return { push: attempt, refusals };
    refusals.push(attempt.stderr());
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no push accepted within ${withinMs} ms; last refusal: ${refusals.at(-1)}`);
}

const history = async (c: AliOss, channel: string) => (await c.getChannelHistory(channel)).records as { StartTime: string; EndTime?: string; EndReason?: string }[];

describe('gateways sharing one PostgreSQL and one storage root', () => {
  it('one publisher per channel cluster-wide, stat and disable from any node, failover after kill -9', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    await a.client.putChannel('show', config);

    // push to A; B reports it Live with A's stat
    const first = push(a.pushUrl('show'));
    const statA = await eventually(async () => {
      const s = (await a.client.getChannelStatus('show')).data;
      return s.Status === 'Live' && s.Video ? s : undefined;
    }, 15_000, 'Live on A');
    const statB = await eventually(async () => {
      const s = (await b.client.getChannelStatus('show')).data;
      return s.Status === 'Live' && s.Video ? s : undefined;
    }, 10_000, 'Live on B, with video');
    expect(statB.RemoteAddr).toBe(statA.RemoteAddr);
    expect(statB.ConnectedTime).toBe(statA.ConnectedTime);
    expect(statB.Video).toMatchObject({ Width: statA.Video.Width, Height: statA.Video.Height, Codec: 'H264' });
    expect(statB.Audio).toMatchObject({ SampleRate: statA.Audio.SampleRate, Codec: 'AAC' });

    // a second push to B is refused, naming A
    const second = push(b.pushUrl('show'), { loopSeconds: 4 });
    expect(await second.exited).not.toBe(0);
    expect(second.stderr()).toMatch(/Server error: Live channel "show" is already being pushed to \(by 127\.0\.0\.1:\d+ on node node-a since \d{4}-\d\d-\d\dT/);
    // re-creating or deleting it on B is refused while it is live on A
    await expect(b.client.deleteChannel('show')).rejects.toMatchObject({ status: 409 });

    // disabling on B cuts the publisher on A within 1 s
    const disabledAt = Date.now();
    await b.client.putChannelStatus('show', 'disabled');
    await first.exited;
    const cutAfter = Date.now() - disabledAt;
    expect(cutAfter).toBeLessThan(1000);
    // the connection closes at once; the record is closed once the last segment is written
    expect(await eventually(async () => (await history(a.client, 'show'))[0]!.EndReason, 5000, 'the push record closed')).toBe('disabled');
    await b.client.putChannelStatus('show', 'enabled');

    // push to A again, kill -9 A: the publisher, restarted against B, is accepted once A's lease expires
    const third = push(a.pushUrl('show'));
    await eventually(async () => (await history(b.client, 'show')).length === 2 && (await b.client.getChannelStatus('show')).data.Status === 'Live', 15_000, 'second push live');
    await new Promise((r) => setTimeout(r, 4000)); // a couple of segments
    a.signal('SIGKILL');
    const killedAt = Date.now();
    third.kill();
    const { push: fourth, refusals } = await pushUntilAccepted(b.pushUrl('show'), LEASE_TTL_MS + 5000, { loopSeconds: 8 });
    const records = await eventually(async () => {
      const r = await history(b.client, 'show');
      return r.length === 3 ? r : undefined;
    }, 5000, 'third push record');
    const acceptedAfter = Date.parse(records[2]!.StartTime) - killedAt;
    expect(acceptedAfter).toBeLessThanOrEqual(LEASE_TTL_MS + 2000);
    for (const r of refusals) expect(r).toContain('on node node-a');
    expect(records[1]).toMatchObject({ EndReason: 'interrupted' });
    expect(records[1]!.EndTime).toBeDefined();
    expect(await fourth.exited).toBe(0);
    const closed = await eventually(async () => {
      const r = await history(b.client, 'show');
      return r[2]!.EndTime ? r : undefined;
    }, 10_000, 'B closes its push');
    expect(closed.every((r) => r.EndTime)).toBe(true);

    // the live playlist and a VOD over both pushes decode cleanly
    const base = `http://127.0.0.1:${b.httpPort}/media/show`;
    const playlist = await (await fetch(`${base}/playlist.m3u8`)).text();
    expect(playlist).toContain('#EXT-X-DISCONTINUITY');
    expect(await playlistWarnings(`${base}/playlist.m3u8`)).toBe('');
    const from = Math.floor(Date.parse(records[1]!.StartTime) / 1000);
    const to = Math.ceil(Date.parse(closed[2]!.EndTime!) / 1000) + 1;
    await b.client.createVod('show', 'vod.m3u8', { startTime: from, endTime: to });
    const vod = await (await fetch(`${base}/vod.m3u8`)).text();
    expect(vod).toContain('#EXT-X-DISCONTINUITY');
    expect(await playlistWarnings(`${base}/vod.m3u8`)).toBe('');

    // one sender cluster-wide (B took over from A): every publish event once, in order, and the
    // push A died with ended as node-lost by B
    const events = await eventually(() => {
      const e = receiver.seen.filter((x) => x.status === 200).map((x) => JSON.parse(x.body) as { id: string; type: string; channel: string; reason?: string; nodeId: string });
      const show = e.filter((x) => x.channel === 'show');
      return show.filter((x) => x.type === 'publish.ended').length === 3 ? show : undefined;
    }, 15_000, 'three publish.ended events');
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.map((e) => (e.type === 'publish.ended' ? e.reason : 'started'))).toEqual(['started', 'disabled', 'started', 'node-lost', 'started', expect.stringMatching(/^(unpublished|disconnected)$/)]);
    expect(events[3]!.nodeId).toBe('node-b');
    expect(receiver.seen.every((x) => x.verified)).toBe(true);
    console.log(`cluster: disable cut the publisher on the other node after ${cutAfter} ms; after kill -9 the push was accepted on B after ${acceptedAfter} ms (lease ${LEASE_TTL_MS} ms)`);
  }, 120_000);

  it('a node frozen past its lease (SIGSTOP) has its writes refused when it wakes (fencing)', async () => {
    const a = await node('node-c');
    const b = await node('node-d');
    await a.client.putChannel('fenced', config);
    const toA = push(a.pushUrl('fenced'));
    await eventually(async () => (await history(a.client, 'fenced'))[0]?.StartTime && (await a.client.getChannelStatus('fenced')).data.Video, 15_000, 'live on A');
    await new Promise((r) => setTimeout(r, 3000));
    a.signal('SIGSTOP');
    const frozenAt = Date.now();
    const { push: toB } = await pushUntilAccepted(b.pushUrl('fenced'), LEASE_TTL_MS + 5000, { loopSeconds: 14 });
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(LEASE_TTL_MS - 1500);
    await new Promise((r) => setTimeout(r, 4000)); // B writes a few segments
    const base = `http://127.0.0.1:${b.httpPort}/media/fenced`;
    const sequenceOf = async () => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(await (await fetch(`${base}/playlist.m3u8`)).text())![1]);
    const lastSegmentOf = async () => {
      const lines = (await (await fetch(`${base}/playlist.m3u8`)).text()).split('\n').filter((l) => l.endsWith('.ts'));
      return Number(/(\d+)\.ts$/.exec(lines.at(-1)!)![1]);
    };
    const before = await lastSegmentOf();

    // A wakes: the publisher's buffered media reaches it, but it must not write
    a.signal('SIGCONT');
    let last = before;
    const watchUntil = Date.now() + 4000;
    while (Date.now() < watchUntil) {
      const now = await lastSegmentOf();
      expect(now).toBeGreaterThanOrEqual(last); // A never rewinds the playlist B writes
      last = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    await eventually(() => (/publish lease/.test(a.output()) ? true : undefined), 5000, "A's log about its lost lease").catch((err) => {
      throw new Error(`${(err as Error).message}\n${a.output().slice(-6000)}`);
    });
    expect(a.output()).toMatch(/lost the channel's publish lease|no longer holds the channel's publish lease|another node holds the channel's publish lease/);
    expect(await toA.exited).not.toBe(0); // A stopped its publisher
    expect(await toB.exited).toBe(0);
    expect(await sequenceOf()).toBeGreaterThanOrEqual(0);
    expect(await playlistWarnings(`${base}/playlist.m3u8`)).toBe('');
    const records = await eventually(async () => {
      const r = await history(b.client, 'fenced');
      return r.every((x) => x.EndTime) ? r : undefined;
    }, 10_000, 'both pushes closed');
    expect(records.map((r) => r.EndReason)).toEqual(['interrupted', 'unpublished']);
  }, 120_000);
});
