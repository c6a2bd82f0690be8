import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Viewers poll the live playlist every target duration: the gateway answers it from what it
// last stored, not from storage, with headers a CDN in front can use.
let t: TestApp;
let client: AliOss;
let long: string;
beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'pub' });
  client = t.client('pub');
  long = await fixture('long.flv');
});
afterAll(() => t.close());

const md5 = (body: string) => `"${createHash('md5').update(body).digest('hex').toUpperCase()}"`;
const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', PlaylistName: 'playlist.m3u8' } };

describe('the live playlist', () => {
  it('is served from memory while live (ETag, 304, HEAD, cache headers), and from storage once the push ends', async () => {
    await client.putChannel('mem', config);
    const push = ffmpegPush(client.getRtmpUrl('mem', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase), long, { loopSeconds: 10 });
    const url = `${t.endpoint}/pub/mem/playlist.m3u8`;
    const first = await eventually(async () => {
      const res = await fetch(url);
      return res.status === 200 ? res : undefined;
    }, 15_000, 'the live playlist');
    const text = await first.text();
    expect(first.headers.get('etag')).toBe(md5(text));
    expect(first.headers.get('cache-control')).toBe('public, max-age=1');
    expect(first.headers.get('content-type')).toBe('application/x-mpegURL');
    expect(first.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));

    // the file taken away behind the gateway's back: viewers do not notice
    unlinkSync(join(t.dataDir, 'buckets', 'pub', 'mem', 'playlist.m3u8'));
    const fromMemory = await fetch(url);
    expect(fromMemory.status).toBe(200);
    expect(await fromMemory.text()).toMatch(/^#EXTM3U\n/);

    // conditional polls: 304 until a new segment changes the playlist
    let notModified = 0;
    let changed = 0;
    for (let i = 0; i < 30 && (notModified === 0 || changed === 0); i++) {
      const now = await fetch(url);
      const etag = now.headers.get('etag')!;
      const again = await fetch(url, { headers: { 'if-none-match': etag } });
      if (again.status === 304) notModified++;
      else {
        expect(again.status).toBe(200);
        expect(again.headers.get('etag')).not.toBe(etag);
      }
      if (etag !== first.headers.get('etag')) changed++;
      await now.text();
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(notModified).toBeGreaterThan(0);
    expect(changed).toBeGreaterThan(0);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(20);
    const range = await fetch(url, { headers: { range: 'bytes=0-6' } });
    expect([range.status, await range.text()]).toEqual([206, '#EXTM3U']);

    const segment = (await (await fetch(url)).text()).split('\n').find((l) => l.endsWith('.ts'))!;
    const seg = await fetch(`${t.endpoint}/pub/mem/${segment}`);
    expect(seg.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await seg.arrayBuffer();

    expect(await push.exited).toBe(0);
    await eventually(async () => ((await client.getChannelStatus('mem')).data.Status === 'Idle' ? true : undefined), 15_000, 'Idle');
    const ended = await fetch(url);
    expect(await ended.text()).toMatch(/#EXT-X-ENDLIST\n$/);
    // storage answers again: the stored object's own headers
    expect(ended.headers.get('cache-control')).toBe('no-cache');
  }, 60_000);
});
