import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import { fetchHealth, renderHealth } from '../src/cli/health-command.js';
import type { HealthAnswer } from '../src/http/health-api.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { FaultProxy } from './support/fault-proxy.js';
import { startReceiver, type ReceiverProcess } from './support/receiver-process.js';
import { KEY, startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Pushes that go wrong on purpose, each on its own channel at once: a GOP five times
// FragDuration, a picture that goes black (the bitrate falls), storage that goes away. Each
// must flip the verdict with its reason, send channel.degraded, then channel.recovered.
interface Received {
  path: string;
  status: number;
  body: string;
}
interface HealthEvent {
  type: string;
  channel: string;
  verdict: string;
  previous: string;
  reasons: { code: string; verdict: string; message: string }[];
}

let storage: TestApp;
let proxy: FaultProxy;
let t: TestApp;
let receiver: ReceiverProcess<Received>;
const pushes: PushProcess[] = [];
let main: string;

beforeAll(async () => {
  main = await fixture('main.flv');
  storage = await startTestApp();
  proxy = await FaultProxy.start(storage.app.httpPort());
  receiver = await startReceiver<Received>('test/support/event-receiver.mjs', {});
  t = await startTestApp({
    buckets: [
      { name: 'media', acl: 'private' },
      {
        name: 'relay',
        acl: 'private',
        storage: { type: 'oss', endpoint: proxy.endpoint, bucket: 'media', accessKeyId: KEY.accessKeyId, accessKeySecret: KEY.accessKeySecret, prefix: 'relay/', timeoutMs: 1000 },
      },
    ],
    notifications: [{ url: receiver.url('/events'), events: ['channel.degraded', 'channel.recovered'] }],
    events: { pollMs: 50, retryBaseMs: 200, retryMaxMs: 2000 },
    upload: { retryBaseMs: 100, retryMaxMs: 500 },
  });
}, 60_000);
afterAll(async () => {
  for (const p of pushes) p.kill();
  await t?.close();
  await proxy?.close();
  await storage?.close();
  receiver?.kill();
});

const healthEvents = (channel: string): HealthEvent[] =>
  receiver.seen.filter((s) => s.status === 200).map((s) => JSON.parse(s.body) as HealthEvent).filter((e) => e.channel === channel);

const target = () => ({ endpoint: t.endpoint, ...KEY });
const health = (bucket: string, channel: string, sinceS = 600): Promise<HealthAnswer> => {
  const now = Math.floor(Date.now() / 1000);
  return fetchHealth(target(), bucket, channel, now - sinceS, now + 1);
};

/** A live test picture: lavfi `source` (size and rate added) for `seconds`, as ffmpeg input options. */
const picture = (source: string, seconds: number) => ['-re', '-f', 'lavfi', '-i', `${source}${source.includes('=') ? ':' : '='}size=320x240:rate=30:duration=${seconds}`];

/**
 * ffmpeg encoding `inputs` (lavfi pictures; with `join`, joined one after the other) and a
 * tone live to `url`, with extra video options.
 */
function encodePush(url: string, seconds: number, inputs: string[], videoOptions: string[], join = false): PushProcess {
  const count = inputs.filter((a) => a === '-i').length;
  const args = ['-hide_banner', '-nostdin', '-v', 'error', ...inputs, '-re', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`];
  if (join) args.push('-filter_complex', `${Array.from({ length: count }, (_, i) => `[${i}:v]`).join('')}concat=n=${count}:v=1:a=0[v]`);
  args.push('-t', String(seconds), '-map', join ? '[v]' : '0:v', '-map', `${count}:a`);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...videoOptions, '-c:a', 'aac', '-b:a', '32k', '-f', 'flv', url);
  const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const p: PushProcess = { exited: new Promise((resolve) => child.on('exit', resolve)), stderr: () => err, kill: (signal = 'SIGKILL') => child.kill(signal) };
  pushes.push(p);
  return p;
}

async function channel(client: AliOss, name: string): Promise<string> {
  await client.putChannel(name, { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', PlaylistName: 'playlist.m3u8' } });
  return client.getRtmpUrl(name, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase);
}

/** Waits for channel.degraded with `code` among its reasons, then channel.recovered; checks the health answer saw the same. */
async function degradesThenRecovers(bucket: string, name: string, code: string, timeoutMs: number): Promise<HealthAnswer> {
  const degraded = await eventually(() => {
    const e = healthEvents(name).find((x) => x.type === 'channel.degraded' && x.reasons.some((r) => r.code === code));
    return e;
  }, timeoutMs, `channel.degraded (${code}) for ${name}`);
  expect(degraded.previous).toBe('healthy');
  const recovered = await eventually(() => healthEvents(name).find((x) => x.type === 'channel.recovered'), timeoutMs, `channel.recovered for ${name}`);
  expect(recovered).toMatchObject({ verdict: 'healthy', reasons: [] });
  const types = healthEvents(name).map((e) => e.type);
  expect(types.indexOf('channel.degraded')).toBeLessThan(types.indexOf('channel.recovered'));
  return health(bucket, name);
}

describe('stream health', () => {
  it.concurrent('a 10 s GOP on a 2 s channel: degraded for the keyframe interval, recovered once GOPs are 2 s again', async () => {
    const client = t.client('media');
    const url = await channel(client, 'longgop');
    // keyframes at 0, 10 and 20 s, then every 2 s
    encodePush(url, 50, picture('testsrc2', 50), ['-g', '1000', '-sc_threshold', '0', '-force_key_frames', 'expr:if(lt(t,20),gte(t,n_forced*10),gte(t,20+(n_forced-2)*2))']);
    const during = await eventually(async () => {
      const a = await health('media', 'longgop');
      return a.verdict === 'degraded' && a.reasons.some((r) => r.code === 'keyframe_interval') ? a : undefined;
    }, 30_000, 'the health answer to say degraded');
    expect(during.reasons.find((r) => r.code === 'keyframe_interval')!.message).toMatch(/keyframe interval (9\.\d|10\.\d|[3-9]\.\d) s is longer than FragDuration 2\.0 s/);
    const after = await degradesThenRecovers('media', 'longgop', 'keyframe_interval', 60_000);
    expect(after).toMatchObject({ status: 'Live', verdict: 'healthy', fragDuration: 2 });
    // second by second: consecutive one-second samples, the long GOP in them, then 2 s ones
    const times = after.samples.map((s) => s.time);
    expect(times.length).toBeGreaterThan(25);
    expect(times.every((x, i) => i === 0 || x - times[i - 1]! === 1000)).toBe(true);
    const gops = after.samples.map((s) => s.keyframeIntervalMs);
    expect(Math.max(...gops)).toBeGreaterThanOrEqual(9500);
    expect(gops.at(-1)).toBeGreaterThan(1500);
    expect(gops.at(-1)).toBeLessThan(2500);
    expect(after.samples.at(-1)!.frameRate).toBeGreaterThan(20);
    // the terminal view: sparklines and the verdict
    const text = renderHealth('media', 'longgop', after);
    expect(text).toMatch(/^media\/longgop {2}Live {2}HEALTHY/);
    expect(text).toMatch(/keyframe interval +[▁▂▃▄▅▆▇█]{10,}/);
  });

  it.concurrent('a picture that goes black: degraded for the bitrate drop, recovered when the picture comes back', async () => {
    const client = t.client('media');
    const url = await channel(client, 'fades');
    // 25 s of moving picture, 15 s of black, 25 s of moving picture
    encodePush(url, 65, [...picture('testsrc2', 25), ...picture('color=c=black', 15), ...picture('testsrc2', 25)], ['-b:v', '600k', '-g', '60'], true);
    const after = await degradesThenRecovers('media', 'fades', 'bitrate_drop', 90_000);
    const rates = after.samples.map((s) => s.videoBitrate + s.audioBitrate);
    expect(Math.min(...rates.slice(5))).toBeLessThan(Math.max(...rates) / 4);
  });

  it.concurrent('storage that goes away: degraded (retries) or failing (drops), recovered once storage is back', async () => {
    const client = t.client('relay');
    const url = await channel(client, 'outage');
    // the bucket comes from the tcUrl's host (an IP address means the default bucket)
    pushes.push(ffmpegPush(url, main, { loopSeconds: 60, tcUrl: `rtmp://relay.live.test:${t.app.rtmpPort()}/live` }));
    await eventually(async () => ((await health('relay', 'outage')).samples.length >= 8 ? true : undefined), 30_000, 'eight healthy seconds');
    expect((await health('relay', 'outage')).verdict).toBe('healthy');
    // storage goes away: its open connections cut, new ones refused
    proxy.setDown(true);
    await eventually(() => healthEvents('outage').find((e) => e.type === 'channel.degraded'), 30_000, 'channel.degraded for the outage');
    const during = await health('relay', 'outage');
    expect(during.reasons.map((r) => r.code)).toContain('storage_failing');
    expect(during.samples.some((s) => s.storageRetries > 0)).toBe(true);
    proxy.setDown(false);
    const after = await degradesThenRecovers('relay', 'outage', 'storage_failing', 60_000);
    expect(after.verdict).toBe('healthy');
  });
});

describe('health answer', () => {
  it('is XML unless JSON is asked for, signed like the other LiveChannel calls, and summarised into the catalog for any node', async () => {
    const client = t.client('media');
    const url = await channel(client, 'plain');
    const p = ffmpegPush(url, main, { loopSeconds: 25 });
    pushes.push(p);
    await eventually(async () => ((await health('media', 'plain')).samples.length >= 12 ? true : undefined), 40_000, 'twelve seconds of samples');
    // XML, to a request ali-oss signs as it signs GetLiveChannelStat (the Authorization header)
    const params = client._objectRequestParams('GET', 'plain', { subres: { live: null, comp: 'health' } });
    params.successStatuses = [200];
    const xml = String((await client.request(params)).data);
    expect(xml).toMatch(/<LiveChannelHealth>\s*<Status>Live<\/Status>\s*<Verdict>healthy<\/Verdict>/);
    expect(xml).toMatch(/<Sample>\s*<Time>[^<]+Z<\/Time>\s*<VideoBitrate>\d+/);
    // anonymous: refused on a private bucket
    const anonymous = await fetch(`${t.endpoint}/media/plain?live&comp=health`);
    expect(anonymous.status).toBe(403);
    // bad ranges are the caller's error
    const now = Math.floor(Date.now() / 1000);
    await expect(fetchHealth(target(), 'media', 'plain', now, now - 10)).rejects.toMatchObject({ code: 'InvalidArgument', status: 400 });
    await expect(fetchHealth(target(), 'media', 'nosuch', now - 60, now)).rejects.toMatchObject({ code: 'NoSuchLiveChannel', status: 404 });
    expect(await p.exited).toBe(0);
    // once the publish ended: the ten-second summaries, from the catalog
    const idle = await eventually(async () => {
      const a = await health('media', 'plain');
      return a.status === 'Idle' ? a : undefined;
    }, 20_000, 'the channel to be idle');
    expect(idle.samples).toEqual([]);
    expect(idle.summaries.length).toBeGreaterThanOrEqual(2);
    expect(idle.summaries.every((s) => s.verdict === 'healthy' && s.videoBitrate > 100_000)).toBe(true);
  });
});

describe('channel health (CLI)', () => {
  it('prints the verdict and sparklines, and says so when the channel does not exist', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, LIVECHANNEL_ENDPOINT: t.endpoint, LIVECHANNEL_ACCESS_KEY_ID: KEY.accessKeyId, LIVECHANNEL_ACCESS_KEY_SECRET: KEY.accessKeySecret };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'channel', 'health', 'media', 'plain', '--since', '1h'], { env });
    expect(stdout).toMatch(/^media\/plain {2}Idle/);
    expect(stdout).toMatch(/video +[▁▂▃▄▅▆▇█]+ +[\d.]+ (M|k)bit\/s/);
    const missing = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'channel', 'health', 'media', 'nosuch'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 1 });
    expect((missing as { stderr: string }).stderr).toMatch(/NoSuchLiveChannel/);
  });
});
