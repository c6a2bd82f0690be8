import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { signPushUrl } from '../src/auth/push-url.js';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import { eventually } from './support/ffmpeg-push.js';
import { ffmpegWarnings, probeStreams } from './support/media-tools.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

const run = promisify(execFile);

// SRT ingest with real libsrt callers: ffmpeg (libsrt), then the refusals, each with nothing stored.
const PASSPHRASE = 'correct-horse-battery-staple';
let t: TestApp;
let main: string;
beforeAll(async () => {
  main = await fixture('main.flv');
  t = await startTestApp({ defaultBucket: 'media', srt: { port: 0, latencyMs: 120, passphrase: PASSPHRASE } });
  for (const name of ['srt-one', 'srt-busy', 'srt-off', 'srt-gst', 'srt-hevc']) {
    await t.client('media').putChannel(name, { Status: name === 'srt-off' ? 'disabled' : 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
  }
}, 60_000);
afterAll(() => t?.close());

/** What follows the host in a signed push URL: the stream id. */
function streamId(channel: string, o: { secret?: string; expires?: number } = {}): string {
  const url = signPushUrl({ base: 'rtmp://h', bucket: 'media', channel, accessKeyId: KEY.accessKeyId, accessKeySecret: o.secret ?? KEY.accessKeySecret, expires: o.expires ?? Math.floor(Date.now() / 1000) + 3600 });
  return url.slice('rtmp://h/'.length);
}

interface Push {
  exited: Promise<number | null>;
  stderr(): string;
  kill(): void;
}

/**
 * ffmpeg pushing MPEG-TS over SRT, the stream id and passphrase in the srt:// URL's query (its
 * `-streamid` option is ffmpeg's own stream numbering, not SRT's): percent-encoded, as ffmpeg
 * and OBS pass it on without decoding.
 */
function srtPush(sid: string, o: { passphrase?: string; seconds?: number; realtime?: boolean; input?: string } = {}): Push {
  const args = ['-hide_banner', '-nostdin', '-v', 'error'];
  if (o.realtime !== false) args.push('-re');
  if (o.seconds) args.push('-stream_loop', '-1');
  args.push('-i', o.input ?? main);
  if (o.seconds) args.push('-t', String(o.seconds));
  args.push('-c', 'copy', '-f', 'mpegts');
  const query = new URLSearchParams({ streamid: sid, latency: '120000', ...(o.passphrase !== undefined ? { passphrase: o.passphrase, pbkeylen: '16' } : {}) });
  args.push(`srt://127.0.0.1:${t.app.srtPort()}?${query}`);
  const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  return { exited: new Promise((r) => child.on('exit', (code) => r(code))), stderr: () => err, kill: () => child.kill('SIGKILL') };
}

const stored = (channel: string) => {
  const dir = join(t.dataDir, 'buckets', 'media', channel);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts')) : [];
};

describe('SRT ingest', () => {
  it('takes an encrypted ffmpeg push keyed by a signed stream id: segments decode, stat says Live with video and audio, history closes', async () => {
    const push = srtPush(streamId('srt-one'), { passphrase: PASSPHRASE, seconds: 8 });
    const stat = await eventually(async () => {
      const s = (await t.client('media').getChannelStatus('srt-one')).data;
      return s.Status === 'Live' && s.Video && s.Audio ? s : undefined;
    }, 20_000, 'srt-one live');
    expect(stat.Video).toMatchObject({ Width: '1280', Height: '720', Codec: 'H264' });
    expect(stat.Audio).toMatchObject({ Codec: 'AAC' });
    // this gateway's addition: the link's own figures
    expect(stat.Link).toMatchObject({ Protocol: 'srt', LatencyMs: '120' });
    expect(Number(stat.Link.PacketsReceived)).toBeGreaterThan(0);
    expect(Number(stat.Link.RttMs)).toBeGreaterThanOrEqual(0);
    expect(await push.exited, push.stderr()).toBe(0);
    const history = await eventually(async () => {
      const r = (await t.client('media').getChannelHistory('srt-one')).records;
      return r.length === 1 && r[0].EndTime ? r : undefined;
    }, 15_000, 'the push closed in history');
    expect(history[0]).toMatchObject({ EndReason: 'unpublished' });
    const segments = stored('srt-one').sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
    expect(segments.length).toBeGreaterThanOrEqual(3);
    for (const [i, s] of segments.entries()) {
      const file = join(t.dataDir, 'buckets', 'media', 'srt-one', s);
      // the stream's last segment holds what came before the caller closed: it may end with
      // video frames only (ffmpeg then says an audio start time is not set), nothing broken
      const warnings = (await ffmpegWarnings(file)).split('\n').filter((l) => l && !(i === segments.length - 1 && /start time for stream \d+ is not set/.test(l)));
      expect(warnings, s).toEqual([]);
      expect((await probeStreams(file)).map((x) => x.codec_name).sort()).toEqual(['aac', 'h264']);
    }
  }, 60_000);

  it('cuts the publisher of a channel that gets disabled, within a second, and history says disabled', async () => {
    await t.client('media').putChannel('srt-cut', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
    const push = srtPush(streamId('srt-cut'), { passphrase: PASSPHRASE, seconds: 30 });
    await eventually(async (): Promise<true | undefined> => ((await t.client('media').getChannelStatus('srt-cut')).data.Status === 'Live' ? true : undefined), 20_000, 'live');
    await t.client('media').putChannelStatus('srt-cut', 'disabled');
    const records = await eventually(async (): Promise<{ EndReason?: string }[] | undefined> => {
      const r = (await t.client('media').getChannelHistory('srt-cut')).records;
      return r[0]?.EndTime ? r : undefined;
    }, 5_000, 'the push ended');
    expect(records[0]).toMatchObject({ EndReason: 'disabled' });
    push.kill();
  }, 60_000);

  it('takes HEVC over SRT: segments decode and stat says H265', async () => {
    const query = new URLSearchParams({ streamid: streamId('srt-hevc'), latency: '120000', passphrase: PASSPHRASE, pbkeylen: '16' });
    const push = spawn(
      ffmpegPath(),
      ['-hide_banner', '-nostdin', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '6', '-c:v', 'libx265', '-x265-params', 'log-level=none:keyint=25', '-c:a', 'aac', '-f', 'mpegts', `srt://127.0.0.1:${t.app.srtPort()}?${query}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    push.stderr.on('data', (c) => (err += c));
    const stat = await eventually(async (): Promise<{ Video?: { Codec: string } } | undefined> => {
      const s = (await t.client('media').getChannelStatus('srt-hevc')).data;
      return s.Status === 'Live' && s.Video ? s : undefined;
    }, 20_000, 'srt-hevc live');
    expect(stat.Video).toMatchObject({ Codec: 'H265' });
    expect(await new Promise((r) => push.on('exit', r)), err).toBe(0);
    await eventually(() => (stored('srt-hevc').length >= 2 ? true : undefined), 15_000, 'HEVC segments');
    for (const seg of stored('srt-hevc')) expect(await ffmpegWarnings(join(t.dataDir, 'buckets', 'media', 'srt-hevc', seg)), seg).toBe('');
  }, 60_000);

  it('takes a push from srt-live-transmit (srt-tools) and from GStreamer\'s srtsink, both libsrt', async () => {
    // srt-live-transmit relays stdin: ffmpeg feeds it 6 s of TS in real time; it does not exit at
    // the end of its input, so it is interrupted (SIGINT, as Ctrl-C) once ffmpeg is done
    const before = (await t.client('media').getChannelHistory('srt-one')).records.length;
    const target = `srt://127.0.0.1:${t.app.srtPort()}?streamid=${encodeURIComponent(streamId('srt-one'))}&passphrase=${PASSPHRASE}&pbkeylen=16`;
    const relay = spawn('srt-live-transmit', ['file://con', target], { stdio: ['pipe', 'pipe', 'pipe'] });
    let relayOut = '';
    relay.stdout.on('data', (c) => (relayOut += c));
    relay.stderr.on('data', (c) => (relayOut += c));
    const feed = spawn(ffmpegPath(), ['-v', 'error', '-re', '-i', main, '-t', '6', '-c', 'copy', '-f', 'mpegts', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
    feed.stdout.pipe(relay.stdin);
    await new Promise((r) => feed.on('exit', r));
    await new Promise((r) => setTimeout(r, 1500));
    relay.kill('SIGINT');
    await new Promise((r) => relay.on('exit', r));
    const records = await eventually(async (): Promise<{ EndReason?: string }[] | undefined> => {
      const r = (await t.client('media').getChannelHistory('srt-one')).records;
      return r.length > before && r[0].EndTime ? r : undefined;
    }, 15_000, `srt-live-transmit's push recorded: ${relayOut}`);
    expect(records.length).toBe(before + 1);
    // GStreamer: a TS file paced by its own timestamps (tsparse), sent with srtsink
    const ts = join(t.dataDir, 'in.ts');
    await new Promise((r) => spawn(ffmpegPath(), ['-v', 'error', '-i', main, '-t', '6', '-c', 'copy', '-f', 'mpegts', ts]).on('exit', r));
    const gst = spawn(
      'gst-launch-1.0',
      ['-q', 'filesrc', `location=${ts}`, '!', 'tsparse', 'set-timestamps=true', '!', 'srtsink', `uri=srt://127.0.0.1:${t.app.srtPort()}`, `streamid=${streamId('srt-gst')}`, `passphrase=${PASSPHRASE}`, 'pbkeylen=16', 'sync=true'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let gstOut = '';
    gst.stderr.on('data', (c) => (gstOut += c));
    expect(await new Promise((r) => gst.on('exit', r)), gstOut).toBe(0);
    await eventually(() => (stored('srt-gst').length >= 2 ? true : undefined), 15_000, `segments from GStreamer: ${gstOut}`);
    expect(await ffmpegWarnings(join(t.dataDir, 'buckets', 'media', 'srt-gst', stored('srt-gst')[0]!))).toBe('');
  }, 90_000);

  it('pushes to the URL sign-url --srt prints, and --obs prints it as the Server field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-srt-cli-'));
    const file = join(dir, 'livechannel.json');
    writeFileSync(file, JSON.stringify({ dataDir: dir, http: { port: t.app.httpPort() }, srt: { port: t.app.srtPort(), passphrase: PASSPHRASE }, credentials: [KEY], buckets: [{ name: 'media' }] }));
    const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args]);
    const { stdout: url, stderr } = await cli(['sign-url', 'media', 'srt-one', '--srt', '-c', file]);
    expect(stderr).toBe('');
    expect(url.trim()).toMatch(new RegExp(`^srt://127\\.0\\.0\\.1:${t.app.srtPort()}\\?streamid=live%2Fsrt-one%3FOSSAccessKeyId%3D.*&latency=120000&passphrase=${PASSPHRASE}&pbkeylen=16$`));
    const before = (await t.client('media').getChannelHistory('srt-one')).records.length;
    const push = spawn(ffmpegPath(), ['-v', 'error', '-i', main, '-t', '4', '-c', 'copy', '-f', 'mpegts', url.trim()], { stdio: ['ignore', 'ignore', 'pipe'] });
    expect(await new Promise((r) => push.on('exit', r))).toBe(0);
    await eventually(async (): Promise<true | undefined> => ((await t.client('media').getChannelHistory('srt-one')).records.length > before ? true : undefined), 15_000, 'the push recorded');
    const obs = await cli(['sign-url', 'media', 'srt-one', '--srt', '--obs', '-c', file]);
    expect(obs.stdout).toMatch(/^Server: +srt:\/\/.*streamid=live%2Fsrt-one.*\nStream Key: \(leave empty\)$/m);
  }, 60_000);

  it.each([
    ['a bad signature', (): string => streamId('srt-one', { secret: 'wrong' }), PASSPHRASE, 'srt-one'],
    ['an expired URL', (): string => streamId('srt-one', { expires: Math.floor(Date.now() / 1000) - 10 }), PASSPHRASE, 'srt-one'],
    ['an unknown channel', (): string => streamId('srt-nope'), PASSPHRASE, 'srt-nope'],
    ['a disabled channel', (): string => streamId('srt-off'), PASSPHRASE, 'srt-off'],
    ['the wrong passphrase', (): string => streamId('srt-busy'), 'not the passphrase at all', 'srt-busy'],
    ['no passphrase', (): string => streamId('srt-busy'), undefined, 'srt-busy'],
    ['a play request', (): string => `#!::r=live/srt-busy,m=request`, PASSPHRASE, 'srt-busy'],
  ] as const)('refuses %s, storing nothing', async (_what, sid, passphrase, channel) => {
    const before = stored(channel).length;
    const push = srtPush(sid(), { passphrase, realtime: false });
    expect(await push.exited).not.toBe(0);
    expect(push.stderr()).toMatch(/rejected|failed|error/i);
    expect(stored(channel).length).toBe(before);
  }, 30_000);

  it('refuses a second publisher while the first sends, with 1409', async () => {
    const first = srtPush(streamId('srt-busy'), { passphrase: PASSPHRASE, seconds: 10 });
    await eventually(async (): Promise<true | undefined> => ((await t.client('media').getChannelStatus('srt-busy')).data.Status === 'Live' ? true : undefined), 20_000, 'first live');
    const second = srtPush(streamId('srt-busy'), { passphrase: PASSPHRASE, realtime: false });
    expect(await second.exited).not.toBe(0);
    expect(second.stderr()).toMatch(/rejected|failed|error/i);
    // the first push goes on: still live, still one open push
    expect((await t.client('media').getChannelStatus('srt-busy')).data.Status).toBe('Live');
    first.kill();
  }, 60_000);
});
