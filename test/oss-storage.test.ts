import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { FaultProxy } from './support/fault-proxy.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

// Gateway A is the "OSS" (its own object API); gateway B writes its bucket "relay" into A's
// bucket "media" under "relay/", through a proxy that injects faults.
let a: TestApp;
let proxy: FaultProxy;
let main: string;

beforeAll(async () => {
  a = await startTestApp();
  proxy = await FaultProxy.start(a.app.httpPort());
  main = await fixture('main.flv');
});
afterAll(async () => {
  await proxy?.close();
  await a?.close();
});

async function gatewayB(upload: Record<string, number> = {}): Promise<TestApp> {
  return startTestApp({
    buckets: [
      {
        name: 'relay',
        acl: 'public-read',
        storage: { type: 'oss', endpoint: proxy.endpoint, bucket: 'media', accessKeyId: KEY.accessKeyId, accessKeySecret: KEY.accessKeySecret, prefix: 'relay/', timeoutMs: 2000 },
      },
    ],
    defaultBucket: 'relay',
    upload: { retryBaseMs: 50, retryMaxMs: 400, ...upload },
  });
}

const inA = (channel: string, name: string) => join(a.dataDir, 'buckets', 'media', 'relay', channel, name);
const named = (playlist: string) => playlist.split('\n').filter((l) => l.endsWith('.ts'));
const pushUrl = (b: TestApp, channel: string) => b.client('relay').getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${b.app.rtmpPort()}`);

/** Checks every playlist PUT as it reaches A: each segment it names must already be stored. */
function watchPlaylists(channel: string): { checked: number; violations: string[] } {
  const seen = { checked: 0, violations: [] as string[] };
  proxy.onForward = (req, body) => {
    if (req.method !== 'PUT' || !req.url?.includes(`/relay/${encodeURIComponent(channel)}/`) || !req.url.split('?')[0]!.endsWith('.m3u8')) return;
    seen.checked++;
    for (const seg of named(body.toString())) if (!existsSync(inA(channel, seg))) seen.violations.push(seg);
  };
  return seen;
}

describe('OSS storage backend (gateway B → gateway A over the OSS API)', () => {
  it('writes a push into the OSS bucket; A serves it to ali-oss and it decodes cleanly', async () => {
    proxy.plan = {};
    const b = await gatewayB();
    try {
      const put = await b.client('relay').putChannel('show', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '10' } });
      expect(put.playUrls).toEqual([`${proxy.endpoint}/media/relay/show/playlist.m3u8`]);
      const p = ffmpegPush(pushUrl(b, 'show'), main, { realtime: false });
      expect(await p.exited).toBe(0);
      await eventually(async () => ((await b.client('relay').getChannelStatus('show')).data.Status === 'Idle' ? true : undefined));

      const fromA = a.client('media');
      const listed = await fromA.list({ prefix: 'relay/show/', 'max-keys': 100 }, {});
      expect(listed.objects.map((o: { name: string }) => o.name).sort()).toEqual(
        ['playlist.m3u8', ...Array.from({ length: 6 }, (_, i) => `playlist${i}.ts`)].map((n) => `relay/show/${n}`).sort(),
      );
      const playlist = (await fromA.get('relay/show/playlist.m3u8')).content.toString();
      expect(named(playlist)).toHaveLength(6);
      expect(playlist).toContain('#EXT-X-ENDLIST');
      const dir = mkdtempSync(join(tmpdir(), 'lc-oss-'));
      for (const seg of named(playlist)) writeFileSync(join(dir, seg), (await fromA.get(`relay/show/${seg}`)).content);
      writeFileSync(join(dir, 'playlist.m3u8'), playlist);
      expect(await ffmpegWarnings(join(dir, 'playlist.m3u8'))).toBe('');
      // B's own object reads go to the OSS bucket too
      const viaB = await fetch(`${b.endpoint}/relay/show/playlist0.ts`);
      expect(viaB.status).toBe(200);
      expect((await viaB.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    } finally {
      await b.close();
    }
  }, 60_000);

  it('loses no segment when 20 % of PUTs fail with 503, and every playlist names only stored segments', async () => {
    const b = await gatewayB();
    const seen = watchPlaylists('flaky');
    try {
      await b.client('relay').putChannel('flaky', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '30' } });
      proxy.plan = { failRate: 0.2, methods: ['PUT'] };
      const p = ffmpegPush(pushUrl(b, 'flaky'), main, { realtime: false, loopSeconds: 36 });
      expect(await p.exited).toBe(0);
      await eventually(async () => ((await b.client('relay').getChannelStatus('flaky')).data.Status === 'Idle' ? true : undefined), 30_000);
      proxy.plan = {};
      expect(proxy.stats.failed).toBeGreaterThan(3);
      const playlist = (await a.client('media').get('relay/flaky/playlist.m3u8')).content.toString();
      // every segment, in a row: none lost
      const names = named(playlist);
      expect(names.length).toBeGreaterThanOrEqual(18);
      expect(names).toEqual(Array.from({ length: names.length }, (_, i) => `playlist${i}.ts`));
      expect(playlist).not.toContain('DISCONTINUITY');
      expect(playlist).toContain('#EXT-X-ENDLIST');
      // the check below saw most playlists (how many were written depends on which PUTs failed:
      // a playlist a newer segment made stale is not retried)
      expect(seen.checked).toBeGreaterThan(names.length / 2);
      expect(seen.violations).toEqual([]);
      const metrics = await b.app.metrics.registry.getSingleMetricAsString('livechannel_storage_retries_total');
      expect(metrics).toMatch(/kind="segment"} [1-9]/);
    } finally {
      proxy.onForward = undefined;
      proxy.plan = {};
      await b.close();
    }
  }, 60_000);

  it('keeps the publisher through 30 s without storage, within its memory bound, marks the gap and resumes', async () => {
    const bound = 1024 * 1024;
    const b = await gatewayB({ maxQueuedBytesPerChannel: bound });
    const seen = watchPlaylists('outage');
    const push = ffmpegPush(pushUrl(b, 'outage'), main, { loopSeconds: 48 });
    try {
      await b.client('relay').putChannel('outage', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '30' } }).catch(() => undefined);
      await eventually(() => (existsSync(inA('outage', 'playlist1.ts')) ? true : undefined), 20_000, 'segments before the outage');
      proxy.setDown(true);
      const session = () => b.app.ingest.registry.get('relay', 'outage');
      let maxPending = 0;
      const rssBefore = process.memoryUsage().rss;
      let maxRss = rssBefore;
      const outageEnds = Date.now() + 30_000;
      while (Date.now() < outageEnds) {
        maxPending = Math.max(maxPending, session()?.pendingUploadBytes ?? 0);
        maxRss = Math.max(maxRss, process.memoryUsage().rss);
        expect(session(), 'publisher still live during the outage').toBeDefined();
        await new Promise((r) => setTimeout(r, 250));
      }
      proxy.setDown(false);
      const before = named((await a.client('media').get('relay/outage/playlist.m3u8')).content.toString()).length;
      // writing resumes: the playlist grows again while the publisher is still on
      await eventually(async () => {
        const n = named((await a.client('media').get('relay/outage/playlist.m3u8')).content.toString()).length;
        return n > before + 1 ? true : undefined;
      }, 20_000, 'writes to resume');
      expect(await Promise.race([push.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 10))])).toBe('running');
      await push.exited;
      await eventually(async () => ((await b.client('relay').getChannelStatus('outage')).data.Status === 'Idle' ? true : undefined), 30_000);

      // bounded: at most the bound plus the segment being written
      expect(maxPending).toBeGreaterThan(bound / 2);
      expect(maxPending).toBeLessThanOrEqual(bound + 600 * 1024);
      expect(maxRss - rssBefore).toBeLessThan(100 * 1024 * 1024);
      const playlist = (await a.client('media').get('relay/outage/playlist.m3u8')).content.toString();
      expect(playlist).toContain('#EXT-X-DISCONTINUITY'); // the gap is marked
      expect(playlist).toContain('#EXT-X-ENDLIST');
      for (const seg of named(playlist)) expect(existsSync(inA('outage', seg)), seg).toBe(true);
      expect(seen.violations).toEqual([]);
      const dropped = await b.app.metrics.registry.getSingleMetricAsString('livechannel_segments_dropped_total');
      expect(dropped).toMatch(/reason="queue_full"} [1-9]/);
    } finally {
      proxy.setDown(false);
      proxy.onForward = undefined;
      push.kill();
      await b.close();
    }
  }, 120_000);
});

describe('publishers faster than real time', () => {
  it('are slowed by TCP backpressure instead of losing segments when storage is slow', async () => {
    const bound = 512 * 1024;
    const b = await gatewayB({ maxQueuedBytesPerChannel: bound });
    try {
      await b.client('relay').putChannel('fast', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '30' } });
      proxy.plan = { latencyMs: 400, methods: ['PUT'] };
      // pushed as fast as ffmpeg can (no -re): 24 s of media in far less time
      const p = ffmpegPush(pushUrl(b, 'fast'), main, { realtime: false, loopSeconds: 24 });
      let maxPending = 0;
      const sampling = setInterval(() => (maxPending = Math.max(maxPending, b.app.ingest.registry.get('relay', 'fast')?.pendingUploadBytes ?? 0)), 20);
      expect(await p.exited).toBe(0);
      await eventually(async () => ((await b.client('relay').getChannelStatus('fast')).data.Status === 'Idle' ? true : undefined), 60_000);
      clearInterval(sampling);
      proxy.plan = {};
      expect(maxPending).toBeLessThanOrEqual(bound + 600 * 1024);
      const playlist = (await a.client('media').get('relay/fast/playlist.m3u8')).content.toString();
      const names = named(playlist);
      expect(names.length).toBeGreaterThanOrEqual(12);
      expect(names).toEqual(Array.from({ length: names.length }, (_, i) => `playlist${i}.ts`)); // nothing dropped
      expect(playlist).not.toContain('DISCONTINUITY');
      expect(await b.app.metrics.registry.getSingleMetricAsString('livechannel_segments_dropped_total')).not.toMatch(/} [1-9]/);
    } finally {
      proxy.plan = {};
      await b.close();
    }
  }, 120_000);
});
