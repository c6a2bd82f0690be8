import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { obsFields, signPushUrl } from '../src/auth/push-url.js';
import { eventually } from './support/ffmpeg-push.js';
import { ffmpegWarnings, probeStreams } from './support/media-tools.js';
import { startObs, type ObsProcess } from './support/obs.js';
import { KEY, startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Real OBS Studio (Debian's obs-studio, headless under xvfb-run). OBS's RTMP library
// percent-decodes the stream key before it sends it, which ffmpeg does not: a signature
// holding "+" arrives as a literal "+" and must not be read as a space.
let t: TestApp;
let client: AliOss;
const running: ObsProcess[] = [];

beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'pub' });
  client = t.client('pub');
});
afterAll(async () => {
  await Promise.all(running.map((o) => o.stop()));
  await t.close();
});

const channelConfig = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', PlaylistName: 'playlist.m3u8' } };

/** A signed push URL whose signature satisfies `wanted` (found by trying expiry times). */
function pushUrlWhere(channel: string, wanted: (signature: string) => boolean): { url: string; signature: string } {
  const start = Math.floor(Date.now() / 1000) + 3600;
  for (let expires = start; expires < start + 10_000; expires++) {
    const url = signPushUrl({ base: `rtmp://127.0.0.1:${t.app.rtmpPort()}`, bucket: 'pub', channel, ...KEY, expires });
    const signature = decodeURIComponent(/Signature=([^&]+)/.exec(url)![1]!);
    if (wanted(signature)) return { url, signature };
  }
  throw new Error('no expiry time gave such a signature');
}

const segmentsIn = (playlist: string) => playlist.split('\n').filter((l) => l.endsWith('.ts'));

async function stopAndWaitIdle(obs: ObsProcess, channel: string): Promise<void> {
  await obs.stop();
  await eventually(async () => (await client.getChannelStatus(channel)).data.Status === 'Idle', 15_000, `${channel} idle`);
}

describe('OBS Studio pushes with the signed Stream Key the README tells users to paste', () => {
  it.each([
    ['a "+" in the signature', 'obs-plus', (s: string) => s.includes('+')],
    ['a "/" (and no "+") in the signature', 'obs-slash', (s: string) => s.includes('/') && !s.includes('+')],
    ['neither "+" nor "/" in the signature', 'obs-plain', (s: string) => !s.includes('+') && !s.includes('/')],
  ])('is accepted with %s, and its segments decode', async (_what, channel, wanted) => {
    await client.putChannel(channel, channelConfig);
    const { url } = pushUrlWhere(channel, wanted);
    const obs = startObs(obsFields(url));
    running.push(obs);
    const playlistUrl = `${t.endpoint}/pub/${channel}/playlist.m3u8`;
    try {
      await eventually(async () => {
        const res = await fetch(playlistUrl);
        return res.status === 200 && segmentsIn(await res.text()).length >= 2;
      }, 30_000, 'two segments from OBS');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nOBS log:\n${obs.log().slice(-3000)}`);
    }
    const stat = (await client.getChannelStatus(channel)).data;
    expect(stat.Status).toBe('Live');
    expect(stat.Video).toMatchObject({ Width: '640', Height: '360', Codec: 'H264' });
    expect(stat.Audio).toMatchObject({ Codec: 'AAC' });
    await stopAndWaitIdle(obs, channel);

    const playlist = await (await fetch(playlistUrl)).text();
    const segments = segmentsIn(playlist);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const uri of segments) {
      const segmentUrl = `${t.endpoint}/pub/${channel}/${uri}`;
      expect(await ffmpegWarnings(segmentUrl)).toBe('');
      const streams = await probeStreams(segmentUrl);
      expect(streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    }
    expect(obs.log()).not.toContain('Publish.Denied');
  });
});

describe('OBS Studio reconnecting', () => {
  it('comes back on its own within 5 s when the gateway drops its connection (a restart), with the same key', async () => {
    await client.putChannel('obs-reconnect', channelConfig);
    const { url } = pushUrlWhere('obs-reconnect', (sig) => sig.includes('+'));
    const obs = startObs({ ...obsFields(url), retryDelaySec: 1 });
    running.push(obs);
    const playlistUrl = `${t.endpoint}/pub/obs-reconnect/playlist.m3u8`;
    await eventually(async () => {
      const res = await fetch(playlistUrl);
      return res.status === 200 && segmentsIn(await res.text()).length >= 2;
    }, 30_000, 'two segments from OBS');

    // stop the gateway (every connection dropped), then start it again on the same ports and data
    const { config } = t.app;
    const ports = { http: t.app.httpPort(), rtmp: t.app.rtmpPort() };
    await t.app.stop();
    const droppedAt = Date.now();
    const again = createApp({ ...config, http: { ...config.http, port: ports.http }, rtmp: { ...config.rtmp, port: ports.rtmp } });
    await again.start();
    t = { ...t, app: again, close: () => again.stop() };

    const records = await eventually(async () => {
      const r = (await client.getChannelHistory('obs-reconnect')).records;
      return r.length === 2 ? r : undefined;
    }, 10_000, 'OBS back as a second push');
    expect(Date.parse(records[1].StartTime) - droppedAt).toBeLessThanOrEqual(5000);
    expect(records[0]).toMatchObject({ EndReason: 'shutdown' });
    const lastSegment = async () => Number(/(\d+)\.ts$/.exec(segmentsIn(await (await fetch(playlistUrl)).text()).at(-1)!)![1]);
    const before = await lastSegment();
    await eventually(async () => (await lastSegment()) >= before + 2, 15_000, 'new segments after the reconnect');
    expect((await client.getChannelStatus('obs-reconnect')).data.Status).toBe('Live');
    await stopAndWaitIdle(obs, 'obs-reconnect');
    const playlist = await (await fetch(playlistUrl)).text();
    expect(playlist).toContain('#EXT-X-DISCONTINUITY');
    expect(await ffmpegWarnings(playlistUrl)).toBe('');
  }, 90_000);
});
