import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// An encoder whose network stalls keeps a silent TCP connection open; when it reconnects
// with the same key, the new publish takes the channel over after limits.rtmpTakeoverSilenceMs
// instead of being refused until the idle-media timeout (20 s) closes the old one.
const TAKEOVER_SILENCE_MS = 3000;
let t: TestApp;
let client: AliOss;
let long: string;
const pushes: PushProcess[] = [];

beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'pub', limits: { rtmpTakeoverSilenceMs: TAKEOVER_SILENCE_MS } });
  client = t.client('pub');
  long = await fixture('long.flv');
});
afterAll(async () => {
  for (const p of pushes) {
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  }
  await t.close();
});

const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '30', PlaylistName: 'playlist.m3u8' } };
const signedUrl = (channel: string) => client.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase);
const segmentCount = async (channel: string) => {
  const res = await fetch(`${t.endpoint}/pub/${channel}/playlist.m3u8`);
  return res.status === 200 ? (await res.text()).split('\n').filter((l) => l.endsWith('.ts')).length : 0;
};
const push = (url: string, opts: Parameters<typeof ffmpegPush>[2] = {}) => {
  const p = ffmpegPush(url, long, opts);
  pushes.push(p);
  return p;
};

describe('a reconnecting publisher', () => {
  it('is refused while the current publisher still sends media', async () => {
    await client.putChannel('steady', config);
    const first = push(signedUrl('steady'));
    await eventually(async () => (await segmentCount('steady')) >= 2, 20_000, 'two segments');
    // the first one keeps sending for the whole time the second one tries
    for (let i = 0; i < 3; i++) {
      const second = push(signedUrl('steady'), { loopSeconds: 5 });
      expect(await second.exited).not.toBe(0);
      expect(second.stderr()).toMatch(/Server error: Live channel "steady" is already being pushed to \(by 127\.0\.0\.1:\d+\); one publisher at a time\./);
      await new Promise((r) => setTimeout(r, 1500));
    }
    expect((await client.getChannelStatus('steady')).data.Status).toBe('Live');
    expect((await client.getChannelHistory('steady')).records).toHaveLength(1);
    first.kill();
    await first.exited;
  }, 60_000);

  it('takes over a frozen publisher within the takeover silence + 1 s; history says "replaced"; the playlist decodes across the seam', async () => {
    await client.putChannel('frozen', config);
    const url = signedUrl('frozen');
    const first = push(url);
    await eventually(async () => (await segmentCount('frozen')) >= 3, 20_000, 'three segments');
    const beforeFreeze = await segmentCount('frozen');
    first.kill('SIGSTOP');
    const frozenAt = Date.now();

    // the encoder retries every 500 ms with the same signed URL, as OBS's reconnect does
    let second: PushProcess | undefined;
    while (!second && Date.now() - frozenAt < 15_000) {
      const attempt = push(url, { loopSeconds: 8 });
      const outcome = await Promise.race([attempt.exited, new Promise((r) => setTimeout(() => r('running'), 500))]);
      if (outcome === 'running') second = attempt;
      else expect(attempt.stderr()).toContain('is already being pushed to');
    }
    expect(second, 'a reconnect was accepted').toBeDefined();
    const records = await eventually(async () => {
      const r = (await client.getChannelHistory('frozen')).records;
      return r.length === 2 ? r : undefined;
    }, 5000, 'a second history record');
    const acceptedAfter = Date.parse(records[1].StartTime) - frozenAt;
    expect(acceptedAfter).toBeGreaterThanOrEqual(TAKEOVER_SILENCE_MS - 100);
    expect(acceptedAfter).toBeLessThanOrEqual(TAKEOVER_SILENCE_MS + 1000);
    expect(records[0]).toMatchObject({ EndReason: 'replaced' });
    expect(records[0].EndTime).toBeDefined();

    expect(await second!.exited).toBe(0);
    const last = await eventually(async () => (await client.getChannelHistory('frozen')).records[1].EndReason, 10_000, 'second push closed');
    expect(last).toBe('unpublished');

    const playlistUrl = `${t.endpoint}/pub/frozen/playlist.m3u8`;
    const playlist = await (await fetch(playlistUrl)).text();
    const segments = playlist.split('\n').filter((l) => l.endsWith('.ts'));
    expect(segments.length).toBeGreaterThan(beforeFreeze + 2);
    expect(playlist.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    expect(playlist.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(await ffmpegWarnings(playlistUrl)).toBe('');

    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_publisher_takeovers_total 1$/m);

    // the frozen encoder wakes up to a closed connection and gives up
    first.kill('SIGCONT');
    expect(await first.exited).not.toBe(0);
  }, 60_000);
});
