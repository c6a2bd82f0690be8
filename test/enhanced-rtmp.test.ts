import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hevcTags } from '../scripts/lib/enhanced-flv.js';
import { fixture } from '../scripts/lib/fixtures.js';
import { command, mediaMessages, publishCommands, ServerMessages } from '../scripts/lib/rtmp-wire.js';
import { eventually } from './support/ffmpeg-push.js';
import { endedPlaylist, handshake, openRtmpSocket } from './support/rtmp-socket.js';
import { ffmpegWarnings, probeStreams } from './support/media-tools.js';
import { startTestApp, type TestApp } from './support/test-app.js';

// An Enhanced RTMP publisher (HEVC as 'hvc1' FourCC tags, fourCcList in connect), made by
// hand: Debian's ffmpeg 5.1 cannot send it. The tags are x265 output wrapped by
// scripts/lib/enhanced-flv.ts.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
  await t.client('open').putChannel('hevc', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '10' } });
});
afterAll(() => t?.close());


describe('Enhanced RTMP ingest', () => {
  it('takes an HEVC push: GetLiveChannelStat says H265, and the TS segments decode as HEVC at the pushed size', async () => {
    const tags = hevcTags(readFileSync(await fixture('hevc-360p.hevc')), 25);
    const { socket, received } = await openRtmpSocket(t.app.rtmpPort());
    const s1 = await handshake(socket, received);
    const tcUrl = `rtmp://open.live.test:${t.app.rtmpPort()}/live`;
    socket.write(Buffer.concat([s1, publishCommands(tcUrl, 'hevc', { fourCcList: ['hvc1', 'av01'] }), mediaMessages(tags, 0)]));

    const stat = await eventually(async () => {
      const s = (await t.client('open').getChannelStatus('hevc')).data;
      return s.Video ? s : undefined;
    }, 10_000, 'a live HEVC stat');
    expect(stat.Status).toBe('Live');
    expect(stat.Video).toMatchObject({ Width: '640', Height: '360', Codec: 'H265' });

    socket.write(command({ cmd: 'deleteStream', transId: 4, cmdObj: null, streamId: 1 }));
    const channelDir = join(t.dataDir, 'buckets', 'open', 'hevc');
    const playlist = await endedPlaylist(channelDir);
    const server = new ServerMessages();
    server.feed(received().subarray(3073));
    expect(server.statuses().map((s) => s.code)).toEqual(['NetStream.Publish.Start']);
    const segments = playlist.split('\n').filter((l) => l.endsWith('.ts'));
    expect(segments.length).toBe(3);
    for (const s of segments) {
      expect(await ffmpegWarnings(join(channelDir, s)), s).toBe('');
      expect((await probeStreams(join(channelDir, s)))[0]).toMatchObject({ codec_name: 'hevc', width: 640, height: 360 });
    }
    socket.destroy();
  }, 30_000);
});
