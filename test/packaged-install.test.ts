import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { KEY } from './support/test-app.js';

// The gateway as a user installs it: `npm pack`, then `npm install -g` of the tarball with
// production dependencies only, into a prefix that never saw this repository; then serve, the
// channel commands and a real ffmpeg push, all through the installed `livechannel` command.
const run = promisify(execFile);
const repo = resolve('.');
let work: string;
let tarball: string;
let prefix: string;
let livechannel: string;
let server: ChildProcess | undefined;

/** A port free right now (the config needs fixed ports so that the CLI finds the gateway). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const cli = (args: string[], cwd = work) => run(livechannel, args, { cwd, env: { ...process.env, LIVECHANNEL_CONFIG: '' }, timeout: 60_000 });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lc-pack-'));
  // pack from a copy, so that the build `npm pack` runs does not rewrite the dist/ that other tests run
  const stage = join(work, 'stage');
  mkdirSync(stage);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'bin', 'console', 'deploy', 'scripts']) cpSync(join(repo, f), join(stage, f), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(stage, 'node_modules'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: stage, timeout: 180_000 });
  tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  prefix = join(work, 'prefix');
  // production dependencies only; better-sqlite3 may compile from source (~2 min)
  await run('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work, timeout: 540_000 });
  livechannel = join(prefix, 'bin', 'livechannel');
}, 600_000);

afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('the packed, globally installed package', () => {
  it('holds what running needs and nothing of the repository besides', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    for (const f of ['package/dist/main.js', 'package/dist/cli.js', 'package/bin/livechannel.js', 'package/console/index.html', 'package/README.md', 'package/LICENSE', 'package/deploy/livechannel.service']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^package\/(src|test|fixtures|scripts)\/|\.test\.js$/.test(f))).toEqual([]);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'livechannel', 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'livechannel', 'node_modules', 'ali-oss'))).toBe(true);
  });

  it('prints --help and --version', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toContain('serve');
    expect(help.stdout).toContain('channel');
    const version = await cli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('serves, creates a channel with the CLI, takes a real ffmpeg push and stores its segments', async () => {
    const httpPort = await freePort();
    const rtmpPort = await freePort();
    const configFile = join(work, 'livechannel.json');
    writeFileSync(
      configFile,
      JSON.stringify({ http: { port: httpPort }, rtmp: { port: rtmpPort }, dataDir: './data', credentials: [KEY], buckets: [{ name: 'media' }], logLevel: 'warn' }),
    );
    server = spawn(livechannel, ['serve', '--config', configFile], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout!.on('data', (c) => (out += c));
    server.stderr!.on('data', (c) => (out += c));
    await eventually(() => (out.includes('livechannel listening') ? true : undefined), 30_000, `the installed gateway to start:\n${out}`);

    const created = await cli(['channel', 'create', 'media', 'show', '--frag-duration', '2', '-c', configFile]);
    expect(created.stdout).toContain('created media/show');
    const { stdout: url } = await cli(['sign-url', 'media', 'show', '-c', configFile]);
    const push = ffmpegPush(url.trim(), await fixture('main.flv'), { loopSeconds: 10 });
    expect(await push.exited, push.stderr()).toBe(0);

    const stored = join(work, 'data', 'buckets', 'media', 'show');
    const segments = await eventually(() => {
      const ts = existsSync(stored) ? readdirSync(stored).filter((f) => f.endsWith('.ts')) : [];
      return ts.length >= 4 ? ts : undefined;
    }, 20_000, 'segments stored');
    expect(segments.length).toBeGreaterThanOrEqual(4);
    expect(await ffmpegWarnings(join(stored, segments[1]!))).toBe('');
    const stat = await cli(['channel', 'history', 'media', 'show', '--json', '-c', configFile]);
    expect(stat.stdout).toContain('EndTime');
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
  }, 120_000);
});
