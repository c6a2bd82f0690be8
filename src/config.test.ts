import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from './config.js';

const dir = () => mkdtempSync(join(tmpdir(), 'lc-config-'));
const key = { accessKeyId: 'id1', accessKeySecret: 'secret1' };

describe('parseConfig', () => {
  it('turns RTMPS (1936) and HTTPS (8443) on with tls, lets either plain listener be turned off, and refuses what cannot work', () => {
    const d = dir();
    const base = { dataDir: d, credentials: [key], buckets: [{ name: 'media' }] };
    const c = parseConfig({ ...base, tls: { cert: 'fullchain.pem', key: 'privkey.pem' }, rtmp: false }, {}, '/etc/livechannel');
    expect(c).toMatchObject({
      tls: { cert: '/etc/livechannel/fullchain.pem', key: '/etc/livechannel/privkey.pem' },
      rtmps: { host: '127.0.0.1', port: 1936 },
      https: { host: '127.0.0.1', port: 8443 },
      rtmp: { enabled: false },
      http: { enabled: true, port: 8080 },
    });
    expect(parseConfig({ ...base, tls: { cert: 'a', key: 'b' }, https: false }).https).toBeUndefined();
    expect(parseConfig({ ...base, tls: { cert: 'a', key: 'b' } }, { LIVECHANNEL_RTMPS_PORT: '2000' }).rtmps).toEqual({ host: '127.0.0.1', port: 2000 });
    expect(() => parseConfig({ ...base, rtmps: { port: 1936 } })).toThrow('rtmps: needs "tls"');
    expect(() => parseConfig({ ...base, rtmp: false })).toThrow('rtmp: false needs rtmps');
    expect(() => parseConfig({ ...base, http: false, tls: { cert: 'a', key: 'b' }, https: false })).toThrow('http: false needs https');
  });

  it('fills the documented defaults', () => {
    const d = dir();
    const c = parseConfig({ dataDir: d, credentials: [key], buckets: [{ name: 'media' }] });
    expect(c).toMatchObject({
      http: { host: '127.0.0.1', port: 8080 },
      rtmp: { host: '127.0.0.1', port: 1935 },
      publicHost: '127.0.0.1',
      defaultBucket: 'media',
      buckets: [{ name: 'media', acl: 'private', storage: { type: 'fs', root: join(d, 'buckets', 'media') } }],
    });
    expect(c.demo).toBeUndefined();
  });

  it('makes a demo bucket and key when none are configured, and keeps the key across starts', () => {
    const d = dir();
    const first = parseConfig({ dataDir: d });
    expect(first.demo?.bucket).toBe('demo');
    expect(first.demo?.accessKeyId).toMatch(/^LTAI[0-9A-F]{20}$/);
    expect(first.credentials).toEqual([{ accessKeyId: first.demo!.accessKeyId, accessKeySecret: first.demo!.accessKeySecret }]);
    expect(parseConfig({ dataDir: d }).demo).toEqual(first.demo);
    expect(JSON.parse(readFileSync(join(d, 'demo-credentials.json'), 'utf8')).accessKeyId).toBe(first.demo!.accessKeyId);
  });

  it('applies environment overrides', () => {
    const c = parseConfig({ dataDir: dir(), credentials: [key], buckets: [{ name: 'media' }] }, {
      LIVECHANNEL_HTTP_PORT: '9000',
      LIVECHANNEL_PUBLIC_HOST: 'live.example.com',
      LIVECHANNEL_RTMP_HOST: '0.0.0.0',
    });
    expect([c.http.port, c.publicHost, c.rtmp.host]).toEqual([9000, 'live.example.com', '0.0.0.0']);
  });

  it.each([
    [{ http: { port: 70000 } }, /^http\.port: /],
    [{ http: { port: 'eighty' } }, /^http\.port: /],
    [{ buckets: [{ name: 'Bad_Name' }], credentials: [key] }, /^buckets\.0\.name: must be 3-63 lowercase/],
    [{ buckets: [{ name: 'media', acl: 'open' }], credentials: [key] }, /^buckets\.0\.acl: /],
    [{ buckets: [{ name: 'media' }] }, /^credentials: at least one access key/],
    [{ buckets: [{ name: 'media' }, { name: 'media' }], credentials: [key] }, /^buckets: bucket "media" is listed twice/],
    [{ buckets: [{ name: 'media' }], credentials: [key], defaultBucket: 'other' }, /^defaultBucket: "other" is not one of/],
    [{ credentials: [{ accessKeyId: 'x' }], buckets: [{ name: 'media' }] }, /^credentials\.0\.accessKeySecret: /],
    [{ httpPort: 8080 }, /Unrecognized key.*httpPort/],
  ])('names the field in the error for %j', (input, message) => {
    expect(() => parseConfig({ dataDir: dir(), ...input })).toThrow(message);
  });

  it('refuses a non-integer port from the environment', () => {
    expect(() => parseConfig({ dataDir: dir() }, { LIVECHANNEL_HTTP_PORT: 'x' })).toThrow(/LIVECHANNEL_HTTP_PORT: must be an integer/);
  });
});

describe('loadConfig', () => {
  it('reads a JSON file and resolves paths against its folder', () => {
    const d = dir();
    const file = join(d, 'livechannel.json');
    writeFileSync(file, JSON.stringify({ dataDir: 'state', credentials: [key], buckets: [{ name: 'media', storage: { type: 'fs', root: 'media-files' } }] }));
    const c = loadConfig(file, {});
    expect(c.dataDir).toBe(join(d, 'state'));
    expect(c.buckets[0]!.storage).toEqual({ type: 'fs', root: join(d, 'media-files') });
  });

  it('reports unreadable files and bad JSON clearly', () => {
    expect(() => loadConfig('/no/such/file.json', {})).toThrow(ConfigError);
    const file = join(dir(), 'bad.json');
    writeFileSync(file, '{ "http": ');
    expect(() => loadConfig(file, {})).toThrow(/is not valid JSON/);
  });
});

describe('oss storage config', () => {
  const oss = { type: 'oss', endpoint: 'https://oss-cn-hangzhou.aliyuncs.com', bucket: 'my-media', accessKeyId: 'a', accessKeySecret: 'b' };

  it('accepts an OSS bucket with prefix, STS token and CDN', () => {
    const c = parseConfig({ dataDir: dir(), credentials: [key], buckets: [{ name: 'media', storage: { ...oss, prefix: 'live/', stsToken: 't', cdnBaseUrl: 'https://cdn.example.com' } }] });
    expect(c.buckets[0]!.storage).toMatchObject({ type: 'oss', bucket: 'my-media', prefix: 'live/', cdnBaseUrl: 'https://cdn.example.com' });
    expect(c.upload).toEqual({ maxQueuedBytesPerChannel: 32 * 1024 * 1024, concurrency: 16, retryBaseMs: 200, retryMaxMs: 5000, finishTimeoutMs: 30_000 });
  });

  it.each([
    [{ ...oss, endpoint: 'oss-cn-hangzhou.aliyuncs.com' }, /storage\.endpoint: must be http\(s\):\/\/host/],
    [{ ...oss, prefix: '/live/' }, /storage\.prefix: must be empty or end with/],
    [{ ...oss, accessKeySecret: undefined }, /storage\.accessKeySecret/],
    [{ ...oss, cdnBaseUrl: 'https://cdn.example.com/' }, /storage\.cdnBaseUrl: must be an http\(s\) URL without a trailing/],
  ])('names the bad field in %j', (storage, message) => {
    expect(() => parseConfig({ dataDir: dir(), credentials: [key], buckets: [{ name: 'media', storage }] })).toThrow(message);
  });
});

describe('catalog and cluster config', () => {
  const base = () => ({ dataDir: dir(), credentials: [key], buckets: [{ name: 'media' }] });

  it('defaults to the embedded SQLite catalog and 10 s leases', () => {
    const c = parseConfig(base());
    expect(c.catalog).toEqual({ type: 'sqlite' });
    expect(c.cluster).toEqual({ leaseTtlMs: 10_000, leaseRenewMs: 2_000, stopPollMs: 500, peerHost: '127.0.0.1', peerPort: 0 });
    expect(c.nodeId).toBeUndefined();
  });

  it('takes a PostgreSQL catalog from the file or from LIVECHANNEL_DATABASE_URL, and the node id from LIVECHANNEL_NODE_ID', () => {
    const fromFile = parseConfig({ ...base(), catalog: { type: 'postgres', url: 'postgres://u@db:5432/live' } });
    expect(fromFile.catalog).toEqual({ type: 'postgres', url: 'postgres://u@db:5432/live', poolSize: 10 });
    const fromEnv = parseConfig(base(), { LIVECHANNEL_DATABASE_URL: 'postgresql://u@db/x', LIVECHANNEL_NODE_ID: 'gw-2' });
    expect(fromEnv.catalog).toEqual({ type: 'postgres', url: 'postgresql://u@db/x', poolSize: 10 });
    expect(fromEnv.nodeId).toBe('gw-2');
  });

  it('refuses a bad database URL and a renewal too slow for its lease', () => {
    expect(() => parseConfig({ ...base(), catalog: { type: 'postgres', url: 'mysql://x' } })).toThrow(/^catalog\.url: must be postgres:\/\//);
    expect(() => parseConfig({ ...base(), cluster: { leaseTtlMs: 3000, leaseRenewMs: 2000 } })).toThrow(/leaseRenewMs must be at most a third of leaseTtlMs/);
  });

  it('reads the publish hook with its defaults, and refuses one slower than the publish timeout or not http(s)', () => {
    expect(parseConfig({ ...base(), publishHook: { url: 'http://app.example/on_publish' } }).publishHook).toEqual({ url: 'http://app.example/on_publish', timeoutMs: 3000, onError: 'deny' });
    expect(parseConfig(base()).publishHook).toBeUndefined();
    expect(() => parseConfig({ ...base(), publishHook: { url: 'http://app.example/x', timeoutMs: 10_000 } })).toThrow(/^publishHook\.timeoutMs: must be below limits\.rtmpPublishTimeoutMs/);
    expect(() => parseConfig({ ...base(), publishHook: { url: 'ftp://app.example/x' } })).toThrow(/^publishHook\.url/);
    // the signature covers the decoded path: a stray % would fail every request at run time
    expect(() => parseConfig({ ...base(), publishHook: { url: 'http://app.example/100%' } })).toThrow(/^publishHook\.url: its path has a '%' that does not start a %XX escape/);
    expect(() => parseConfig({ ...base(), notifications: [{ url: 'http://app.example/a%zz' }] })).toThrow(/^notifications\.0\.url: its path has a '%'/);
    expect(parseConfig({ ...base(), notifications: [{ url: 'http://app.example/a%20b' }] }).notifications[0]!.url).toBe('http://app.example/a%20b');
  });
});
