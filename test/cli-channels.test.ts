import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

// `livechannel channel …` and `sign-url` in their own processes, against a running gateway.
const run = promisify(execFile);
let t: TestApp;
let configFile: string;
const pushes: PushProcess[] = [];

beforeAll(async () => {
  t = await startTestApp();
  const dir = mkdtempSync(join(tmpdir(), 'lc-cli-'));
  configFile = join(dir, 'livechannel.json');
  // what an operator's config says of this gateway: its ports and keys
  writeFileSync(
    configFile,
    JSON.stringify({ dataDir: dir, http: { port: t.app.httpPort() }, rtmp: { port: t.app.rtmpPort() }, credentials: [KEY], buckets: [{ name: 'media' }, { name: 'open' }] }),
  );
});
afterAll(async () => {
  for (const p of pushes) p.kill();
  await t.close();
});

async function livechannel(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: ownEnv });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
// the caller's LIVECHANNEL_ENDPOINT and keys must not stand in for the flags under test
const ownEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^LIVECHANNEL_(ENDPOINT|ACCESS_KEY_ID|ACCESS_KEY_SECRET)$/.test(k)));
const withConfig = (...args: string[]) => livechannel(...args, '--config', configFile);

describe('livechannel channel', () => {
  it('creates, lists, shows, pushes to sign-url, stats, histories, makes a VOD, disables and deletes', async () => {
    const created = await withConfig('channel', 'create', 'media', 'show', '--frag-duration', '1', '--frag-count', '4', '--description', 'late night');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toContain('created media/show');
    expect(created.stdout).toMatch(/play: +http:\/\/127\.0\.0\.1:\d+\/media\/show\/playlist\.m3u8/);

    const list = await withConfig('channel', 'list', 'media');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME +STATUS +LAST MODIFIED +DESCRIPTION$/);
    expect(list.stdout).toMatch(/^show +enabled +\d{4}-\d\d-\d\dT[\d:.]+Z +late night$/m);
    const json = JSON.parse((await withConfig('channel', 'list', 'media', '--json', '--prefix', 'sh')).stdout) as { Name: string }[];
    expect(json.map((c) => c.Name)).toEqual(['show']);
    expect(JSON.parse((await withConfig('channel', 'list', 'media', '--json', '--prefix', 'zz')).stdout)).toEqual([]);

    const info = await withConfig('channel', 'info', 'media', 'show');
    expect(info.stdout).toMatch(/^fragDuration +1$/m);
    expect(info.stdout).toMatch(/^fragCount +4$/m);
    expect(JSON.parse((await withConfig('channel', 'info', 'media', 'show', '--json')).stdout)).toMatchObject({ Status: 'enabled', Target: { FragCount: '4' } });
    expect((await withConfig('channel', 'stat', 'media', 'show')).stdout.trim()).toBe('Idle');

    // the URL sign-url prints is one ffmpeg can push to
    const signed = await withConfig('sign-url', 'media', 'show');
    expect(signed.code).toBe(0);
    const push = ffmpegPush(signed.stdout.trim(), await fixture('main.flv'));
    pushes.push(push);
    const live = await eventually(async () => {
      const r = await withConfig('channel', 'stat', 'media', 'show');
      return r.stdout.startsWith('Live') ? r.stdout : undefined;
    }, 20_000, 'Live');
    expect(live).toMatch(/^Live since \S+ from 127\.0\.0\.1:\d+\nvideo: H264 \d+x\d+ [\d.]+ fps, \d+ B\/s\naudio: AAC \d+ Hz, \d+ B\/s/);
    expect(await push.exited).toBe(0);

    const history = await eventually(async () => {
      const r = await withConfig('channel', 'history', 'media', 'show');
      return /^\S+Z +\S+Z +127\.0\.0\.1:\d+ +\w+$/m.test(r.stdout) ? r.stdout : undefined;
    }, 10_000, 'a closed push in the history');
    expect(history.split('\n')[0]).toMatch(/^START +END +REMOTE +REASON$/);

    const vod = await withConfig('channel', 'vod', 'media', 'show', '--from', '-10m', '--to', 'now', '--name', 'tonight.m3u8', '--json');
    expect(vod).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(vod.stdout)).toMatchObject({ key: 'show/tonight.m3u8' });
    // and it plays, through the signed URL play-url prints for a private bucket
    const play = await withConfig('play-url', 'media', 'show', '--playlist-name', 'tonight.m3u8');
    expect(await ffmpegWarnings(play.stdout.trim())).toBe('');

    expect(await withConfig('channel', 'disable', 'media', 'show')).toMatchObject({ code: 0, stdout: 'media/show disabled\n' });
    expect(JSON.parse((await withConfig('channel', 'info', 'media', 'show', '--json')).stdout).Status).toBe('disabled');
    expect(await withConfig('channel', 'enable', 'media', 'show')).toMatchObject({ code: 0, stdout: 'media/show enabled\n' });
    expect(await withConfig('channel', 'delete', 'media', 'show')).toMatchObject({ code: 0, stdout: 'deleted media/show\n' });
    expect((await withConfig('channel', 'list', 'media')).stdout.trim()).toBe('no channels');
  }, 90_000);

  it('drives another gateway as it would drive OSS: endpoint and key from flags, no config', async () => {
    const remote = await startTestApp();
    try {
      const flags = ['--endpoint', remote.endpoint, '--access-key-id', KEY.accessKeyId, '--access-key-secret', KEY.accessKeySecret];
      const cli = (...args: string[]) => livechannel(...args, ...flags);
      expect(await cli('channel', 'create', 'media', 'remote', '--frag-duration', '1')).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse((await cli('channel', 'list', 'media', '--json')).stdout).map((c: { Name: string }) => c.Name)).toEqual(['remote']);
      const url = remote.client('media').getRtmpUrl('remote', { expires: 600 }).replace(/^rtmp:\/\/[^/]+/, remote.rtmpBase);
      const push = ffmpegPush(url, await fixture('main.flv'));
      pushes.push(push);
      await eventually(async () => ((await cli('channel', 'stat', 'media', 'remote', '--json')).stdout.includes('"Live"') ? true : undefined), 20_000, 'Live');
      expect(await push.exited).toBe(0);
      const history = await eventually(async () => {
        const rows = JSON.parse((await cli('channel', 'history', 'media', 'remote', '--json')).stdout) as { EndTime?: string }[];
        return rows.length === 1 && rows[0]!.EndTime ? rows : undefined;
      }, 10_000, 'the push in the history');
      expect(history).toHaveLength(1);
      expect((await cli('channel', 'vod', 'media', 'remote', '--from', '-10m', '--to', 'now')).code).toBe(0);
      expect(await remote.app.storeFor('media').head('remote/vod.m3u8')).toBeDefined();
      expect((await cli('channel', 'disable', 'media', 'remote')).code).toBe(0);
      expect((await cli('channel', 'delete', 'media', 'remote')).code).toBe(0);
      expect(await remote.app.catalog.getChannel('media', 'remote')).toBeUndefined();
    } finally {
      await remote.close();
    }
  }, 60_000);

  it('creates an LL-HLS fMP4 channel, and passes on what the gateway says of a bad option', async () => {
    const created = await withConfig('channel', 'create', 'media', 'low', '--frag-duration', '2', '--segment-format', 'fMP4', '--part-duration', '0.5');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const info = await withConfig('channel', 'info', 'media', 'low');
    expect(info.stdout).toMatch(/^segmentFormat +fMP4$/m);
    expect(info.stdout).toMatch(/^partDuration +0\.5$/m);
    const bad = await withConfig('channel', 'create', 'media', 'low2', '--part-duration', '0.5');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('InvalidArgument');
    expect(bad.stderr).toContain('PartDuration (LL-HLS) needs <SegmentFormat>fMP4</SegmentFormat>');
  });

  it('prints the OSS error code and message and exits non-zero', async () => {
    const missing = await withConfig('channel', 'info', 'media', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error: NoSuchLiveChannel: The specified live channel does not exist. (HTTP 404)');
    const vod = await withConfig('channel', 'vod', 'media', 'nope', '--from', 'yesterday', '--to', 'now');
    expect(vod.code).not.toBe(0);
    expect(vod.stderr).toContain('expected an ISO time');
    const wrongKey = await livechannel('channel', 'list', 'media', '--endpoint', t.endpoint, '--access-key-id', KEY.accessKeyId, '--access-key-secret', 'wrong');
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^error: SignatureDoesNotMatch: .* \(HTTP 403\)$/m);
    const down = await livechannel('channel', 'list', 'media', '--endpoint', 'http://127.0.0.1:1', '--access-key-id', 'a', '--access-key-secret', 'b');
    expect(down.code).toBe(1);
    const [line, hint] = down.stderr.trim().split('\n');
    expect(line).toBe('error: cannot reach the API: connect ECONNREFUSED 127.0.0.1:1');
    expect(hint).toContain('the address comes from --endpoint: is a gateway listening there?');
  });

  it('takes the endpoint and key from flags or the environment, without a config file', async () => {
    const env = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'channel', 'create', 'open', 'from-env'], {
      env: { ...ownEnv, LIVECHANNEL_ENDPOINT: t.endpoint, LIVECHANNEL_ACCESS_KEY_ID: KEY.accessKeyId, LIVECHANNEL_ACCESS_KEY_SECRET: KEY.accessKeySecret },
    });
    expect(env.stdout).toContain('created open/from-env');
    expect(await t.app.catalog.getChannel('open', 'from-env')).toMatchObject({ status: 'enabled', fragDuration: 5 });
  });

  it('sign-url says so when the gateway does not know the channel', async () => {
    const r = await withConfig('sign-url', 'media', 'never-made');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/live channel "never-made" does not exist in bucket "media" \(create it first: livechannel channel create media never-made -c \S+\)/);
  });
});

