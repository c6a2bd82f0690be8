import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { av1Tags } from '../scripts/lib/enhanced-flv.js';
import { fixture } from '../scripts/lib/fixtures.js';
import { command, mediaMessages, publishCommands } from '../scripts/lib/rtmp-wire.js';
import { launchBrowser } from './support/browser.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { playWithHlsJs, startupStall, unexpectedErrors, waitForPlayer } from './support/hls-page.js';
import { handshake, openRtmpSocket } from './support/rtmp-socket.js';
import { startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// fMP4 channels in a real player: hls.js in Debian's Chromium, which decodes H.264, and AV1 in
// software. The LL-HLS test measures the latency hls.js itself reports against the
// playlist's program date time.
let t: TestApp;
let browser: Browser;
let pub: AliOss;

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestApp({ defaultBucket: 'pub' }), launchBrowser()]);
  pub = t.client('pub');
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const rtmpUrl = (channel: string) => pub.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${t.app.rtmpPort()}`);
const fmp4 = (extra: Record<string, string> = {}) => ({ Target: { Type: 'HLS', FragDuration: '2', FragCount: '4', SegmentFormat: 'fMP4', ...extra } });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('fMP4 channels in Chromium with hls.js', () => {
  it('plays a live H.264/AAC fMP4 channel: 8 s of playback, no error', async () => {
    await pub.putChannel('fmp4-live', fmp4());
    const push = ffmpegPush(rtmpUrl('fmp4-live'), await fixture('long.flv'));
    try {
      await eventually(async () => {
        const text = await (await fetch(`${t.endpoint}/pub/fmp4-live/playlist.m3u8`)).text();
        return text.split('\n').filter((l) => l.endsWith('.m4s')).length >= 2 ? true : undefined;
      }, 20_000, 'two live segments');
      const page = await browser.newPage();
      const read = await playWithHlsJs(page, t.endpoint, `${t.endpoint}/pub/fmp4-live/playlist.m3u8`);
      const s = await waitForPlayer(read, (x) => x.startTime !== null && x.currentTime - x.startTime > 8, 30_000);
      expect(unexpectedErrors(s), JSON.stringify(s)).toEqual([]);
      await page.close();
    } finally {
      push.kill();
      await push.exited;
    }
  }, 90_000);

  it('plays an AV1 fMP4 channel to its end', async () => {
    await pub.putChannel('fmp4-av1', fmp4());
    const tags = av1Tags(readFileSync(await fixture('av1-360p.obu')), 25);
    const { socket, received } = await openRtmpSocket(t.app.rtmpPort());
    const s1 = await handshake(socket, received);
    const name = rtmpUrl('fmp4-av1').replace(/^.*\/live\//, '');
    socket.write(Buffer.concat([s1, publishCommands(`rtmp://pub.live.test:${t.app.rtmpPort()}/live`, name, { fourCcList: ['av01'] }), mediaMessages(tags, 0)]));
    socket.write(command({ cmd: 'deleteStream', transId: 4, cmdObj: null, streamId: 1 }));
    const url = `${t.endpoint}/pub/fmp4-av1/playlist.m3u8`;
    await eventually(async () => ((await (await fetch(url)).text()).includes('#EXT-X-ENDLIST') ? true : undefined), 15_000, 'the ended AV1 playlist');
    socket.destroy();
    const page = await browser.newPage();
    const read = await playWithHlsJs(page, t.endpoint, url, 4);
    const s = await waitForPlayer(read, (x) => x.ended, 40_000);
    expect(s.errors.filter((e) => !startupStall(e)), JSON.stringify(s)).toEqual([]);
    expect(s.currentTime).toBeGreaterThan(5.5);
    await page.close();
  }, 60_000);

  it('plays a private LL-HLS channel through hls/sign in low-latency mode', async () => {
    const media = t.client('media');
    await media.putChannel('ll-private', fmp4({ PartDuration: '0.5' }));
    const pushUrl = media.getRtmpUrl('ll-private', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${t.app.rtmpPort()}`);
    const push = ffmpegPush(pushUrl, await fixture('long.flv'), { tcUrl: `rtmp://media.live.test:${t.app.rtmpPort()}/live` });
    try {
      const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
      const url = `${t.endpoint}/media/ll-private/playlist.m3u8${new URL(signer.signatureUrl('ll-private/playlist.m3u8', { expires: 600, process: 'hls/sign' })).search}`;
      await eventually(async () => ((await (await fetch(url)).text()).includes('#EXT-X-PROGRAM-DATE-TIME') ? true : undefined), 20_000, 'a first LL segment');
      const page = await browser.newPage();
      const read = await playWithHlsJs(page, t.endpoint, url, 1, { lowLatencyMode: true });
      const s = await waitForPlayer(read, (x) => x.startTime !== null && x.currentTime - x.startTime > 6, 40_000);
      expect(unexpectedErrors(s), JSON.stringify(s.errors)).toEqual([]);
      expect(median(s.latencies.slice(-5))).toBeLessThan(3000);
      await page.close();
    } finally {
      push.kill();
      await push.exited;
    }
  }, 90_000);

  it('plays an LL-HLS channel in low-latency mode less than 3 s behind the gateway', async () => {
    await pub.putChannel('ll-live', fmp4({ PartDuration: '0.5', FragDuration: '2' }));
    const push = ffmpegPush(rtmpUrl('ll-live'), await fixture('long.flv'));
    try {
      const url = `${t.endpoint}/pub/ll-live/playlist.m3u8`;
      await eventually(async () => ((await (await fetch(url)).text()).includes('#EXT-X-PROGRAM-DATE-TIME') ? true : undefined), 20_000, 'a first LL segment');
      const page = await browser.newPage();
      const read = await playWithHlsJs(page, t.endpoint, url, 1, { lowLatencyMode: true });
      const s = await waitForPlayer(read, (x) => x.startTime !== null && x.currentTime - x.startTime > 12, 40_000);
      expect(unexpectedErrors(s), JSON.stringify(s.errors)).toEqual([]);
      // once settled: the last 5 s of samples
      const settled = s.latencies.slice(-Math.max(1, Math.floor(s.latencies.length / 2)));
      const result = { samples: settled.length, medianMs: Math.round(median(settled)), maxMs: Math.round(Math.max(...settled)), minMs: Math.round(Math.min(...settled)) };
      mkdirSync('test-artifacts', { recursive: true });
      writeFileSync('test-artifacts/ll-hls-latency.json', JSON.stringify(result, null, 2));
      expect(settled.length).toBeGreaterThan(10);
      expect(result.medianMs, JSON.stringify(result)).toBeLessThan(3000);
      expect(result.minMs).toBeGreaterThan(0);
      await page.close();
    } finally {
      push.kill();
      await push.exited;
    }
  }, 90_000);
});
