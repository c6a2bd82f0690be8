import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPushUrl } from '../src/auth/push-url.js';
import { eventually } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startObs, type ObsProcess } from './support/obs.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';
import { join } from 'node:path';

// OBS Studio (Debian's, headless) with its SRT output: the Server field as sign-url --srt --obs
// prints it (an srt:// URL with the stream id and passphrase in its query), the Stream Key empty.
const PASSPHRASE = 'obs-srt-passphrase-0001';
let t: TestApp;
let obs: ObsProcess | undefined;
beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'media', srt: { port: 0, passphrase: PASSPHRASE } });
  await t.client('media').putChannel('obs-srt', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
}, 60_000);
afterAll(async () => {
  await obs?.stop();
  await t?.close();
});

describe('OBS Studio over SRT', () => {
  it('pushes with the srt:// Server field, encrypted; its segments decode', async () => {
    const push = signPushUrl({ base: 'rtmp://h', bucket: 'media', channel: 'obs-srt', ...KEY, expires: Math.floor(Date.now() / 1000) + 3600 });
    const server = `srt://127.0.0.1:${t.app.srtPort()}?streamid=${encodeURIComponent(push.slice('rtmp://h/'.length))}&latency=120000&passphrase=${PASSPHRASE}&pbkeylen=16`;
    obs = startObs({ server, streamKey: '' });
    try {
      await eventually(async () => ((await t.app.storeFor('media').head('obs-srt/playlist1.ts')) ? true : undefined), 45_000, 'two segments from OBS over SRT');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nOBS log:\n${obs.log().slice(-3000)}`);
    }
    await obs.stop();
    expect(await ffmpegWarnings(join(t.dataDir, 'buckets', 'media', 'obs-srt', 'playlist0.ts'))).toBe('');
  }, 90_000);
});
