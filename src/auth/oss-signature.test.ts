import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import OSS from 'ali-oss';
import { canonicalizedOssHeaders, canonicalizedResource, hmacSha1, pushStringToSign, stringToSign } from './oss-signature.js';
import { signPushUrl } from './push-url.js';

const require = createRequire(import.meta.url);
const signUtils = require('ali-oss/lib/common/signUtils') as {
  buildCanonicalString(method: string, resource: string, request: { headers: Record<string, string>; parameters?: unknown }): string;
};

describe('V1 string to sign', () => {
  const cases: { method: string; resource: string; headers: Record<string, string>; subres?: Record<string, string | null> }[] = [
    { method: 'GET', resource: '/b/', headers: { 'x-oss-date': 'Mon, 23 Nov 2026 10:00:00 GMT' }, subres: { live: null } },
    { method: 'PUT', resource: '/b/my chan', headers: { 'Content-MD5': 'abc==', 'x-oss-date': 'Mon, 23 Nov 2026 10:00:00 GMT' }, subres: { live: null, status: 'disabled' } },
    {
      method: 'POST', resource: '/b/ch/v.m3u8',
      headers: { 'Content-Type': 'application/vnd.apple.mpegurl', 'x-oss-date': 'Mon, 23 Nov 2026 10:00:00 GMT', 'X-OSS-Meta-B': ' 2 ', 'x-oss-meta-a': '1' },
      subres: { vod: null, startTime: '100', endTime: '200' },
    },
  ];

  it.each(cases)('matches ali-oss for $method $resource', ({ method, resource, headers, subres }) => {
    const theirs = signUtils.buildCanonicalString(method, resource, { headers, parameters: subres });
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const [, bucket, ...key] = resource.split('/');
    const query = Object.entries(subres ?? {}).map(([k, v]) => [k, v ?? ''] as [string, string]);
    const ours = stringToSign({
      method,
      contentMd5: lower['content-md5'] ?? '',
      contentType: lower['content-type'] ?? '',
      date: lower['x-oss-date']!,
      ossHeaders: canonicalizedOssHeaders(lower),
      resource: canonicalizedResource(bucket, key.join('/'), query),
    });
    expect(ours).toBe(theirs);
  });

  it('leaves non-sub-resource parameters (prefix, max-keys, marker) out of the resource', () => {
    expect(canonicalizedResource('b', '', [['prefix', 'a'], ['live', ''], ['max-keys', '3'], ['marker', 'x']])).toBe('/b/?live');
  });

  it('matches the documented signed-URL recipe', () => {
    // OSS API reference 4.3's Python recipe (its example URL was signed with another secret;
    // Python's hmac gives this value for the recipe's inputs)
    const s = stringToSign({ method: 'GET', contentMd5: '', contentType: '', date: '1141889120', ossHeaders: '', resource: '/oss-example/oss-api.pdf' });
    expect(s).toBe('GET\n\n\n1141889120\n/oss-example/oss-api.pdf');
    expect(hmacSha1('OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV', s)).toBe('EwaNTn1erJGkimiJ9WmXgwnANLc=');
  });
});

describe('push URL signing', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('canonicalises parameters sorted by key, leaving the signature parameters out', () => {
    expect(pushStringToSign('b', 'ch', '1700000000', [['zeta', '1'], ['OSSAccessKeyId', 'x'], ['playlistName', 'p.m3u8'], ['Signature', 's']])).toBe(
      '1700000000\nplaylistName:p.m3u8\nzeta:1\n/b/ch',
    );
    expect(pushStringToSign('b', 'ch', '1700000000', [])).toBe('1700000000\n/b/ch');
  });

  it.each([
    ['ch1', undefined],
    ['my channel', { playlistName: 'x.m3u8' }],
    ['c+h', { playlistName: 'list (1).m3u8', zeta: "a'b" }],
  ])('produces exactly what ali-oss getRtmpUrl produces (%s)', (channel, params) => {
    vi.useFakeTimers({ now: new Date('2026-11-23T12:00:00Z') });
    const client = new OSS({ accessKeyId: 'AKID', accessKeySecret: 'SECRET', bucket: 'demo', endpoint: 'http://live.example.com:1936' });
    const theirs = client.getRtmpUrl(channel, { expires: 600, params });
    const ours = signPushUrl({
      base: 'rtmp://demo.live.example.com:1936',
      bucket: 'demo',
      channel,
      accessKeyId: 'AKID',
      accessKeySecret: 'SECRET',
      expires: Math.floor(Date.now() / 1000) + 600,
      params,
    });
    expect(ours).toBe(theirs);
  });
});
