import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, renameSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { signPushUrl } from '../src/auth/push-url.js';
import { signPlayUrl } from '../src/auth/play-url.js';
import { launchBrowser } from './support/browser.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { playWithHlsJs, unexpectedErrors, waitForPlayer } from './support/hls-page.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startServerProcess, writeGatewayConfig, type ServerProcess } from './support/server-process.js';
import { makeCa, makeServerCert, servedSerial, type TestCa } from './support/test-ca.js';
import { KEY } from './support/test-app.js';

// RTMPS and HTTPS, with a CA and certificates the test makes with openssl; the gateway runs as
// a process of its own so that it can be sent SIGHUP.
const run = promisify(execFile);
let ca: TestCa;
let dir: string;
let gw: ServerProcess;
let ports: { http: number; rtmp: number; https: number; rtmps: number };
let main: string;
let browser: Browser | undefined;

/** Puts `name`'s certificate and key where the config points (renamed into place, as certbot does). */
function install(name: string, certFrom = name, keyFrom = name) {
  copyFileSync(join(dir, `${certFrom}.pem`), join(dir, 'live.pem.tmp'));
  copyFileSync(join(dir, `${keyFrom}.key`), join(dir, 'live.key.tmp'));
  renameSync(join(dir, 'live.key.tmp'), join(dir, 'live.key'));
  renameSync(join(dir, 'live.pem.tmp'), join(dir, 'live.pem'));
}

beforeAll(async () => {
  main = await fixture('main.flv');
  ca = makeCa();
  const config = writeGatewayConfig({
    logLevel: 'info',
    buckets: [{ name: 'media' }, { name: 'open', acl: 'public-read-write' }],
    defaultBucket: 'media',
    tls: { cert: 'live.pem', key: 'live.key' },
    rtmps: { port: 0 },
    https: { port: 0 },
  });
  dir = config.dir;
  for (const [name, serial] of [['first', '1001'], ['second', '1002'], ['third', '1003']] as const) makeServerCert(ca, dir, name, serial);
  install('first');
  gw = await startServerProcess(config.configFile);
  const banner = gw.output();
  ports = {
    http: gw.httpPort,
    rtmp: gw.rtmpPort,
    https: Number(/HTTPS https:\/\/[^:]+:(\d+)/.exec(banner)![1]),
    rtmps: Number(/RTMPS rtmps:\/\/[^:]+:(\d+)/.exec(banner)![1]),
  };
}, 120_000);
afterAll(async () => {
  await browser?.close();
  gw?.signal('SIGKILL');
});

const signed = (scheme: 'rtmp' | 'rtmps', channel: string, secret = KEY.accessKeySecret, expires = Math.floor(Date.now() / 1000) + 3600) =>
  signPushUrl({ base: `${scheme}://127.0.0.1:${scheme === 'rtmps' ? ports.rtmps : ports.rtmp}`, bucket: 'media', channel, accessKeyId: KEY.accessKeyId, accessKeySecret: secret, expires });

/** ali-oss over HTTPS in its own process, trusting the test CA through NODE_EXTRA_CA_CERTS only. */
async function aliOssOverHttps(bucket: string, channel: string) {
  const { stdout } = await run(process.execPath, ['test/support/alioss-https.mjs', `https://localhost:${ports.https}`, bucket, channel], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.certFile, KEY_ID: KEY.accessKeyId, KEY_SECRET: KEY.accessKeySecret },
  });
  return JSON.parse(stdout) as { status: number; publishUrls: string[]; description: string };
}

describe('RTMPS ingest and HTTPS', () => {
  it('ali-oss creates a channel over HTTPS; ffmpeg pushes over rtmps://; the segments decode', async () => {
    const made = await aliOssOverHttps('media', 'secure');
    expect(made).toMatchObject({ status: 200, description: 'over https' });
    // PutLiveChannel answers as OSS does: rtmp:// publish URLs
    expect(made.publishUrls[0]).toMatch(/^rtmp:\/\//);
    const push = ffmpegPush(signed('rtmps', 'secure'), main, { realtime: false });
    expect(await push.exited, push.stderr()).toBe(0);
    const stored = join(dir, 'data', 'buckets', 'media', 'secure');
    const segments = await eventually(() => {
      const ts = existsSync(stored) ? readdirSync(stored).filter((f) => f.endsWith('.ts')) : [];
      return ts.length >= 5 ? ts : undefined;
    }, 15_000, 'the segments stored');
    for (const s of segments) expect(await ffmpegWarnings(join(stored, s)), s).toBe('');
  });

  it('refuses a wrong signature over rtmps with the same words as over rtmp', async () => {
    // the same URL but for the scheme and port: the refusal names what was signed, Expires included
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const over = async (scheme: 'rtmp' | 'rtmps') => {
      const p = ffmpegPush(signed(scheme, 'secure', 'not-the-secret', expires), main, { realtime: false });
      expect(await p.exited).not.toBe(0);
      return /Server error: .*/.exec(p.stderr())?.[0];
    };
    const plain = await over('rtmp');
    expect(plain).toMatch(/Server error: .*signature/i);
    expect(await over('rtmps')).toBe(plain);
  });

  it('plays a private channel through hls/sign over HTTPS in hls.js', async () => {
    browser = await launchBrowser();
    // Chromium is told to accept this test's certificate; everything else is as a viewer's
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const origin = `https://127.0.0.1:${ports.https}`;
    const url = signPlayUrl({ url: `${origin}/media/secure/playlist.m3u8`, bucket: 'media', objectKey: 'secure/playlist.m3u8', ...KEY, expires: Math.floor(Date.now() / 1000) + 600 });
    const read = await playWithHlsJs(page, origin, url, 4);
    // the ended live playlist holds its last three 2 s segments
    const state = await waitForPlayer(read, (s) => s.ended, 60_000);
    expect(unexpectedErrors(state)).toEqual([]);
    expect(state.currentTime).toBeGreaterThan(4);
    await context.close();
  }, 90_000);

  it('will not start with a certificate and a key that do not belong together: one line, exit 1', async () => {
    const bad = writeGatewayConfig({ tls: { cert: join(dir, 'first.pem'), key: join(dir, 'second.key') } });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', bad.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim()).toBe(`error: the key in ${join(dir, 'second.key')} does not belong to the certificate in ${join(dir, 'first.pem')}`);
  });

  it('closes a TLS handshake on the plain RTMP port and plain RTMP on the RTMPS port, and keeps serving', async () => {
    const tlsOnPlain = await new Promise<string>((resolve) => {
      const s = tlsConnect({ port: ports.rtmp, host: '127.0.0.1', rejectUnauthorized: false });
      s.once('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      s.once('secureConnect', () => resolve('handshake finished'));
      s.once('close', () => resolve('closed'));
    });
    expect(tlsOnPlain).not.toBe('handshake finished');
    const plainOnTls = await new Promise<string>((resolve) => {
      const s = tcpConnect(ports.rtmps, '127.0.0.1', () => s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])));
      s.on('data', () => {});
      s.once('error', () => resolve('error'));
      s.once('close', () => resolve('closed'));
    });
    expect(plainOnTls).toMatch(/closed|error/);
    await eventually(() => (gw.output().includes('a TLS handshake on the plain RTMP port') && gw.output().includes('not a TLS handshake on the RTMPS port') ? true : undefined), 5000, 'both logged');
    expect((await fetch(`http://127.0.0.1:${ports.http}/healthz`)).status).toBe(200);
  });

  it('serves a renewed certificate to new connections after SIGHUP, without dropping a live push; keeps the old one when the new pair is broken', async () => {
    expect(servedSerial(ports.rtmps)).toBe('1001');
    const metrics = async () => Number(/^livechannel_tls_certificate_expiry_seconds ([\d.e+]+)$/m.exec(await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text())?.[1]);
    const expiry1 = await metrics();
    expect(expiry1 * 1000).toBeGreaterThan(Date.now());
    await aliOssOverHttps('media', 'renew');
    const push = ffmpegPush(signed('rtmps', 'renew'), main, { loopSeconds: 14 });
    await eventually(() => (existsSync(join(dir, 'data', 'buckets', 'media', 'renew', 'playlist0.ts')) ? true : undefined), 15_000, 'the push to start');

    install('second');
    gw.signal('SIGHUP');
    await eventually(() => (servedSerial(ports.rtmps) === '1002' ? true : undefined), 10_000, 'serial 1002 on a new RTMPS connection');
    expect(servedSerial(ports.https)).toBe('1002');
    await eventually(() => (gw.output().includes('TLS certificate reloaded') ? true : undefined), 5000, 'the reload logged');

    // a key that is not the certificate's: the old pair stays
    install('third', 'third', 'second');
    gw.signal('SIGHUP');
    await eventually(() => (gw.output().includes('TLS certificate not reloaded') ? true : undefined), 10_000, 'the refusal logged');
    expect(gw.output()).toMatch(/does not belong to the certificate/);
    expect(servedSerial(ports.rtmps)).toBe('1002');

    // a changed file alone is enough (certbot's deploy without a hook): no signal
    install('third');
    await eventually(() => (servedSerial(ports.rtmps) === '1003' ? true : undefined), 15_000, 'serial 1003 after the files changed');

    expect(await push.exited, push.stderr()).toBe(0);
    const history = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    expect(history).toMatch(/livechannel_tls_certificate_expiry_seconds/);
    // one push, never dropped: one history record, ended by the publisher
    const records = await aliOssHistory('renew');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatch(/unpublished|disconnected/);
  }, 120_000);
});

/** The end reasons of a channel's pushes (GetLiveChannelHistory, through the CLI over plain HTTP). */
async function aliOssHistory(channel: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'channel', 'history', 'media', channel, '--json', '--endpoint', `http://127.0.0.1:${ports.http}`, '--access-key-id', KEY.accessKeyId, '--access-key-secret', KEY.accessKeySecret]);
  return (JSON.parse(stdout) as { EndReason?: string }[]).map((r) => r.EndReason ?? 'open');
}
