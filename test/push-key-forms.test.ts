import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPushUrl } from '../src/auth/push-url.js';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { KEY, startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Encoders send the stream key in two forms: as typed (ffmpeg, GStreamer's rtmp2sink) or
// percent-decoded first (OBS and every librtmp-based encoder: vMix, Wirecast, Larix,
// GStreamer's rtmpsink, most hardware). Both must verify, with "+" read as "+".
const run = promisify(execFile);
let t: TestApp;
let client: AliOss;
let main: string;

beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'pub' });
  client = t.client('pub');
  main = await fixture('main.flv');
});
afterAll(() => t.close());

function gstLaunch(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v gst-launch-1.0'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error("gst-launch-1.0 not found: the librtmp test needs Debian's gstreamer1.0-tools and gstreamer1.0-plugins-bad (rtmpsink)");
  }
}

/** A signed URL whose signature holds a "+", and a "/" too if asked (found by trying expiry times). */
function urlWithPlus(channel: string, params?: Record<string, string>, slash = false): string {
  const start = Math.floor(Date.now() / 1000) + 3600;
  for (let expires = start; expires < start + 10_000; expires++) {
    const url = signPushUrl({ base: `rtmp://127.0.0.1:${t.app.rtmpPort()}`, bucket: 'pub', channel, ...KEY, expires, params });
    if (url.includes('%2B') && url.includes('%2F') === slash) return url;
  }
  throw new Error('no expiry time gave a "+"');
}

/** Waits for the push to end, then checks its playlist names segments that decode cleanly. */
async function expectCleanPlaylist(channel: string, playlistName: string): Promise<void> {
  await eventually(async () => (await client.getChannelHistory(channel)).records.some((r: { EndTime?: string }) => r.EndTime), 20_000, 'push ended');
  const url = `${t.endpoint}/pub/${encodeURIComponent(channel)}/${encodeURIComponent(playlistName)}`;
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text.split('\n').filter((l) => l.endsWith('.ts')).length).toBeGreaterThanOrEqual(2);
  expect(await ffmpegWarnings(url)).toBe('');
}

const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '10', PlaylistName: 'playlist.m3u8' } };

describe('GStreamer rtmpsink (librtmp: sends the key percent-decoded)', () => {
  it('pushes with a "+" in the signature, the channel name and the playlistName', async () => {
    const channel = 'gst+live';
    const playlistName = 'a+b c.m3u8';
    await client.putChannel(channel, config);
    const url = urlWithPlus(channel, { playlistName });
    expect(url).toContain('/live/gst%2Blive?');
    // rtmpsink wants one FLV tag per buffer (raw file bytes crash it), so demux and remux;
    // librtmp options follow the URL after a space
    const pipeline = ['filesrc', `location=${main}`, '!', 'flvdemux', 'name=d',
      'd.video', '!', 'queue', '!', 'h264parse', '!', 'flvmux', 'name=m', 'streamable=true', '!', 'rtmpsink', `location=${url} live=1`,
      'd.audio', '!', 'queue', '!', 'aacparse', '!', 'm.'];
    const { stderr } = await run(gstLaunch(), ['-q', ...pipeline], { timeout: 60_000 });
    expect(stderr).not.toMatch(/error/i);
    await expectCleanPlaylist(channel, playlistName);
  });
});

describe('ffmpeg (sends the key as typed)', () => {
  it('pushes with a percent-encoded "+" in the signature and the playlistName', async () => {
    const channel = 'ff-encoded';
    await client.putChannel(channel, config);
    const push = ffmpegPush(urlWithPlus(channel, { playlistName: 'x+y.m3u8' }), main, { realtime: false });
    expect(await push.exited).toBe(0);
    await expectCleanPlaylist(channel, 'x+y.m3u8');
  });

  it('pushes with the same key typed already decoded (a literal "+", "/" and "=")', async () => {
    const channel = 'ff-decoded';
    await client.putChannel(channel, config);
    // ffmpeg splits the application at the literal "/"; the gateway joins the key again
    const url = urlWithPlus(channel, undefined, true).replace(/Signature=([^&]+)/, (_m, sig: string) => `Signature=${decodeURIComponent(sig)}`);
    expect(url).toMatch(/Signature=[^&%]*\+/);
    expect(url).toMatch(/Signature=[^&%]*\//);
    const push = ffmpegPush(url, main, { realtime: false });
    expect(await push.exited).toBe(0);
    await expectCleanPlaylist(channel, 'playlist.m3u8');
  });

  it('still refuses a key whose "+" was turned into a space', async () => {
    const channel = 'ff-space';
    await client.putChannel(channel, config);
    const url = urlWithPlus(channel, undefined, true).replace(/Signature=([^&]+)/, (_m, sig: string) => `Signature=${decodeURIComponent(sig).replace(/\+/g, '%20')}`);
    const push = ffmpegPush(url, main, { realtime: false });
    expect(await push.exited).not.toBe(0);
    expect(push.stderr()).toContain('The push URL signature does not match');
  });
});
