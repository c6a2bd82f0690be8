import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
const segment = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const md5 = (b: Buffer | string) => `"${createHash('md5').update(b).digest('hex').toUpperCase()}"`;

beforeAll(async () => {
  t = await startTestApp({ publicHost: 'live.test' });
  await t.app.storeFor('pub').put('ch/seg0.ts', segment);
  await t.app.storeFor('pub').put('ch/playlist.m3u8', '#EXTM3U\n');
  await t.app.storeFor('media').put('ch/secret.ts', segment);
});
afterAll(() => t.close());

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${t.endpoint}${path}`, { method, headers });

describe('object playback over HTTP', () => {
  it('serves segments and playlists with type, ETag, length and cache headers', async () => {
    const ts = await get('/pub/ch/seg0.ts');
    expect(ts.status).toBe(200);
    expect(Buffer.from(await ts.arrayBuffer())).toEqual(segment);
    expect(ts.headers.get('content-type')).toBe('video/MP2T');
    expect(ts.headers.get('content-length')).toBe('1000');
    expect(ts.headers.get('etag')).toBe(md5(segment));
    expect(ts.headers.get('accept-ranges')).toBe('bytes');
    expect(ts.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(Date.parse(ts.headers.get('last-modified')!)).toBeGreaterThan(Date.now() - 60_000);
    const m3u8 = await get('/pub/ch/playlist.m3u8');
    expect(m3u8.headers.get('content-type')).toBe('application/x-mpegURL');
    expect(m3u8.headers.get('cache-control')).toBe('no-cache');
    expect(await m3u8.text()).toBe('#EXTM3U\n');
  });

  it('answers a segment read before from memory, and never an old version once the API rewrites or deletes it', async () => {
    const open = t.client('open');
    await open.put('cached/seg7.ts', Buffer.from('first version'));
    expect(await (await get('/open/cached/seg7.ts')).text()).toBe('first version');
    // gone from disk behind the gateway's back: still answered (segments are immutable)
    rmSync(join(t.dataDir, 'buckets', 'open', 'cached', 'seg7.ts'));
    const cached = await get('/open/cached/seg7.ts');
    expect([cached.status, await cached.text(), cached.headers.get('etag')]).toEqual([200, 'first version', md5('first version')]);
    expect((await get('/open/cached/seg7.ts', { range: 'bytes=6-12' })).status).toBe(206);
    // through the API: the next read sees the write, then the delete
    await open.put('cached/seg7.ts', Buffer.from('second version'));
    expect(await (await get('/open/cached/seg7.ts')).text()).toBe('second version');
    await open.delete('cached/seg7.ts');
    expect((await get('/open/cached/seg7.ts')).status).toBe(404);
  });

  it('streams a segment too large for the cache from storage, whole and by range', async () => {
    const big = Buffer.alloc(17 * 1024 * 1024, 7); // past the cache's 16 MiB per object
    big.write('end', big.length - 3);
    await t.app.storeFor('pub').put('ch/huge.ts', big);
    const whole = await get('/pub/ch/huge.ts');
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(big.length));
    expect(md5(Buffer.from(await whole.arrayBuffer()))).toBe(md5(big));
    const tail = await get('/pub/ch/huge.ts', { range: `bytes=${big.length - 3}-` });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe('end');
  });

  it('answers Range requests as OSS does', async () => {
    const part = await get('/pub/ch/seg0.ts', { range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(Buffer.from(await part.arrayBuffer())).toEqual(segment.subarray(10, 20));
    const tail = await get('/pub/ch/seg0.ts', { range: 'bytes=-5' });
    expect([tail.status, tail.headers.get('content-range')]).toEqual([206, 'bytes 995-999/1000']);
    const open = await get('/pub/ch/seg0.ts', { range: 'bytes=990-' });
    expect((await open.arrayBuffer()).byteLength).toBe(10);
    const clipped = await get('/pub/ch/seg0.ts', { range: 'bytes=990-5000' });
    expect(clipped.headers.get('content-range')).toBe('bytes 990-999/1000');
    // a malformed range means the whole object, without Content-Range
    const malformed = await get('/pub/ch/seg0.ts', { range: 'bytes=abc' });
    expect([malformed.status, malformed.headers.get('content-range')]).toEqual([200, null]);
    const beyond = await get('/pub/ch/seg0.ts', { range: 'bytes=5000-' });
    expect(beyond.status).toBe(416);
    expect(await beyond.text()).toContain('<Code>InvalidRange</Code>');
  });

  it('answers HEAD with headers only, and conditional requests with 304/412', async () => {
    const head = await get('/pub/ch/seg0.ts', {}, 'HEAD');
    expect([head.status, head.headers.get('content-length'), (await head.arrayBuffer()).byteLength]).toEqual([200, '1000', 0]);
    expect((await get('/pub/ch/seg0.ts', { 'if-none-match': md5(segment) })).status).toBe(304);
    expect((await get('/pub/ch/seg0.ts', { 'if-none-match': '"other"' })).status).toBe(200);
    expect((await get('/pub/ch/seg0.ts', { 'if-match': '"other"' })).status).toBe(412);
    expect((await get('/pub/ch/seg0.ts', { 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() })).status).toBe(304);
  });

  it('sends CORS headers on every answer and accepts preflights, so browser players work', async () => {
    const missing = await get('/pub/ch/nope.ts');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('<Code>NoSuchKey</Code>');
    expect(missing.headers.get('access-control-allow-origin')).toBe('*');
    const pre = await fetch(`${t.endpoint}/pub/ch/seg0.ts`, { method: 'OPTIONS', headers: { origin: 'http://player.test', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' } });
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Range/);
    expect((await get('/pub/ch/seg0.ts')).headers.get('access-control-expose-headers')).toMatch(/Content-Range/);
  });

  it('serves virtual-hosted requests (Host: bucket.publicHost)', async () => {
    const res = await t.app.http.inject({ method: 'GET', url: '/ch/seg0.ts', headers: { host: 'pub.live.test' } });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload).toEqual(segment);
  });

  it('enforces the ACL: a private bucket needs a signature (header or signed URL)', async () => {
    const anon = await get('/media/ch/secret.ts');
    expect(anon.status).toBe(403);
    expect(await anon.text()).toContain('<Code>AccessDenied</Code>');
    const viaSdk = await t.client('media').get('ch/secret.ts');
    expect(Buffer.from(viaSdk.content)).toEqual(segment);
    const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
    const url = new URL(signer.signatureUrl('ch/secret.ts', { expires: 60, response: { 'content-type': 'application/octet-stream' } }));
    const signed = await t.app.http.inject({ method: 'GET', url: url.pathname + url.search, headers: { host: url.host } });
    expect(signed.statusCode).toBe(200);
    expect(signed.headers['content-type']).toBe('application/octet-stream'); // response-* override on a signed request
    const tampered = await t.app.http.inject({ method: 'GET', url: url.pathname.replace('secret', 'seg0') + url.search, headers: { host: url.host } });
    expect(tampered.statusCode).toBe(403);
  });

  it('refuses keys that try to leave the bucket', async () => {
    const raw = (path: string) =>
      new Promise<[number, string]>((resolve, reject) => {
        const req = request(t.endpoint, { path, headers: { host: '127.0.0.1' } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve([res.statusCode!, body]));
        });
        req.on('error', reject);
        req.end();
      });
    for (const path of ['/pub/../media/ch/secret.ts', '/pub/ch/../../media/ch/secret.ts', '/pub/ch%2F..%2F..%2Fmedia%2Fch%2Fsecret.ts', '/pub/ch//seg0.ts']) {
      const [status, body] = await raw(path);
      expect(status, path).toBe(400);
      expect(body).toContain('<Code>InvalidArgument</Code>');
    }
  });
});

describe('private playback with x-oss-process=hls/sign', () => {
  it('signs every segment URI of a playlist fetched with a signed URL, and those URIs play', async () => {
    const store = t.app.storeFor('media');
    await store.put('live/seg1.ts', segment);
    await store.put('live/seg2.ts', segment);
    await store.put('live/playlist.m3u8', '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nseg1.ts\n#EXTINF:2.000,\nseg2.ts\n#EXT-X-ENDLIST\n');
    const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
    const signedUrl = new URL(signer.signatureUrl('live/playlist.m3u8', { expires: 600, process: 'hls/sign' }));
    expect(signedUrl.searchParams.get('x-oss-process')).toBe('hls/sign');
    // the same signed query works path-style on the gateway's IP address
    const res = await fetch(`${t.endpoint}/media/live/playlist.m3u8${signedUrl.search}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const uris = text.split('\n').filter((l) => l.startsWith('seg'));
    expect(uris).toHaveLength(2);
    for (const uri of uris) {
      const u = new URL(uri, `${t.endpoint}/media/live/playlist.m3u8`);
      expect(u.searchParams.get('Expires')).toBe(signedUrl.searchParams.get('Expires'));
      expect(u.searchParams.get('OSSAccessKeyId')).toBe(signedUrl.searchParams.get('OSSAccessKeyId'));
      const seg = await fetch(u);
      expect(seg.status).toBe(200);
      expect(Buffer.from(await seg.arrayBuffer())).toEqual(segment);
    }
    // a segment's signature does not open another segment
    const seg1 = new URL(uris[0]!, `${t.endpoint}/media/live/playlist.m3u8`);
    expect((await fetch(`${t.endpoint}/media/live/seg2.ts${seg1.search}`)).status).toBe(403);
    // without a signature the playlist, and its segments, stay private
    expect((await fetch(`${t.endpoint}/media/live/playlist.m3u8?x-oss-process=hls/sign`)).status).toBe(403);
    expect((await fetch(`${t.endpoint}/media/live/seg1.ts`)).status).toBe(403);
  });

  it('signs URIs in tag attributes too: the init segment, LL-HLS parts and the preload hint', async () => {
    const store = t.app.storeFor('media');
    await store.put('ll/init0.mp4', segment);
    await store.put('ll/p0.m4s', segment);
    await store.put('ll/p0.0.m4s', segment);
    await store.put(
      'll/playlist.m3u8',
      '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MAP:URI="init0.mp4"\n' +
        '#EXT-X-PART:DURATION=0.500,URI="p0.0.m4s",INDEPENDENT=YES\n#EXTINF:2.000,\np0.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p1.0.m4s"\n',
    );
    const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
    const signedUrl = new URL(signer.signatureUrl('ll/playlist.m3u8', { expires: 600, process: 'hls/sign' }));
    const text = await (await fetch(`${t.endpoint}/media/ll/playlist.m3u8${signedUrl.search}`)).text();
    const attributeUris = [...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!);
    expect(attributeUris.map((u) => u.split('?')[0])).toEqual(['init0.mp4', 'p0.0.m4s', 'p1.0.m4s']);
    for (const uri of [...attributeUris.slice(0, 2), text.split('\n').find((l) => l.startsWith('p0.m4s'))!]) {
      const u = new URL(uri, `${t.endpoint}/media/ll/playlist.m3u8`);
      expect(u.searchParams.get('Expires')).toBe(signedUrl.searchParams.get('Expires'));
      expect((await fetch(u)).status, uri).toBe(200);
    }
    // the rest of each tag is left as it was
    expect(text).toContain(',INDEPENDENT=YES\n');
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.500\n');
  });

  it('leaves a line that is no URI of an object as it is (a stray %), and answers HEAD with the length GET sends', async () => {
    const store = t.app.storeFor('media');
    await store.put('odd/playlist.m3u8', '#EXTM3U\n#EXT-X-MAP:URI="in%zz.mp4"\n#EXTINF:2.000,\nseg%E0%A4%A.ts\n#EXTINF:2.000,\nseg1.ts\n');
    const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
    // a GET and a HEAD URL with one expiry time, so that both answers sign alike
    let signedUrl: URL, signedHead: URL;
    do {
      signedUrl = new URL(signer.signatureUrl('odd/playlist.m3u8', { expires: 600, process: 'hls/sign' }));
      signedHead = new URL(signer.signatureUrl('odd/playlist.m3u8', { expires: 600, process: 'hls/sign', method: 'HEAD' }));
    } while (signedUrl.searchParams.get('Expires') !== signedHead.searchParams.get('Expires'));
    const get = await fetch(`${t.endpoint}/media/odd/playlist.m3u8${signedUrl.search}`);
    expect(get.status).toBe(200);
    const text = await get.text();
    expect(text).toContain('#EXT-X-MAP:URI="in%zz.mp4"\n');
    expect(text).toContain('\nseg%E0%A4%A.ts\n');
    expect(text).toMatch(/\nseg1\.ts\?OSSAccessKeyId=/);
    const head = await fetch(`${t.endpoint}/media/odd/playlist.m3u8${signedHead.search}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
  });

  it('refuses other processing and non-playlists', async () => {
    const c = t.client('media');
    await expect(c.get('live/seg1.ts', undefined, { process: 'image/resize,w_100' })).rejects.toMatchObject({ status: 501, code: 'NotImplemented' });
  });
});
