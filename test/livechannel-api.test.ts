import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalizedResource, hmacSha1, stringToSign } from '../src/auth/oss-signature.js';
import { parseRequestUrl } from '../src/http/oss-request.js';
import { KEY, ossError, startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const config = (over: Record<string, unknown> = {}) => ({
  Description: 'this is channel 1',
  Status: 'enabled',
  Target: { Type: 'HLS', FragDuration: '10', FragCount: '5', PlaylistName: 'playlist.m3u8' },
  ...over,
});

describe('LiveChannel API driven by the real ali-oss client (path-style, 127.0.0.1)', () => {
  it('putChannel returns publish and play URLs; getChannel deep-equals the config', async () => {
    const c = t.client();
    const put = await c.putChannel('ch-put', config());
    expect(put.publishUrls).toEqual([`${t.rtmpBase}/live/ch-put`]);
    expect(put.playUrls).toEqual([`${t.endpoint}/media/ch-put/playlist.m3u8`]);
    expect(put.res.status).toBe(200);
    expect((await c.getChannel('ch-put')).data).toEqual(config());
  });

  it('applies the OSS defaults when FragDuration, FragCount and PlaylistName are absent', async () => {
    const c = t.client();
    await c.putChannel('ch-defaults', { Target: { Type: 'HLS' } });
    expect((await c.getChannel('ch-defaults')).data).toEqual({
      Description: '',
      Status: 'enabled',
      Target: { Type: 'HLS', FragDuration: '5', FragCount: '3', PlaylistName: 'playlist.m3u8' },
    });
  });

  it('handles channel names with spaces and non-ASCII characters', async () => {
    const c = t.client();
    for (const name of ['my live show', 'концерт №1', 'a+b&c=d%']) {
      const put = await c.putChannel(name, config({ Description: `about ${name}` }));
      expect(put.publishUrls[0]).toBe(`${t.rtmpBase}/live/${encodeURIComponent(name)}`);
      expect((await c.getChannel(name)).data).toEqual(config({ Description: `about ${name}` }));
    }
  });

  it('recreating a channel that is not live replaces its configuration', async () => {
    const c = t.client();
    await c.putChannel('ch-recreate', config());
    await c.putChannel('ch-recreate', config({ Status: 'disabled', Description: 'second' }));
    expect((await c.getChannel('ch-recreate')).data).toEqual(config({ Status: 'disabled', Description: 'second' }));
  });

  it('getChannelStatus is Idle, then Disabled after putChannelStatus, then Idle again', async () => {
    const c = t.client();
    await c.putChannel('ch-status', config());
    expect((await c.getChannelStatus('ch-status')).data).toEqual({ Status: 'Idle' });
    await c.putChannelStatus('ch-status', 'disabled');
    expect((await c.getChannelStatus('ch-status')).data).toEqual({ Status: 'Disabled' });
    expect((await c.getChannel('ch-status')).data.Status).toBe('disabled');
    await c.putChannelStatus('ch-status', 'enabled');
    expect((await c.getChannelStatus('ch-status')).data).toEqual({ Status: 'Idle' });
  });

  it('listChannels pages with prefix, marker and max-keys, giving NextMarker', async () => {
    const c = t.client('open'); // a bucket of its own so other tests' channels do not interfere
    for (const n of ['list-a', 'list-b', 'list-c', 'list-d', 'list-e', 'other-1']) await c.putChannel(n, config());
    const first = await c.listChannels({ prefix: 'list-', 'max-keys': 2 });
    expect(first.channels.map((x: { Name: string }) => x.Name)).toEqual(['list-a', 'list-b']);
    expect(first.isTruncated).toBe(true);
    expect(first.nextMarker).toBe('list-b');
    const second = await c.listChannels({ prefix: 'list-', marker: first.nextMarker!, 'max-keys': 2 });
    expect(second.channels.map((x: { Name: string }) => x.Name)).toEqual(['list-c', 'list-d']);
    const last = await c.listChannels({ prefix: 'list-', marker: second.nextMarker!, 'max-keys': 2 });
    expect(last.channels.map((x: { Name: string }) => x.Name)).toEqual(['list-e']);
    expect(last.isTruncated).toBe(false);
    expect(last.nextMarker).toBeNull();
    const ch = first.channels[0]!;
    expect(ch).toMatchObject({
      Description: 'this is channel 1',
      Status: 'enabled',
      PublishUrls: [`${t.rtmpBase}/live/list-a`],
      PlayUrls: [`${t.endpoint}/open/list-a/playlist.m3u8`],
    });
    expect(Date.now() - Date.parse(ch.LastModified)).toBeLessThan(60_000);
    expect(ch.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('ListLiveChannel defaults to max-keys 100 and echoes Prefix, Marker and MaxKeys', async () => {
    const c = t.client('pub');
    for (let i = 0; i < 105; i++) await c.putChannel(`p${String(i).padStart(3, '0')}`, config());
    const page = await c.listChannels({});
    expect(page.channels).toHaveLength(100);
    expect(page.isTruncated).toBe(true);
    expect(page.nextMarker).toBe('p099');
    const raw = await c.listChannels({ prefix: 'p1', marker: 'p100' });
    const xml = raw.res.data.toString();
    expect(xml).toContain('<Prefix>p1</Prefix>');
    expect(xml).toContain('<Marker>p100</Marker>');
    expect(xml).toContain('<MaxKeys>100</MaxKeys>');
    expect(xml).toContain('<IsTruncated>false</IsTruncated>');
    expect(raw.channels.map((x: { Name: string }) => x.Name)).toEqual(['p101', 'p102', 'p103', 'p104']);
  });

  it('getChannelHistory is empty for a channel never pushed to', async () => {
    const c = t.client();
    await c.putChannel('ch-history', config());
    const h = await c.getChannelHistory('ch-history');
    expect(h.records).toEqual([]);
    expect(h.res.status).toBe(200);
  });

  it('getChannelHistory lists the last 10 pushes, oldest first, open ones without EndTime', async () => {
    const c = t.client();
    await c.putChannel('ch-pushed', config());
    const base = Date.parse('2026-01-01T00:00:00Z');
    const lease = await t.app.catalog.acquireLease({ bucket: 'media', channel: 'ch-pushed', nodeId: 'n', remoteAddr: 'r', ttlMs: 10_000, now: base });
    if (!lease.ok) throw new Error('lease refused');
    for (let i = 0; i < 12; i++) {
      const p = await t.app.catalog.startPush('media', 'ch-pushed', `10.0.0.${i}:5000`, base + i * 60_000, 'n', lease.token);
      if (i < 11) await t.app.catalog.endPush(p.id, base + i * 60_000 + 30_000, 'unpublished', lease.token);
    }
    const { records } = await c.getChannelHistory('ch-pushed');
    expect(records).toHaveLength(10);
    expect(records[0]).toEqual({ StartTime: '2026-01-01T00:02:00.000Z', EndTime: '2026-01-01T00:02:30.000Z', RemoteAddr: '10.0.0.2:5000', EndReason: 'unpublished', NodeId: 'n' });
    expect(records[9]).toEqual({ StartTime: '2026-01-01T00:11:00.000Z', RemoteAddr: '10.0.0.11:5000', NodeId: 'n' });
  });

  it('deleteChannel answers 204, then the channel is gone (404) and its files stay', async () => {
    const c = t.client();
    await c.putChannel('ch-delete', config());
    await t.app.storeFor('media').put('ch-delete/old0.ts', 'segment bytes');
    expect((await c.deleteChannel('ch-delete')).res.status).toBe(204);
    const e = await ossError(c.getChannel('ch-delete'));
    expect([e.status, e.code]).toEqual([404, 'NoSuchLiveChannel']);
    expect(readFileSync(join(t.dataDir, 'buckets', 'media', 'ch-delete', 'old0.ts'), 'utf8')).toBe('segment bytes');
    expect((await ossError(c.deleteChannel('ch-delete'))).code).toBe('NoSuchLiveChannel');
  });

  it('createVod on a missing channel is 404 NoSuchLiveChannel', async () => {
    const e = await ossError(t.client().createVod('no-such-channel', 'vod.m3u8', { startTime: 1000, endTime: 2000 }));
    expect([e.status, e.code, e.message]).toEqual([404, 'NoSuchLiveChannel', 'The specified live channel does not exist.']);
  });

  it('createVod with no segments in the range is 400 InvalidArgument, as OSS answers', async () => {
    const c = t.client();
    await c.putChannel('ch-empty-vod', config());
    const e = await ossError(c.createVod('ch-empty-vod', 'vod.m3u8', { startTime: 1000, endTime: 2000 }));
    expect([e.status, e.code, e.message]).toEqual([400, 'InvalidArgument', 'No ts file found in the specified time range.']);
  });

  it('createVod writes a VOD playlist from the segment index, across pushes', async () => {
    const c = t.client();
    await c.putChannel('ch-vod', config());
    const t0 = Date.parse('2026-03-01T10:00:00Z');
    const lease = await t.app.catalog.acquireLease({ bucket: 'media', channel: 'ch-vod', nodeId: 'n', remoteAddr: 'r', ttlMs: 10_000, now: t0 });
    if (!lease.ok) throw new Error('lease refused');
    const seg = (pushId: number, sequence: number, startTime: number) =>
      t.app.catalog.addSegment({ bucket: 'media', channel: 'ch-vod', pushId, sequence, key: `ch-vod/p${pushId}-${sequence}.ts`, startTime, durationMs: 4000, discontinuity: false }, lease.token);
    await seg(1, 0, t0);
    await seg(1, 1, t0 + 4000);
    await seg(2, 2, t0 + 60_000);
    await seg(2, 3, t0 + 64_000);
    const res = await c.createVod('ch-vod', 'vod.m3u8', { startTime: t0 / 1000, endTime: t0 / 1000 + 3600 });
    expect(res.res.status).toBe(200);
    const text = readFileSync(join(t.dataDir, 'buckets', 'media', 'ch-vod', 'vod.m3u8'), 'utf8');
    expect(text).toBe(
      ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:4', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXTINF:4.000,', 'p1-0.ts', '#EXTINF:4.000,', 'p1-1.ts', '#EXT-X-DISCONTINUITY', '#EXTINF:4.000,', 'p2-2.ts',
        '#EXTINF:4.000,', 'p2-3.ts', '#EXT-X-ENDLIST', ''].join('\n'),
    );
    // GetVodPlaylist returns the same list with URIs relative to the bucket root, limited to the range
    const get = await fetch(`${t.endpoint}/media/ch-vod?vod&startTime=${t0 / 1000 + 50}&endTime=${t0 / 1000 + 100}`, {
      headers: signedHeaders('GET', '/media/ch-vod?vod&endTime=' + (t0 / 1000 + 100) + '&startTime=' + (t0 / 1000 + 50)),
    });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/x-mpegURL');
    const body = await get.text();
    expect(body.split('\n').filter((l: string) => l.endsWith('.ts'))).toEqual(['ch-vod/p2-2.ts', 'ch-vod/p2-3.ts']);
    expect(body).not.toContain('DISCONTINUITY');
  });

  it('refuses anonymous requests to a private bucket with 403 AccessDenied', async () => {
    for (const url of [`${t.endpoint}/media/?live`, `${t.endpoint}/media/ch-put?live`, `${t.endpoint}/media/ch-put?live&comp=stat`]) {
      const res = await fetch(url);
      expect(res.status).toBe(403);
      const body = await res.text();
      expect(body).toContain('<Code>AccessDenied</Code>');
      expect(body).toMatch(/<RequestId>[0-9A-F]{24}<\/RequestId>/);
      expect(res.headers.get('x-oss-request-id')).toMatch(/^[0-9A-F]{24}$/);
    }
  });

  it('lets anonymous clients read a public-read bucket but not write it', async () => {
    expect((await fetch(`${t.endpoint}/pub/p000?live`)).status).toBe(200);
    const put = await fetch(`${t.endpoint}/pub/anon?live`, { method: 'PUT', body: '<LiveChannelConfiguration><Target><Type>HLS</Type></Target></LiveChannelConfiguration>' });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('lets anonymous clients create channels in a public-read-write bucket', async () => {
    const put = await fetch(`${t.endpoint}/open/anon-made?live`, { method: 'PUT', body: '<LiveChannelConfiguration><Target><Type>HLS</Type></Target></LiveChannelConfiguration>' });
    expect(put.status).toBe(200);
    expect(await put.text()).toContain(`<Url>${t.rtmpBase}/live/anon-made</Url>`);
  });

  it('accepts signed URLs made by ali-oss (signatureUrl)', async () => {
    // ali-oss refuses to sign URLs for an IP endpoint, so sign for a host name and send it here
    const signer = t.client('media', undefined, { endpoint: 'http://gateway.test' });
    const url = new URL(signer.signatureUrl('ch-put', { expires: 300, subResource: { live: '' } } as never));
    const res = await t.app.http.inject({ method: 'GET', url: url.pathname + url.search, headers: { host: url.host } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<PlaylistName>playlist.m3u8</PlaylistName>');
  });
});


/** Signs a path-style request the V1 way (for plain fetch calls). */
function signedHeaders(method: string, pathAndQuery: string): Record<string, string> {
  const { path, query } = parseRequestUrl(pathAndQuery);
  const [, bucket, ...rest] = path.split('/');
  const date = new Date().toUTCString();
  const s = stringToSign({ method, contentMd5: '', contentType: '', date, ossHeaders: '', resource: canonicalizedResource(bucket, rest.join('/'), query) });
  return { date, authorization: `OSS ${KEY.accessKeyId}:${hmacSha1(KEY.accessKeySecret, s)}` };
}
