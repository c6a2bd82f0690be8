import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { parseFlv, TAG_SCRIPT } from '../src/media/flv.js';
import { endedPlaylist, handshake, openRtmpSocket } from './support/rtmp-socket.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { command, mediaMessages, publishCommands, ServerMessages, windowAckSize } from '../scripts/lib/rtmp-wire.js';
import { startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ logLevel: 'silent' });
  await t.client('open').putChannel('wire', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '10' } });
});
afterAll(() => t.close());


describe('RTMP on the wire (hand-made publisher)', () => {
  it('acknowledges the window the publisher announces and survives the 32-bit clock wrap', async () => {
    const { socket, received } = await openRtmpSocket(t.app.rtmpPort());
    const s1 = await handshake(socket, received);
    const tags = parseFlv(readFileSync(await fixture('main.flv'))).filter((x) => x.type !== TAG_SCRIPT);
    const media = mediaMessages(tags, 2 ** 32 - 5000);
    // media follows publish at once, without waiting for the status: it is held during authorisation
    socket.write(Buffer.concat([s1, windowAckSize(4096), publishCommands(`rtmp://open.live.test:${t.app.rtmpPort()}/live`, 'wire'), media]));
    socket.write(command({ cmd: 'deleteStream', transId: 4, cmdObj: null, streamId: 1 }));

    const channelDir = join(t.dataDir, 'buckets', 'open', 'wire');
    const playlist = await endedPlaylist(channelDir);
    const server = new ServerMessages();
    server.feed(received().subarray(3073));
    expect(server.statuses().map((s) => s.code)).toEqual(['NetStream.Publish.Start']);
    // an ACK once a window's worth arrived (checked per socket read, as ffmpeg and librtmp do)
    const acks = server.received.filter((m) => m.type === 3).map((m) => m.payload.readUInt32BE(0));
    expect(acks.length).toBeGreaterThan(10);
    expect(acks.every((v, i) => i === 0 || v - acks[i - 1]! >= 4096)).toBe(true);
    expect(acks.at(-1)!).toBeGreaterThan(3073 + media.length - 70_000);
    // the same six 2-second segments as a remux of the file, and they decode cleanly
    const durations = playlist.split('\n').filter((l) => l.startsWith('#EXTINF')).map((l) => l.slice(8, -1));
    expect(durations).toEqual(['2.000', '2.000', '2.000', '2.000', '2.000', '2.071']);
    expect(await ffmpegWarnings(join(channelDir, 'playlist.m3u8'))).toBe('');
    socket.destroy();
  }, 30_000);

  it('closes a connection that does not speak RTMP without answering it', async () => {
    const { socket, received, closed } = await openRtmpSocket(t.app.rtmpPort());
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    expect(received().length).toBe(0);
  });
});
