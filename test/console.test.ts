import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { launchBrowser } from './support/browser.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestApp({ defaultBucket: 'pub' }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** The console signed in with KEY on bucket "pub"; page errors are collected. */
async function signedInPage(): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${t.endpoint}/console`);
  await page.selectOption('#bucket', 'pub');
  await page.fill('#key-id', KEY.accessKeyId);
  await page.fill('#key-secret', KEY.accessKeySecret);
  await page.click('#login button[type=submit]');
  return { page, pageErrors };
}

describe('web console in Chromium', () => {
  it('lists a channel going live while ffmpeg pushes, previews it, and disables it', async () => {
    const pub = t.client('pub');
    await pub.putChannel('console-show', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
    const { page, pageErrors } = await signedInPage();

    const row = page.locator('tr[data-channel="console-show"]');
    await row.waitFor();
    expect(await row.locator('td.status').textContent()).toBe('idle');

    // creating a channel from the page signs a PUT with an XML body
    await page.fill('#new-channel', 'made in console');
    await page.click('#create button[type=submit]');
    await page.locator('tr[data-channel="made in console"]').waitFor();
    expect((await pub.getChannel('made in console')).data.Target).toMatchObject({ FragDuration: '5', FragCount: '3' });
    expect((await pub.getChannel('made in console')).data.Target).not.toHaveProperty('SegmentFormat');
    await page.fill('#new-channel', 'low latency');
    await page.selectOption('#new-format', 'LL');
    await page.click('#create button[type=submit]');
    await page.locator('tr[data-channel="low latency"]').waitFor();
    expect((await pub.getChannel('low latency')).data.Target).toMatchObject({ SegmentFormat: 'fMP4', PartDuration: '0.5' });

    const url = pub.getRtmpUrl('console-show', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${t.app.rtmpPort()}`);
    const push = ffmpegPush(url, await fixture('main.flv'), { loopSeconds: 60 });
    try {
      await eventually(async () => {
        const cells = await row.locator('td').allTextContents();
        return cells[1] === 'live' && cells[3] === '1280x720' && Number.parseInt(cells[2]!) > 0 ? cells : undefined;
      }, 20_000, 'the console to show the channel live');
      const cells = await row.locator('td').allTextContents();
      expect(cells[4]).toBe('30');
      expect(cells[5]).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live\/console-show\?OSSAccessKeyId=.+&Expires=\d+&Signature=/);
      await row.locator('button', { hasText: 'Preview' }).click();
      await eventually(async () => ((await page.evaluate(() => (document.getElementById('preview') as HTMLVideoElement).currentTime)) > 1 ? true : undefined), 20_000, 'preview playing');
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/console.png', fullPage: true });

      await row.locator('button', { hasText: 'Disable' }).click();
      await eventually(async () => ((await row.locator('td.status').textContent()) === 'disabled' ? true : undefined), 5_000, 'disabled in the list');
      await push.exited;
      expect((await pub.getChannelStatus('console-show')).data).toEqual({ Status: 'Disabled' });
      expect(pageErrors).toEqual([]);
    } finally {
      push.kill();
      await push.exited;
      await page.close();
    }
  }, 90_000);

  it("shows a live channel's snapshot, its push history, and makes and plays a VOD playlist", async () => {
    const pub = t.client('pub');
    await pub.putChannel('console-thumbs', {
      Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' },
      Snapshot: { RoleName: '', DestBucket: 'media', NotifyTopic: '', Interval: '1' },
    });
    const { page, pageErrors } = await signedInPage();
    const row = page.locator('tr[data-channel="console-thumbs"]');
    await row.waitFor();

    const url = pub.getRtmpUrl('console-thumbs', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${t.app.rtmpPort()}`);
    const push = ffmpegPush(url, await fixture('main.flv'));
    try {
      const img = row.locator('td.snapshot img');
      // the image, from the private DestBucket through a signed URL, loaded at the video's size
      const first = await eventually(async () => {
        const size = await img.evaluate((el: HTMLImageElement) => (el.complete ? [el.naturalWidth, el.naturalHeight, el.getAttribute('src')] : undefined)).catch(() => undefined);
        return size && size[0] === 1280 ? size : undefined;
      }, 20_000, 'a snapshot thumbnail in the row');
      expect(first[1]).toBe(720);
      expect(first[2]).toMatch(/^\/media\/console-thumbs\/\d{13}\.jpg\?OSSAccessKeyId=/);
      // refreshed while live
      await eventually(async () => ((await img.getAttribute('src')) !== first[2] ? true : undefined), 10_000, 'a newer snapshot');
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/console-snapshot.png', fullPage: true });
      expect(await push.exited).toBe(0);

      await row.locator('button', { hasText: 'History' }).click();
      const record = page.locator('#history tbody tr').first();
      await eventually(async () => ((await record.locator('td').nth(3).textContent()) === 'unpublished' ? true : undefined), 10_000, 'the ended push in the history');
      expect(await record.locator('td').nth(2).textContent()).toMatch(/^127\.0\.0\.1/);
      await record.click();
      expect(await page.inputValue('#vod-start')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      await page.fill('#vod-name', 'console-vod.m3u8');
      await page.click('#vod button[type=submit]');
      const link = page.locator('#vod-result a');
      await link.waitFor();
      expect(await link.textContent()).toBe('Play console-thumbs/console-vod.m3u8');
      const vod = (await pub.get('console-thumbs/console-vod.m3u8')).content.toString();
      expect(vod).toContain('#EXT-X-ENDLIST');
      await link.click();
      await eventually(async () => ((await page.evaluate(() => (document.getElementById('preview') as HTMLVideoElement).currentTime)) > 1 ? true : undefined), 20_000, 'the VOD playing');
      expect(pageErrors).toEqual([]);
    } finally {
      push.kill();
      await push.exited;
      await page.close();
    }
  }, 90_000);

  it("charts a live channel's health (bitrate, frame rate, segment latency) with its verdict, and a past push's from its history", async () => {
    const pub = t.client('pub');
    await pub.putChannel('console-health', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
    const url = pub.getRtmpUrl('console-health', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${t.app.rtmpPort()}`);
    const push = ffmpegPush(url, await fixture('main.flv'), { loopSeconds: 25 });
    const { page, pageErrors } = await signedInPage();
    try {
      const row = page.locator('tr[data-channel="console-health"]');
      await eventually(async () => ((await row.locator('td.health').textContent()) === 'healthy' ? true : undefined), 20_000, 'the healthy badge');
      await row.locator('button', { hasText: 'Health' }).click();
      const bitrate = page.locator('#health-charts .chart').first();
      // redrawn every 2 s: wait for ten one-second points
      await eventually(async () => (Number(await bitrate.getAttribute('data-points')) >= 10 ? true : undefined), 30_000, 'ten points on the bitrate chart');
      expect(await page.locator('#health-verdict').textContent()).toBe('healthy');
      expect(await bitrate.locator('h3').textContent()).toMatch(/^Bitrate: \d+ kbit\/s$/);
      const points = (await bitrate.locator('polyline').getAttribute('points'))!.split(' ');
      expect(points.length).toBeGreaterThanOrEqual(10);
      // a real line: its points differ in height
      expect(new Set(points.map((p) => p.split(',')[1])).size).toBeGreaterThan(1);
      expect(await page.locator('#health-charts .chart').allTextContents()).toEqual([expect.stringMatching(/^Bitrate/), expect.stringMatching(/^Frame rate: 30 fps/), expect.stringMatching(/^Segment cut → stored: [\d.]+ ms/)]);
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/console-health.png', fullPage: true });

      // after the push: its history row opens its range, from the catalog's ten-second summaries
      await push.exited;
      await eventually(async () => ((await row.locator('td.status').textContent()) === 'idle' ? true : undefined), 20_000, 'idle');
      await row.locator('button', { hasText: 'History' }).click();
      await page.locator('#history tbody tr').first().locator('button', { hasText: 'Health' }).click();
      await eventually(async () => ((await page.locator('#health-range').textContent())?.includes('(10 s)') ? true : undefined), 10_000, 'the summaries of the push');
      expect(Number(await bitrate.getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
      expect(pageErrors).toEqual([]);
    } finally {
      push.kill();
      await page.close();
    }
  }, 90_000);

  it('shows the API error when the key is wrong', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.endpoint}/console`);
    await page.fill('#key-id', KEY.accessKeyId);
    await page.fill('#key-secret', 'wrong-secret');
    await page.click('#login button[type=submit]');
    await eventually(async () => ((await page.locator('#message').textContent())?.includes('SignatureDoesNotMatch') ? true : undefined), 10_000, 'error message');
    await page.close();
  });
});
