import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Viewers of a private channel all carry the same access key in their signed URLs: the API's
// per-key rate limit must not turn them away. It still holds for management requests.
let t: TestApp;
let client: AliOss;
const PLAYLIST = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\nseg0.ts\n';
beforeAll(async () => {
  t = await startTestApp({ limits: { apiRequestsPerSecond: 5, apiBurst: 10 } });
  client = t.client('media');
  await client.put('show/playlist.m3u8', Buffer.from(PLAYLIST));
  await client.put('show/seg0.ts', Buffer.alloc(188 * 100, 0x47));
});
afterAll(() => t.close());

describe('rate limits and viewers', () => {
  it('serves 100 viewers sharing one signing key for 10 s without a 503, while management requests stay limited per key', async () => {
    // ali-oss signs virtual-hosted URLs only; the signature covers /media/show/playlist.m3u8 either way
    const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
    const signed = new URL(signer.signatureUrl('show/playlist.m3u8', { expires: 600, process: 'hls/sign' }));
    const playlistUrl = `${t.endpoint}/media/show/playlist.m3u8${signed.search}`;
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const until = Date.now() + 10_000;
    const viewer = async (i: number) => {
      await new Promise((r) => setTimeout(r, i * 10)); // joining over a second
      while (Date.now() < until) {
        const res = await fetch(playlistUrl);
        count(res.status);
        const text = await res.text();
        const segment = text.split('\n').find((l) => l.startsWith('seg0.ts?'));
        if (segment) {
          const seg = await fetch(new URL(segment, playlistUrl));
          count(seg.status);
          await seg.arrayBuffer();
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    await Promise.all(Array.from({ length: 100 }, (_, i) => viewer(i)));
    expect([...statuses.keys()]).toEqual([200]);
    // each viewer polled about once a second for 10 s, a playlist and a segment each time
    expect(statuses.get(200)).toBeGreaterThanOrEqual(100 * 2 * 8);

    // the same key's management requests are still held to 5 a second (burst 10)
    const listed = await Promise.all(
      Array.from({ length: 20 }, () => client.listChannels({}).then(() => 200, (e: { status: number; code: string }) => `${e.status} ${e.code}`)),
    );
    expect(listed).toContain('503 SlowDown');
    expect(listed.filter((s) => s === 200).length).toBeLessThanOrEqual(11);
  }, 30_000);

  it('limits object reads per client address only when readRequestsPerSecondPerIp is set', async () => {
    const strict = await startTestApp({ limits: { readRequestsPerSecondPerIp: 2, readBurst: 3 } });
    try {
      await strict.client('open').put('a.txt', Buffer.from('x'));
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${strict.endpoint}/open/a.txt`)).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses).toContain(503);
      const body = await (await fetch(`${strict.endpoint}/open/a.txt`)).text();
      expect(body).toContain('<Code>SlowDown</Code>');
      expect(body).toContain('this address');
      expect(await strict.app.metrics.registry.getSingleMetricAsString('livechannel_limit_hits_total')).toMatch(/limit="read_rate"} [1-9]/);
      // management requests are not counted against the read budget
      expect((await strict.client('open').listChannels({})).res.status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
