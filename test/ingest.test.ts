import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { KEY, startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Pushes from an IP address go to the default bucket: "pub" (public-read) here, so players
// can fetch without signing; pushes still need a signed URL there.
let t: TestApp;
let client: AliOss;
let rtmp: string;
let main: string;

beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'pub' });
  client = t.client('pub');
  rtmp = `rtmp://127.0.0.1:${t.app.rtmpPort()}`;
  main = await fixture('main.flv');
});
afterAll(() => t.close());

/** ali-oss getRtmpUrl, with the port swapped for the test's RTMP port. */
function signedUrl(channel: string, opts: { expires?: number; params?: Record<string, string>; c?: AliOss } = {}): string {
  const url = (opts.c ?? client).getRtmpUrl(channel, { expires: opts.expires ?? 3600, params: opts.params });
  return url.replace(/^rtmp:\/\/[^/]+/, rtmp);
}

const channelConfig = (fragCount = 3) => ({ Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: String(fragCount), PlaylistName: 'playlist.m3u8' } });
const playlistLines = (text: string) => text.split('\n').filter((l) => l.endsWith('.ts'));

describe('RTMP ingest with real ffmpeg', () => {
  it('a signed push goes live, plays over HTTP while it streams, and ends with history, ENDLIST and a full VOD', async () => {
    await client.putChannel('show', channelConfig(3));
    const publisher = ffmpegPush(signedUrl('show'), main);

    const stat = await eventually(async () => {
      const s = (await client.getChannelStatus('show')).data;
      return s.Status === 'Live' && s.Video && Number(s.Video.Bandwidth) > 0 && s.Audio ? s : undefined;
    }, 15_000, 'Live stat with video and audio');
    expect(stat.Video).toMatchObject({ Width: '1280', Height: '720', Codec: 'H264' });
    expect(Math.abs(Number(stat.Video.FrameRate) - 30)).toBeLessThanOrEqual(1);
    expect(stat.Audio).toMatchObject({ SampleRate: '44100', Codec: 'AAC' });
    expect(stat.RemoteAddr).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.now() - Date.parse(stat.ConnectedTime)).toBeLessThan(20_000);

    // a player follows the live playlist until ENDLIST
    const playlistUrl = `${t.endpoint}/pub/show/playlist.m3u8`;
    const live = await eventually(async () => {
      const res = await fetch(playlistUrl);
      return res.status === 200 ? res : undefined;
    }, 15_000, 'first live playlist');
    expect(live.headers.get('content-type')).toBe('application/x-mpegURL');
    expect(live.headers.get('cache-control')).toBe('public, max-age=1'); // from memory while live
    expect(live.headers.get('access-control-allow-origin')).toBe('*');
    const player = ffmpegWarnings(playlistUrl);
    const sizes: number[] = [];
    while ((await client.getChannelStatus('show')).data.Status === 'Live') {
      const text = await (await fetch(playlistUrl)).text();
      sizes.push(playlistLines(text).length);
      if (!text.includes('#EXT-X-ENDLIST')) expect(text).not.toContain('ENDLIST');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await publisher.exited).toBe(0);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
    expect(await player).toBe('');

    const finalText = await (await fetch(playlistUrl)).text();
    expect(finalText.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    const [record] = (await client.getChannelHistory('show')).records;
    expect(record.RemoteAddr).toBe(stat.RemoteAddr);
    expect(Date.parse(record.EndTime) - Date.parse(record.StartTime)).toBeGreaterThan(10_000);

    const from = Math.floor(Date.parse(record.StartTime) / 1000);
    const to = Math.ceil(Date.parse(record.EndTime) / 1000) + 1;
    const vodUrl = `${t.endpoint}/pub/show?vod&startTime=${from}&endTime=${to}`;
    const vod = await (await fetch(vodUrl)).text();
    expect(playlistLines(vod)).toEqual(['show/playlist0.ts', 'show/playlist1.ts', 'show/playlist2.ts', 'show/playlist3.ts', 'show/playlist4.ts', 'show/playlist5.ts']);
    expect(vod.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(await ffmpegWarnings(vodUrl)).toBe('');
    expect((await client.getChannelStatus('show')).data).toEqual({ Status: 'Idle' });
    // every segment's publish latency (closing keyframe → playlist stored) was measured
    const latency = (await t.app.metrics.publishLatency.get()).values;
    expect(latency.find((v) => v.metricName === 'livechannel_segment_publish_seconds_count')!.value).toBe(6);
    expect(latency.find((v) => v.metricName === 'livechannel_segment_publish_seconds_sum')!.value).toBeGreaterThan(0);
  }, 60_000);

  describe('refuses publishers with a reason ffmpeg prints', () => {
    const refused = async (url: string, reason: RegExp, tcUrl?: string) => {
      const p = ffmpegPush(url, main, { realtime: false, tcUrl });
      expect(await p.exited).not.toBe(0);
      expect(p.stderr()).toMatch(reason);
      return p.stderr();
    };

    it('no signature on a private bucket', async () => {
      const media = t.client('media');
      await media.putChannel('private-show', channelConfig());
      const stderr = await refused(`${rtmp}/live/private-show`, /Server error: Bucket "media" is private: the push URL must be signed/, `rtmp://media.live.test:${t.app.rtmpPort()}/live`);
      expect(stderr).not.toContain('Publish.Start');
    });

    it('a wrong signature', async () => {
      await client.putChannel('sig', channelConfig());
      const wrong = t.client('pub', { accessKeyId: KEY.accessKeyId, accessKeySecret: 'not-the-secret' });
      await refused(signedUrl('sig', { c: wrong }), /Server error: The push URL signature does not match/);
    });

    it('a signature made for other parameters', async () => {
      const url = signedUrl('sig', { params: { playlistName: 'a.m3u8' } }).replace('playlistName=a.m3u8', 'playlistName=b.m3u8');
      await refused(url, /Server error: The push URL signature does not match/);
    });

    it('an expired URL', async () => {
      const expired = signedUrl('sig').replace(/Expires=\d+/, `Expires=${Math.floor(Date.now() / 1000) - 60}`);
      await refused(expired, /Server error: The push URL expired at /);
    });

    it('an unknown channel', async () => {
      await refused(signedUrl('never-created'), /Server error: No live channel "never-created" in bucket "pub"/);
    });

    it('a disabled channel', async () => {
      await client.putChannel('off', { ...channelConfig(), Status: 'disabled' });
      await refused(signedUrl('off'), /Server error: Live channel "off" is disabled/);
    });

    it('a wrong RTMP application', async () => {
      await refused(`${rtmp}/broadcast/sig`, /Server error: RTMP application must be "live"/);
    });

    it('a second publisher while one is live', async () => {
      await client.putChannel('busy', channelConfig());
      const first = ffmpegPush(signedUrl('busy'), main);
      await eventually(async () => ((await client.getChannelStatus('busy')).data.Status === 'Live' ? true : undefined));
      await refused(signedUrl('busy'), /Server error: Live channel "busy" is already being pushed to/);
      expect((await client.getChannelStatus('busy')).data.Status).toBe('Live');
      first.kill();
      await first.exited;
    });
  });

  it('disabling a live channel cuts its publisher within 1 s and closes its history record', async () => {
    await client.putChannel('cut', channelConfig());
    const p = ffmpegPush(signedUrl('cut'), main);
    await eventually(async () => ((await client.getChannelStatus('cut')).data.Status === 'Live' ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    await client.putChannelStatus('cut', 'disabled');
    await p.exited;
    const took = Date.now() - started;
    expect(took).toBeLessThan(1000);
    expect((await client.getChannelStatus('cut')).data).toEqual({ Status: 'Disabled' });
    const [record] = (await client.getChannelHistory('cut')).records;
    expect(record.EndTime).toBeDefined();
    expect(await (await fetch(`${t.endpoint}/pub/cut/playlist.m3u8`)).text()).toContain('#EXT-X-ENDLIST');
  }, 30_000);

  it('refuses to delete or re-create a channel while it is live', async () => {
    await client.putChannel('keep', channelConfig());
    const p = ffmpegPush(signedUrl('keep'), main);
    await eventually(async () => ((await client.getChannelStatus('keep')).data.Status === 'Live' ? true : undefined));
    for (const call of [client.deleteChannel('keep'), client.putChannel('keep', channelConfig(5))]) {
      const e = await call.then(() => undefined, (err: { status: number; code: string; message: string }) => err);
      expect([e?.status, e?.code]).toEqual([409, 'LiveChannelConflict']);
      expect(e?.message).toMatch(/is being pushed to/);
    }
    p.kill();
    await p.exited;
    await eventually(async () => ((await client.getChannelStatus('keep')).data.Status === 'Idle' ? true : undefined));
    expect((await client.deleteChannel('keep')).res.status).toBe(204);
  }, 30_000);

  it('honours the playlistName parameter, still under the channel folder', async () => {
    await client.putChannel('named', channelConfig());
    const p = ffmpegPush(signedUrl('named', { params: { playlistName: 'other.m3u8' } }), main, { realtime: false });
    expect(await p.exited).toBe(0);
    const text = await eventually(async () => {
      const res = await fetch(`${t.endpoint}/pub/named/other.m3u8`);
      const body = await res.text();
      return body.includes('ENDLIST') ? body : undefined;
    });
    expect(playlistLines(text).every((l) => /^other\d+\.ts$/.test(l))).toBe(true);
    expect((await fetch(`${t.endpoint}/pub/named/playlist.m3u8`)).status).toBe(404);
    expect(await ffmpegWarnings(`${t.endpoint}/pub/named/other.m3u8`)).toBe('');
  }, 30_000);

  it('a channel pushed twice keeps one playlist: a discontinuity, rising sequence numbers, playable end to end', async () => {
    await client.putChannel('twice', channelConfig(10));
    for (let i = 0; i < 2; i++) {
      const p = ffmpegPush(signedUrl('twice'), main, { realtime: false });
      expect(await p.exited).toBe(0);
      await eventually(async () => ((await client.getChannelStatus('twice')).data.Status === 'Idle' ? true : undefined));
    }
    const url = `${t.endpoint}/pub/twice/playlist.m3u8`;
    const text = await (await fetch(url)).text();
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:2');
    expect(playlistLines(text)).toEqual(Array.from({ length: 10 }, (_, i) => `playlist${i + 2}.ts`));
    expect(text).toMatch(/playlist5\.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:[\d.]+,\nplaylist6\.ts/);
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(await ffmpegWarnings(url)).toBe('');
    const records = (await client.getChannelHistory('twice')).records;
    expect(records).toHaveLength(2);
    // the VOD playlist over both pushes plays through the boundary too
    const from = Math.floor(Date.parse(records[0].StartTime) / 1000);
    const to = Math.ceil(Date.parse(records[1].EndTime) / 1000) + 30;
    const vodUrl = `${t.endpoint}/pub/twice?vod&startTime=${from}&endTime=${to}`;
    const vod = await (await fetch(vodUrl)).text();
    expect(playlistLines(vod)).toHaveLength(12);
    expect(vod.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    expect(await ffmpegWarnings(vodUrl)).toBe('');
    expect(existsSync(join(t.dataDir, 'buckets', 'pub', 'twice', 'playlist11.ts'))).toBe(true);
    expect(readFileSync(join(t.dataDir, 'buckets', 'pub', 'twice', 'playlist.m3u8'), 'utf8')).toBe(text);
  }, 60_000);
});
