import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { hmacSha1, pushStringToSign } from '../src/auth/oss-signature.js';
import { buildProgram } from '../src/cli.js';
import { loadConfig } from '../src/config.js';

interface Running {
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
  waitFor: (re: RegExp) => Promise<RegExpExecArray>;
}

function livechannel(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    output: () => out,
    exited,
    kill: (s) => child.kill(s),
    waitFor: async (re) => {
      for (let i = 0; i < 300; i++) {
        const m = re.exec(out);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`did not see ${re} in:\n${out}`);
    },
  };
}

/** What a command printed, less its warnings. */
const printed = (p: Running) =>
  p
    .output()
    .split('\n')
    .filter((l) => l && !l.startsWith('warning:'))
    .join('\n');

describe('livechannel serve', () => {
  it('starts with no config, prints a demo key that works with ali-oss, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-serve-'));
    const p = livechannel(['serve'], { LIVECHANNEL_DATA_DIR: dataDir, LIVECHANNEL_HTTP_PORT: '0', LIVECHANNEL_LOG_LEVEL: 'warn' });
    const [, port] = await p.waitFor(/API http:\/\/127\.0\.0\.1:(\d+)/);
    const [, id] = await p.waitFor(/AccessKeyId: +(\S+)/);
    const [, secret] = await p.waitFor(/AccessKeySecret: +(\S+)/);
    expect(p.output()).toContain('bucket:          demo');
    const client = new OSS({ accessKeyId: id!, accessKeySecret: secret!, bucket: 'demo', endpoint: `http://127.0.0.1:${port}` });
    const put = await client.putChannel('first', { Target: { Type: 'HLS' } } as never);
    expect(put.res.status).toBe(200);
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('exits non-zero with one message naming the bad field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-serve-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ dataDir: dir, http: { port: 99999 } }));
    const p = livechannel(['serve', '--config', file]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/^config error: http\.port: /m);
  });
});

describe('livechannel sign-url', () => {
  it('prints a push URL whose signature verifies with the configured secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-sign-'));
    const file = join(dir, 'cfg.json');
    const key = { accessKeyId: 'LTAI-SIGN', accessKeySecret: 's3cr3t' };
    writeFileSync(file, JSON.stringify({ dataDir: dir, publicHost: 'live.example.com', rtmp: { port: 1936 }, credentials: [key], buckets: [{ name: 'media' }] }));
    const p = livechannel(['sign-url', 'media', 'my show', '--config', file, '--expires', '600', '--playlist-name', 'hi.m3u8']);
    expect(await p.exited).toBe(0);
    // no gateway runs at the config's address: the URL comes with a warning (on stderr) saying so
    expect(p.output()).toMatch(/^warning: could not check "media\/my show"/m);
    const url = new URL(printed(p));
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe('rtmp://media.live.example.com:1936/live/my%20show');
    const expires = url.searchParams.get('Expires')!;
    expect(Number(expires) - Date.now() / 1000).toBeGreaterThan(590);
    expect(url.searchParams.get('OSSAccessKeyId')).toBe('LTAI-SIGN');
    expect(url.searchParams.get('playlistName')).toBe('hi.m3u8');
    const expected = hmacSha1(key.accessKeySecret, pushStringToSign('media', 'my show', expires, [['playlistName', 'hi.m3u8']]));
    expect(url.searchParams.get('Signature')).toBe(expected);
  });

  it("prints OBS's Server and Stream Key fields with --obs", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-sign-'));
    const file = join(dir, 'cfg.json');
    const key = { accessKeyId: 'LTAI-OBS', accessKeySecret: '0b5' };
    writeFileSync(file, JSON.stringify({ dataDir: dir, publicHost: 'live.example.com', credentials: [key], buckets: [{ name: 'media' }] }));
    const p = livechannel(['sign-url', 'media', 'show', '--config', file, '--obs']);
    expect(await p.exited).toBe(0);
    const [, server, streamKey] = /^Server: +(\S+)\nStream Key: (\S+)$/.exec(printed(p))!;
    expect(server).toBe('rtmp://media.live.example.com/live');
    const query = new URLSearchParams(streamKey!.slice('show?'.length));
    expect(streamKey).toMatch(/^show\?OSSAccessKeyId=LTAI-OBS&Expires=\d+&Signature=/);
    const expected = hmacSha1(key.accessKeySecret, pushStringToSign('media', 'show', query.get('Expires')!, []));
    expect(query.get('Signature')).toBe(expected);
  });

  it('prints rtmps:// URLs (and their OBS fields) with --rtmps, and https:// play URLs with --https', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-sign-'));
    const file = join(dir, 'cfg.json');
    const key = { accessKeyId: 'LTAI-TLS', accessKeySecret: 'tls' };
    writeFileSync(file, JSON.stringify({ dataDir: dir, publicHost: 'live.example.com', tls: { cert: 'c.pem', key: 'k.pem' }, credentials: [key], buckets: [{ name: 'media' }] }));
    const obs = livechannel(['sign-url', 'media', 'show', '--config', file, '--rtmps', '--obs']);
    expect(await obs.exited).toBe(0);
    expect(printed(obs)).toMatch(/^Server: +rtmps:\/\/media\.live\.example\.com:1936\/live\nStream Key: show\?OSSAccessKeyId=LTAI-TLS&Expires=\d+&Signature=/);
    const play = livechannel(['play-url', 'media', 'show', '--config', file, '--https']);
    expect(await play.exited).toBe(0);
    expect(printed(play)).toMatch(/^https:\/\/media\.live\.example\.com:8443\/show\/playlist\.m3u8\?x-oss-process=hls%2Fsign&/);
    writeFileSync(file.replace('cfg.json', 'plain.json'), JSON.stringify({ dataDir: dir, credentials: [key], buckets: [{ name: 'media' }] }));
    const off = livechannel(['sign-url', 'media', 'show', '--config', file.replace('cfg.json', 'plain.json'), '--rtmps']);
    expect(await off.exited).toBe(1);
    expect(off.output()).toContain('error: RTMPS is off: set "tls" (and "rtmps") in the config');
  });

  it('refuses an unknown bucket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-sign-'));
    const p = livechannel(['sign-url', 'nope', 'ch'], { LIVECHANNEL_DATA_DIR: dir });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('config error: bucket "nope" is not configured');
  });
});

describe('livechannel play-url', () => {
  // Run in-process (commander, same code path); spawning is covered by the tests above.
  it('prints a signed hls/sign playlist URL that plays a private channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-play-'));
    const file = join(dir, 'cfg.json');
    const key = { accessKeyId: 'LTAI-PLAY', accessKeySecret: 'pl4y' };
    writeFileSync(file, JSON.stringify({ dataDir: dir, http: { port: 0 }, rtmp: { port: 0 }, logLevel: 'silent', credentials: [key], buckets: [{ name: 'media' }] }));
    const t0 = Date.now();
    // Timed steps: this test once stalled for 60 s under full-suite load; the log shows where.
    const step = (name: string) => console.error(`play-url step ${name} at ${Date.now() - t0} ms`);
    const app = createApp(loadConfig(file, {}));
    await app.start();
    step('started');
    try {
      await app.storeFor('media').put('show/playlist.m3u8', '#EXTM3U\n#EXTINF:2.000,\nplaylist0.ts\n#EXT-X-ENDLIST\n');
      await app.storeFor('media').put('show/playlist0.ts', 'segment');
      step('objects written');
      const printed: string[] = [];
      const log = console.log;
      console.log = (line: string) => void printed.push(line);
      try {
        await buildProgram().parseAsync(['node', 'livechannel', 'play-url', 'media', 'show', '--config', file]);
      } finally {
        console.log = log;
      }
      step('command ran');
      const url = new URL(printed.join('\n').trim());
      expect(url.pathname).toBe('/media/show/playlist.m3u8');
      expect(url.searchParams.get('x-oss-process')).toBe('hls/sign');
      const res = await fetch(`http://127.0.0.1:${app.httpPort()}${url.pathname}${url.search}`);
      expect(res.status).toBe(200);
      const segmentUri = (await res.text()).split('\n').find((l) => l.startsWith('playlist0.ts?'))!;
      step('playlist fetched');
      const seg = await fetch(`http://127.0.0.1:${app.httpPort()}/media/show/${segmentUri}`);
      expect(await seg.text()).toBe('segment');
      step('segment fetched');
    } finally {
      await app.stop();
      step('stopped');
    }
  });
});
