import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { KEY } from './support/test-app.js';

// A new user's first run off the default ports: a gateway that cannot listen exits, the CLI
// finds the gateway's config or says how to, and every URL it prints works.
const MAIN = resolve('src/main.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface Run {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

/** `livechannel …` from `cwd`, with no LIVECHANNEL_* variable of this environment. */
function livechannel(args: string[], cwd: string, env: Record<string, string> = {}): Run {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LIVECHANNEL_')));
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  return { child, out: () => out, err: () => err, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

async function finished(run: Run): Promise<{ code: number | null; out: string; err: string }> {
  const code = await run.exited;
  return { code, out: run.out(), err: run.err() };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

const listening = (port: number) =>
  new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  });

/** A directory with a livechannel.json on other ports: private bucket "media" with the test key. */
async function gatewayDir(extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lc-first-'));
  const config = { http: { port: await freePort() }, rtmp: { port: await freePort() }, dataDir: './data', credentials: [KEY], buckets: [{ name: 'media' }], ...extra };
  writeFileSync(join(dir, 'livechannel.json'), JSON.stringify(config));
  return { dir, config, file: join(dir, 'livechannel.json') };
}

async function serve(dir: string, args: string[] = []): Promise<Run> {
  const run = livechannel(['serve', ...args], dir);
  await eventually(() => (run.out().includes('livechannel listening') ? true : run.child.exitCode !== null ? Promise.reject(new Error(run.err())) : undefined), 30_000, 'the gateway to start');
  return run;
}

describe('a gateway that cannot listen', () => {
  it('exits 1 with one line when its HTTP port is taken, touching nothing of the running one', async () => {
    const g = await gatewayDir();
    const first = await serve(g.dir);
    // a second gateway, same config (same node id) but another RTMP port
    const other = mkdtempSync(join(tmpdir(), 'lc-first-'));
    const rtmpPort = await freePort();
    writeFileSync(join(other, 'livechannel.json'), JSON.stringify({ ...g.config, rtmp: { port: rtmpPort }, dataDir: join(g.dir, 'data') }));
    const started = Date.now();
    const second = await finished(livechannel(['serve'], other));
    expect(second.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    const lines = second.err.split('\n').filter(Boolean);
    expect(lines).toEqual([`error: cannot listen for HTTP on 127.0.0.1:${g.config.http.port}: the address is already in use (another gateway or program listens there); stop it or set http.port in the config (LIVECHANNEL_HTTP_PORT)`]);
    expect(await listening(rtmpPort)).toBe(false);
    expect((await fetch(`http://127.0.0.1:${g.config.http.port}/readyz`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('exits 1 when its RTMP port is taken, and leaves its HTTP port closed', async () => {
    const g = await gatewayDir();
    const first = await serve(g.dir);
    const httpPort = await freePort();
    const second = await finished(livechannel(['serve'], g.dir, { LIVECHANNEL_HTTP_PORT: String(httpPort) }));
    expect(second.code).toBe(1);
    expect(second.err.trim()).toMatch(new RegExp(`^error: cannot listen for RTMP on 127\\.0\\.0\\.1:${g.config.rtmp.port}: the address is already in use .*rtmp\\.port`));
    expect(await listening(httpPort)).toBe(false);
    first.child.kill('SIGTERM');
    await first.exited;
  });

  it('with workers, stops every worker and exits 1 instead of restarting them', async () => {
    const g = await gatewayDir();
    const first = await serve(g.dir);
    const other = mkdtempSync(join(tmpdir(), 'lc-first-'));
    writeFileSync(join(other, 'livechannel.json'), JSON.stringify({ ...g.config, workers: 2, http: { port: await freePort() }, dataDir: join(other, 'data') }));
    const second = await finished(livechannel(['serve'], other));
    expect(second.code).toBe(1);
    expect(second.err.split('\n').filter((l) => l.startsWith('error: cannot listen for RTMP'))).toHaveLength(1);
    expect(second.err).not.toContain('starting it again');
    first.child.kill('SIGTERM');
    await first.exited;
  });
});

describe('the CLI on a gateway off the default ports', () => {
  it('finds ./livechannel.json as the gateway did, and its banner names the file and hints with it', async () => {
    const g = await gatewayDir({ credentials: [], buckets: [] });
    const gw = await serve(g.dir);
    expect(gw.out()).toContain('config: livechannel.json');
    expect(gw.out()).toContain('livechannel.json names no buckets or credentials: serving a demo bucket');
    expect(gw.out()).toContain('sign-url demo <channel> -c livechannel.json');
    expect(gw.out()).not.toContain('No config given');
    const created = await finished(livechannel(['channel', 'create', 'demo', 'found'], g.dir));
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  it('without a config says where it looked and how to point it elsewhere; an unchecked URL comes with a warning', async () => {
    const g = await gatewayDir();
    const gw = await serve(g.dir);
    const nowhere = mkdtempSync(join(tmpdir(), 'lc-first-'));
    const key = ['--access-key-id', KEY.accessKeyId, '--access-key-secret', KEY.accessKeySecret];
    const create = await finished(livechannel(['channel', 'create', 'media', 'x', ...key], nowhere));
    expect(create.code).toBe(1);
    expect(create.err).toContain('cannot reach the API');
    expect(create.err).toContain('no config was found');
    expect(create.err).toContain('-c <its config file>');
    const sign = await finished(livechannel(['sign-url', 'demo', 'x'], nowhere));
    expect(sign.out).toMatch(/^rtmp:\/\//);
    expect(sign.err).toMatch(/^warning: could not check "demo\/x" with the gateway at http:\/\/127\.0\.0\.1:8080/);
    expect(sign.err).toContain('-c <file>');
    // the same commands pointed at the gateway's config work, and warn about nothing
    const ok = await finished(livechannel(['channel', 'create', 'media', 'x', '-c', g.file], nowhere));
    expect(ok.code).toBe(0);
    const signed = await finished(livechannel(['sign-url', 'media', 'x', '-c', g.file], nowhere));
    expect(signed.err).toBe('');
    expect(signed.out).toContain(`:${g.config.rtmp.port}/live/x?`);
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  it('channel create on a private bucket prints signed URLs that ffmpeg and a plain GET accept', async () => {
    const g = await gatewayDir({ logLevel: 'info' });
    const gw = await serve(g.dir);
    const created = await finished(livechannel(['channel', 'create', 'media', 'show', '--frag-duration', '1'], g.dir));
    expect(created.code, created.err).toBe(0);
    const publish = /^publish: (\S+)/m.exec(created.out)![1]!;
    const play = /^play: +(\S+)/m.exec(created.out)![1]!;
    expect(publish).toContain('Signature=');
    expect(play).toContain('x-oss-process=hls%2Fsign');
    expect(created.out).toMatch(/\(signed, valid until \d{4}-/);
    const push = ffmpegPush(publish, await fixture('main.flv'), { realtime: false });
    expect(await push.exited, push.stderr()).toBe(0);
    const res = await eventually(async () => {
      const r = await fetch(play);
      return r.status === 200 ? r : undefined;
    }, 15_000, 'the signed playlist');
    const text = await res.text();
    expect(text).toContain('#EXTM3U');
    const segment = text.split('\n').find((l) => l.includes('.ts?'))!;
    expect((await fetch(new URL(segment, play))).status).toBe(200);

    // request lines are debug: at info the log has none of the fetches above
    const log = gw.out();
    expect(log).not.toMatch(/"msg":"(incoming request|request completed|request)"/);
    // each key once per line (remote came twice on RTMP lines)
    for (const line of log.split('\n').filter((l) => l.startsWith('{'))) expect(line.split('"remote":').length, line).toBeLessThanOrEqual(2);
    expect(log).toContain('publish started');
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  it('prints its version, and the console says where the key is and has an icon', async () => {
    const nowhere = mkdtempSync(join(tmpdir(), 'lc-first-'));
    const version = await finished(livechannel(['--version'], nowhere));
    expect(version.out.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
    const g = await gatewayDir({ credentials: [], buckets: [] });
    const gw = await serve(g.dir);
    const base = `http://127.0.0.1:${g.config.http.port}`;
    const info = (await (await fetch(`${base}/console/info.json`)).json()) as { demoCredentialsFile?: string };
    expect(info.demoCredentialsFile).toBe(join(g.dir, 'data', 'demo-credentials.json'));
    expect(await (await fetch(`${base}/console`)).text()).toContain('id="signin-help"');
    const icon = await fetch(`${base}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toContain('image/');
    gw.child.kill('SIGTERM');
    await gw.exited;
  });
});
