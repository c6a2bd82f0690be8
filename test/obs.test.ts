import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
