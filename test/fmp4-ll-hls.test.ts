import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { av1Tags } from '../scripts/lib/enhanced-flv.js';
import { fixture } from '../scripts/lib/fixtures.js';
import { command, mediaMessages, publishCommands } from '../scripts/lib/rtmp-wire.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { ffmpegWarnings, probeStreams } from './support/media-tools.js';
import { endedPlaylist, handshake, openRtmpSocket } from './support/rtmp-socket.js';
import { ossError, startTestApp, type TestApp } from './support/test-app.js';

// fMP4 (CMAF) channels and LL-HLS, through the gateway: the channel options, real pushes
// (ffmpeg for H.264, the hand-made Enhanced RTMP client for AV1), what lands in storage and
// what the gateway answers from memory while live.
let t: TestApp;
const target = (extra: Record<string, string>) => ({ Target: { Type: 'HLS', FragDuration: '2', FragCount: '5', ...extra } });
const open = () => t.client('open');

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

async function get(path: string): Promise<{ status: number; text: string; body: Buffer; type: string | null; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${t.endpoint}/open/${path}`);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: body.toString(), body, type: res.headers.get('content-type'), ms: performance.now() - started };
}

/** The last part the playlist lists: its segment and index. */
function lastPart(playlist: string): { msn: number; part: number } {
  const uris = [...playlist.matchAll(/#EXT-X-PART:[^\n]*URI="[^"?]*?(\d+)\.(\d+)\.m4s(?:\?[^"]*)?"/g)];
  const last = uris.at(-1);
  if (!last) throw new Error(`no parts in\n${playlist}`);
  return { msn: Number(last[1]), part: Number(last[2]) };
}

describe('channel options', () => {
  it('takes SegmentFormat and PartDuration in Target, answers them in GetLiveChannelInfo, and refuses bad ones', async () => {
    await open().putChannel('opts', target({ SegmentFormat: 'fMP4', PartDuration: '0.5' }));
    const info = (await open().getChannel('opts')).data;
    expect(info.Target).toMatchObject({ Type: 'HLS', SegmentFormat: 'fMP4', PartDuration: '0.5' });
    await open().putChannel('plain', target({}));
    expect((await open().getChannel('plain')).data.Target).not.toHaveProperty('SegmentFormat');
    for (const [extra, argument] of [
      [{ SegmentFormat: 'webm' }, 'SegmentFormat'],
      [{ PartDuration: '0.5' }, 'PartDuration'],
      [{ SegmentFormat: 'fMP4', PartDuration: '0.1' }, 'PartDuration'],
      [{ SegmentFormat: 'fMP4', PartDuration: '3' }, 'PartDuration'],
      [{ SegmentFormat: 'fMP4', PartDuration: 'soon' }, 'PartDuration'],
    ] as const) {
      const err = await ossError(open().putChannel('bad', target(extra)));
      expect(err, JSON.stringify(extra)).toMatchObject({ status: 400, code: 'InvalidArgument' });
      expect(err.message).toContain(argument);
    }
  });
});

describe('an LL-HLS channel while live', () => {
  it('serves parts, blocking reloads and the preload-hinted part from memory, and stores full fMP4 segments', async () => {
    await open().putChannel('ll', target({ SegmentFormat: 'fMP4', PartDuration: '0.5' }));
    const push = ffmpegPush(`${t.rtmpBase}/live/ll`, await fixture('long.flv'), { tcUrl: `rtmp://open.live.test:${t.app.rtmpPort()}/live` });
    try {
      const first = await eventually(async () => {
        const r = await get('ll/playlist.m3u8');
        return r.status === 200 && r.text.includes('#EXT-X-PART:') ? r : undefined;
      }, 15_000, 'an LL-HLS playlist with parts');
      expect(first.text).toContain('#EXT-X-VERSION:9');
      expect(first.text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500');
      expect(first.text).toContain('#EXT-X-PART-INF:PART-TARGET=0.500');
      expect(first.text).toMatch(/#EXT-X-MAP:URI="playlist-init\d+\.mp4"/);
      expect(first.text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="playlist\d+\.\d+\.m4s"/);

      // blocking reloads, each for the part after the newest: answered when it is cut
      let at = lastPart(first.text);
      const waits: number[] = [];
      for (let i = 0; i < 8; i++) {
        const next = { msn: at.msn, part: at.part + 1 };
        const r = await get(`ll/playlist.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
        expect(r.status).toBe(200);
        const now = lastPart(r.text);
        expect(now.msn > next.msn || (now.msn === next.msn && now.part >= next.part) || r.text.includes(`playlist${next.msn}.m4s`)).toBe(true);
        waits.push(r.ms);
        at = now;
      }
      // parts come every 0.5 s of media, pushed in real time: no reload waits much longer than one part
      console.log(`LL-HLS: blocking reloads for the next part waited ${waits.map((w) => w.toFixed(0)).join(', ')} ms`);
      expect(Math.max(...waits)).toBeLessThan(900);
      expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(2500);

      // the hinted part: asked for before it exists, answered once it does
      const hinted = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec((await get('ll/playlist.m3u8')).text)![1]!;
      const part = await get(`ll/${hinted}`);
      expect(part.status).toBe(200);
      expect(part.type).toBe('video/iso.segment');
      expect(part.body.subarray(4, 8).toString()).toBe('moof');

      const listed = (await get('ll/playlist.m3u8')).text;
      const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(listed)![1]!;
      expect((await get(`ll/${init}`)).body.subarray(4, 8).toString()).toBe('ftyp');

      // bad blocking requests
      expect((await get(`ll/playlist.m3u8?_HLS_msn=${at.msn + 10}`)).status).toBe(400);
      expect((await get('ll/playlist.m3u8?_HLS_part=1')).status).toBe(400);
      expect((await get('ll/playlist.m3u8?_HLS_msn=-1')).status).toBe(400);
      // a few whole segments before the push ends
      await eventually(async () => (lastPart((await get('ll/playlist.m3u8')).text).msn >= 3 ? true : undefined), 15_000, 'segment 3');
    } finally {
      push.kill('SIGINT');
      await push.exited;
    }
    const channelDir = join(t.dataDir, 'buckets', 'open', 'll');
    const stored = await endedPlaylist(channelDir);
    // storage holds the plain playlist: full segments after their init segment, no parts
    expect(stored).not.toContain('#EXT-X-PART');
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(stored)![1]!;
    const segments = stored.split('\n').filter((l) => l.endsWith('.m4s'));
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const whole = join(channelDir, 'whole.mp4');
    writeFileSync(whole, Buffer.concat([readFileSync(join(channelDir, map)), ...segments.map((s) => readFileSync(join(channelDir, s)))]));
    expect(await ffmpegWarnings(whole)).toBe('');
    expect((await probeStreams(whole)).map((s) => s.codec_name)).toEqual(['h264', 'aac']);

    // a VOD playlist of the push names the init segment too
    const end = Math.floor(Date.now() / 1000) + 1;
    await open().createVod('ll', 'vod.m3u8', { startTime: end - 120, endTime: end });
    const vod = (await get('ll/vod.m3u8')).text;
    expect(vod).toContain(`#EXT-X-MAP:URI="${map}"`);
    expect(vod).toContain('#EXT-X-VERSION:6');
  }, 60_000);
});

describe('an LL-HLS channel in a private bucket', () => {
  it('plays through hls/sign: parts, the init segment and the hint come signed, blocking reloads keep the signature', async () => {
    const media = t.client('media');
    await media.putChannel('ll-private', target({ SegmentFormat: 'fMP4', PartDuration: '0.5' }));
    const pushUrl = media.getRtmpUrl('ll-private', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase);
    const push = ffmpegPush(pushUrl, await fixture('long.flv'), { tcUrl: `rtmp://media.live.test:${t.app.rtmpPort()}/live` });
    try {
      const signer = t.client('media', undefined, { endpoint: 'http://live.test' });
      const signed = `${t.endpoint}/media/ll-private/playlist.m3u8${new URL(signer.signatureUrl('ll-private/playlist.m3u8', { expires: 600, process: 'hls/sign' })).search}`;
      const first = await eventually(async () => {
        const text = await (await fetch(signed)).text();
        return text.includes('#EXT-X-PART:') ? text : undefined;
      }, 15_000, 'a signed LL-HLS playlist');
      const uris = [...first.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!);
      expect(uris.length).toBeGreaterThan(2);
      for (const uri of uris) expect(uri, uri).toMatch(/\?OSSAccessKeyId=.+&Expires=\d+&Signature=/);
      const part = uris.find((u) => /^playlist\d+\.\d+\.m4s\?/.test(u))!;
      const got = await fetch(new URL(part, signed));
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).subarray(4, 8).toString()).toBe('moof');
      expect((await fetch(`${t.endpoint}/media/ll-private/${part.split('?')[0]}`)).status).toBe(403);
      // a blocking reload: the player adds _HLS_msn/_HLS_part to the signed URL
      const at = lastPart(first);
      const started = performance.now();
      const reload = await fetch(`${signed}&_HLS_msn=${at.msn}&_HLS_part=${at.part + 1}`);
      expect(reload.status).toBe(200);
      const next = lastPart(await reload.text());
      expect(next.msn > at.msn || next.part > at.part).toBe(true);
      expect(performance.now() - started).toBeLessThan(900);
    } finally {
      push.kill('SIGINT');
      await push.exited;
    }
  }, 60_000);
});

describe('AV1', () => {
  it('takes an AV1 push on an fMP4 channel: stat says AV1, the segments decode at the pushed size', async () => {
    await open().putChannel('av1', target({ SegmentFormat: 'fMP4' }));
    const tags = av1Tags(readFileSync(await fixture('av1-360p.obu')), 25);
    const { socket, received } = await openRtmpSocket(t.app.rtmpPort());
    const s1 = await handshake(socket, received);
    socket.write(Buffer.concat([s1, publishCommands(`rtmp://open.live.test:${t.app.rtmpPort()}/live`, 'av1', { fourCcList: ['av01'] }), mediaMessages(tags, 0)]));
    const stat = await eventually(async () => {
      const s = (await open().getChannelStatus('av1')).data;
      return s.Video ? s : undefined;
    }, 10_000, 'a live AV1 stat');
    expect(stat.Video).toMatchObject({ Width: '640', Height: '360', Codec: 'AV1' });
    socket.write(command({ cmd: 'deleteStream', transId: 4, cmdObj: null, streamId: 1 }));
    const channelDir = join(t.dataDir, 'buckets', 'open', 'av1');
    const playlist = await endedPlaylist(channelDir);
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!;
    const segments = playlist.split('\n').filter((l) => l.endsWith('.m4s'));
    expect(segments).toHaveLength(3);
    const whole = join(channelDir, 'whole.mp4');
    writeFileSync(whole, Buffer.concat([readFileSync(join(channelDir, map)), ...segments.map((s) => readFileSync(join(channelDir, s)))]));
    expect(await ffmpegWarnings(whole)).toBe('');
    expect((await probeStreams(whole))[0]).toMatchObject({ codec_name: 'av1', width: 640, height: 360 });
    socket.destroy();
  }, 30_000);

  it('refuses AV1 on an MPEG-TS channel with a notice, storing nothing', async () => {
    await open().putChannel('av1-ts', target({}));
    const tags = av1Tags(readFileSync(await fixture('av1-360p.obu')), 25);
    const { socket, received } = await openRtmpSocket(t.app.rtmpPort());
    const s1 = await handshake(socket, received);
    socket.write(Buffer.concat([s1, publishCommands(`rtmp://open.live.test:${t.app.rtmpPort()}/live`, 'av1-ts', { fourCcList: ['av01'] }), mediaMessages(tags, 0)]));
    await eventually(async () => ((await open().getChannelStatus('av1-ts')).data.Status === 'Live' ? true : undefined), 10_000, 'the push');
    socket.write(command({ cmd: 'deleteStream', transId: 4, cmdObj: null, streamId: 1 }));
    await eventually(async () => ((await open().getChannelStatus('av1-ts')).data.Status === 'Idle' ? true : undefined), 10_000, 'the push to end');
    const listed = await open().list({ prefix: 'av1-ts/' });
    expect(listed.objects ?? []).toEqual([]);
    socket.destroy();
  }, 30_000);
});
