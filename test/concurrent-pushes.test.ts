import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('several publishers at once', () => {
  // Muxer output chunks are recycled between channels once stored: a chunk reused too early
  // would corrupt another channel's segment. Concurrent pushes must each decode cleanly.
  it('keeps every channel’s segments intact while four pushes run together', async () => {
    const channels = ['p0', 'p1', 'p2', 'p3'];
    for (const ch of channels) await t.client('open').putChannel(ch, { Target: { Type: 'HLS', FragDuration: '2', FragCount: '50' } });
    const input = await fixture('main.flv');
    const pushes = channels.map((ch) =>
      ffmpegPush(`rtmp://127.0.0.1:${t.app.rtmpPort()}/live/${ch}`, input, { realtime: false, loopSeconds: 36, tcUrl: `rtmp://open.live.test:${t.app.rtmpPort()}/live` }),
    );
    expect(await Promise.all(pushes.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
    await eventually(() => (t.app.ingest.registry.size === 0 ? true : undefined), 30_000, 'pushes to end');
    for (const ch of channels) {
      const dir = join(t.dataDir, 'buckets', 'open', ch);
      const playlist = readFileSync(join(dir, 'playlist.m3u8'), 'utf8');
      const named = playlist.split('\n').filter((l) => l.endsWith('.ts'));
      expect(named.length).toBeGreaterThanOrEqual(18);
      expect(readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()).toEqual([...named].sort());
      expect(await ffmpegWarnings(join(dir, 'playlist.m3u8')), ch).toBe('');
    }
  }, 120_000);
});
