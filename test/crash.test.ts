import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startServerProcess, writeGatewayConfig } from './support/server-process.js';
import { KEY } from './support/test-app.js';

function setUp() {
  const { dir, configFile } = writeGatewayConfig();
  return { configFile, channelDir: join(dir, 'data', 'buckets', 'open', 'show') };
}

const client = (port: number) => new OSS({ ...KEY, bucket: 'open', endpoint: `http://127.0.0.1:${port}` }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
const named = (playlist: string) => playlist.split('\n').filter((l) => l.endsWith('.ts'));

/** Waits until the channel's playlist on disk names at least `n` segments. */
function segmentsOnDisk(channelDir: string, n: number): Promise<true> {
  return eventually(() => {
    try {
      return named(readFileSync(join(channelDir, 'playlist.m3u8'), 'utf8')).length >= n ? true : undefined;
    } catch {
      return undefined; // no playlist yet
    }
  }, 20_000, `${n} segments on disk`);
}

describe('crash safety', () => {
  it('kill -9 mid-push leaves no playlist naming a missing or partial segment; a restart closes the push', async () => {
    const { configFile, channelDir } = setUp();
    const first = await startServerProcess(configFile);
    await client(first.httpPort).putChannel('show', { Target: { Type: 'HLS', FragDuration: '1', FragCount: '5' } });
    const push = ffmpegPush(`rtmp://127.0.0.1:${first.rtmpPort}/live/show`, await fixture('main.flv'));
    await segmentsOnDisk(channelDir, 3);
    first.signal('SIGKILL');
    expect(await first.exited).toBeNull();
    await push.exited;

    const playlist = readFileSync(join(channelDir, 'playlist.m3u8'), 'utf8');
    expect(playlist).not.toContain('#EXT-X-ENDLIST');
    for (const seg of named(playlist)) {
      expect(statSync(join(channelDir, seg)).size).toBeGreaterThan(0);
      expect(await ffmpegWarnings(join(channelDir, seg)), seg).toBe('');
    }
    // writes land by rename: nothing half-written sits beside the segments
    expect(readdirSync(channelDir).every((f) => /^playlist(\d+\.ts|\.m3u8)$/.test(f))).toBe(true);

    const second = await startServerProcess(configFile);
    try {
      const c = client(second.httpPort);
      const { records } = await c.getChannelHistory('show');
      expect(records).toHaveLength(1);
      expect(records[0].EndTime).toBeDefined();
      expect((await c.getChannelStatus('show')).data).toEqual({ Status: 'Idle' });
      // and the channel takes a new push, continuing the playlist
      const again = ffmpegPush(`rtmp://127.0.0.1:${second.rtmpPort}/live/show`, await fixture('main.flv'), { realtime: false });
      expect(await again.exited).toBe(0);
      const text = await eventually(() => {
        const t = readFileSync(join(channelDir, 'playlist.m3u8'), 'utf8');
        return t.includes('ENDLIST') ? t : undefined;
      });
      expect(text).toContain('#EXT-X-DISCONTINUITY');
    } finally {
      second.signal('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 90_000);

  it('SIGTERM mid-push flushes the open segment, ends the playlist and closes the history record', async () => {
    const { configFile, channelDir } = setUp();
    const server = await startServerProcess(configFile);
    await client(server.httpPort).putChannel('show', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '10' } });
    const push = ffmpegPush(`rtmp://127.0.0.1:${server.rtmpPort}/live/show`, await fixture('main.flv'));
    await segmentsOnDisk(channelDir, 2);
    const before = named(readFileSync(join(channelDir, 'playlist.m3u8'), 'utf8')).length;
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
    await push.exited;
    const playlist = readFileSync(join(channelDir, 'playlist.m3u8'), 'utf8');
    expect(playlist.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(named(playlist).length).toBe(before + 1); // the partial segment was flushed
    expect(await ffmpegWarnings(join(channelDir, 'playlist.m3u8'))).toBe('');

    const again = await startServerProcess(configFile);
    try {
      const { records } = await client(again.httpPort).getChannelHistory('show');
      expect(records[0].EndTime).toBeDefined();
      expect(again.output()).not.toContain('closed push records left open');
    } finally {
      again.signal('SIGTERM');
      await again.exited;
    }
  }, 60_000);
});
