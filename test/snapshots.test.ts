import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { av1Tags, hevcTags } from '../scripts/lib/enhanced-flv.js';
import { fixture } from '../scripts/lib/fixtures.js';
import { command, mediaMessages, publishCommands } from '../scripts/lib/rtmp-wire.js';
import type { FlvTag } from '../src/media/flv.js';
import { ffprobePath } from '../src/ffmpeg-path.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { startReceiver, type ReceiverProcess } from './support/receiver-process.js';
import { handshake, openRtmpSocket } from './support/rtmp-socket.js';
import { KEY, OTHER_KEY, ossError, startTestApp, type AliOss, type TestApp } from './support/test-app.js';

// Snapshots from real ffmpeg pushes: JPEGs in the destination bucket, read back through the
// object API and probed; their events; the errors of bad Snapshot options.
interface Received {
  status: number;
  path: string;
  verified: boolean;
  body: string;
}

let t: TestApp;
let r: ReceiverProcess<Received>;
const pushes: PushProcess[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'lc-snap-'));

beforeAll(async () => {
  r = await startReceiver<Received>('test/support/event-receiver.mjs');
  t = await startTestApp({ notifications: [{ url: r.url('/events'), events: ['snapshot.created'] }], events: { pollMs: 50 } });
});
afterAll(async () => {
  for (const p of pushes) p.kill();
  await t?.close();
  r?.kill();
});

const channelConfig = (snapshot: Record<string, string> | undefined, fragDuration = '2') => ({
  Description: '',
  Status: 'enabled',
  Target: { Type: 'HLS', FragDuration: fragDuration, FragCount: '3' },
  ...(snapshot ? { Snapshot: snapshot } : {}),
});

function push(c: AliOss, channel: string, input: string): PushProcess {
  const p = ffmpegPush(c.getRtmpUrl(channel, { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase), input);
  pushes.push(p);
  return p;
}

/** The snapshots of a channel in a bucket, oldest first, with their bytes probed. */
async function snapshotsIn(bucket: string, channel: string): Promise<{ key: string; time: number; probe: string }[]> {
  const dest = t.client(bucket);
  const listed = await dest.list({ prefix: `${channel}/`, 'max-keys': 1000 });
  const jpegs = (listed.objects ?? []).filter((o: { name: string }) => o.name.endsWith('.jpg'));
  return Promise.all(
    jpegs.map(async (o: { name: string }) => {
      const got = await dest.get(o.name);
      expect(got.res.headers['content-type']).toBe('image/jpeg');
      const file = join(scratch, o.name.replace('/', '_'));
      writeFileSync(file, got.content);
      const probe = execFileSync(ffprobePath(), ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim();
      return { key: o.name, time: Number(o.name.slice(channel.length + 1, -4)), probe };
    }),
  );
}

const snapshotEvents = (channel: string) =>
  r.seen.filter((s) => s.status === 200 && s.verified).map((s) => JSON.parse(s.body) as Record<string, unknown>).filter((e) => e.channel === channel);

describe('snapshots', () => {
  it('Interval 2 with a 2 s GOP: a JPEG every 2 s of the video size in DestBucket, events, and the latest in the stat', async () => {
    const media = t.client('media');
    const gop10Channel = t.client('media');
    await media.putChannel('snap2', channelConfig({ RoleName: 'role', DestBucket: 'pub', NotifyTopic: 'thumbs', Interval: '2' }));
    await gop10Channel.putChannel('snap-gop10', channelConfig({ RoleName: '', DestBucket: 'media', NotifyTopic: '', Interval: '2' }));
    const started = Date.now();
    // 12 s at 2 s GOP, and 25 s at a 10 s GOP, at once
    const a = push(media, 'snap2', await fixture('main.flv'));
    const b = push(gop10Channel, 'snap-gop10', await fixture('gop10.flv'));

    const stat = await eventually(async () => {
      const s = (await media.getChannelStatus('snap2')).data;
      return s.Snapshot ? s : undefined;
    }, 15_000, 'a snapshot in the live stat');
    expect(stat.Status).toBe('Live');
    expect(stat.Snapshot).toMatchObject({ DestBucket: 'pub', Width: '1280', Height: '720' });
    expect(stat.Snapshot.Key).toMatch(/^snap2\/\d{13}\.jpg$/);

    expect(await a.exited).toBe(0);
    const shots = await snapshotsIn('pub', 'snap2');
    expect(shots.length).toBeGreaterThanOrEqual(4);
    expect(shots.length).toBeLessThanOrEqual(7);
    for (const s of shots) {
      expect(s.probe).toBe('mjpeg,1280,720');
      expect(s.time).toBeGreaterThanOrEqual(started - 1000);
      expect(s.time).toBeLessThanOrEqual(Date.now());
    }
    const gaps = shots.slice(1).map((s, i) => s.time - shots[i]!.time);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(1900);
    // nothing in the channel's own bucket: DestBucket is pub
    expect((await snapshotsIn('media', 'snap2')).length).toBe(0);

    const events = await eventually(() => (snapshotEvents('snap2').length >= shots.length ? snapshotEvents('snap2') : undefined), 10_000, 'snapshot.created events');
    expect(events.map((e) => e.key).sort()).toEqual(shots.map((s) => s.key).sort());
    expect(events[0]).toMatchObject({ type: 'snapshot.created', bucket: 'media', destBucket: 'pub', width: 1280, height: 720, topic: 'thumbs' });
    expect(Date.parse(events[0]!.time as string)).toBe(Number((events[0]!.key as string).slice(6, -4)));

    // 10 s GOP: only the intervals that hold a keyframe (0, 10, 20 s)
    expect(await b.exited).toBe(0);
    const sparse = await snapshotsIn('media', 'snap-gop10');
    expect(sparse.map((s) => s.probe)).toEqual(['mjpeg,640,360', 'mjpeg,640,360', 'mjpeg,640,360']);
    const sparseGaps = sparse.slice(1).map((s, i) => s.time - sparse[i]!.time);
    for (const g of sparseGaps) expect(Math.abs(g - 10_000)).toBeLessThan(300);
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/livechannel_snapshots_total\{outcome="stored"\} (\d+)/);
    expect(Number(/livechannel_snapshots_total\{outcome="stored"\} (\d+)/.exec(metrics)![1])).toBe(shots.length + sparse.length);
  }, 60_000);

  it('refuses bad Snapshot options with the spec errors', async () => {
    const c = t.client('media');
    const bad = async (snapshot: Record<string, string>) => ossError(c.putChannel('snap-bad', channelConfig(snapshot)));
    for (const interval of ['0', '101', 'abc', '1.5', '-2']) {
      expect(await bad({ DestBucket: 'media', Interval: interval })).toMatchObject({ status: 400, code: 'InvalidArgument' });
    }
    const missing = await bad({ DestBucket: 'media' });
    expect(missing).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect(missing.message).toMatch(/Interval/);
    const unknown = await bad({ DestBucket: 'nosuchbucket', Interval: '5' });
    expect(unknown).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect(unknown.message).toMatch(/DestBucket "nosuchbucket" is not a bucket this gateway serves/);
    expect(await ossError(c.getChannel('snap-bad'))).toMatchObject({ status: 404, code: 'NoSuchLiveChannel' });
    // the limits and a default DestBucket (the channel's own)
    await c.putChannel('snap-ok', channelConfig({ Interval: '1' }));
    await c.putChannel('snap-ok', channelConfig({ DestBucket: 'open', Interval: '100' }));
    // GetLiveChannelInfo answers what the spec lists (no Snapshot element)
    expect(Object.keys((await c.getChannel('snap-ok')).data).sort()).toEqual(['Description', 'Status', 'Target']);
  });
});

describe('snapshots of HEVC and AV1 pushes (Enhanced RTMP)', () => {
  /** Sends the tags at their timestamps, as a live encoder does, then ends the publish. */
  async function pacedPush(channel: string, tags: FlvTag[]): Promise<void> {
    const { socket, received } = await openRtmpSocket(t.app.rtmpPort());
    const s1 = await handshake(socket, received);
    socket.write(Buffer.concat([s1, publishCommands(`rtmp://open.live.test:${t.app.rtmpPort()}/live`, channel, { fourCcList: ['hvc1', 'av01'] })]));
    const started = performance.now();
    for (const tag of tags) {
      const wait = tag.timestamp - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      socket.write(mediaMessages([tag], 0));
    }
    socket.write(command({ cmd: 'deleteStream', transId: 4, cmdObj: null, streamId: 1 }));
    await eventually(async () => ((await t.client('open').getChannelStatus(channel)).data.Status === 'Idle' ? true : undefined), 10_000, `${channel} idle`);
    socket.destroy();
  }

  it('makes JPEGs of an HEVC push with B-frames and of an AV1 push on an fMP4 channel, at the video size', async () => {
    const open = t.client('open');
    const snapshot = { RoleName: '', DestBucket: 'open', NotifyTopic: '', Interval: '1' };
    await open.putChannel('snap-hevc', channelConfig(snapshot));
    await open.putChannel('snap-av1', { ...channelConfig(snapshot), Target: { Type: 'HLS', FragDuration: '2', FragCount: '3', SegmentFormat: 'fMP4' } });
    await Promise.all([
      pacedPush('snap-hevc', hevcTags(readFileSync(await fixture('hevc-bframes-360p.hevc')), 25)),
      pacedPush('snap-av1', av1Tags(readFileSync(await fixture('av1-360p.obu')), 25)),
    ]);
    // a keyframe a second: 3 s of HEVC, 6 s of AV1
    const hevc = await eventually(async () => ((await snapshotsIn('open', 'snap-hevc')).length >= 3 ? snapshotsIn('open', 'snap-hevc') : undefined), 10_000, 'HEVC snapshots');
    expect(hevc.map((x) => x.probe)).toEqual(hevc.map(() => 'mjpeg,640,360'));
    const av1 = await eventually(async () => ((await snapshotsIn('open', 'snap-av1')).length >= 5 ? snapshotsIn('open', 'snap-av1') : undefined), 10_000, 'AV1 snapshots');
    expect(av1.map((x) => x.probe)).toEqual(av1.map(() => 'mjpeg,640,360'));
  }, 60_000);
});

describe('who may point snapshots where', () => {
  it('DestBucket must be a bucket the requester may write: a key limited to some buckets, or an anonymous request', async () => {
    const limited = await startTestApp({ credentials: [KEY, { ...OTHER_KEY, buckets: ['media'] }] });
    try {
      const c = limited.client('media', OTHER_KEY);
      const denied = await ossError(c.putChannel('thumbs', channelConfig({ DestBucket: 'pub', Interval: '5' })));
      expect(denied).toMatchObject({ status: 403, code: 'AccessDenied' });
      expect(denied.message).toMatch(/has no rights on bucket "pub"/);
      await c.putChannel('thumbs', channelConfig({ DestBucket: 'media', Interval: '5' }));
      // anonymous, on the public-read-write bucket: only a public-read-write DestBucket
      const anonymous = (snapshot: Record<string, string>) =>
        fetch(`${limited.endpoint}/open/anon?live`, {
          method: 'PUT',
          body: `<LiveChannelConfiguration><Target><Type>HLS</Type></Target><Snapshot><DestBucket>${snapshot.DestBucket}</DestBucket><Interval>5</Interval></Snapshot></LiveChannelConfiguration>`,
        });
      const refused = await anonymous({ DestBucket: 'media' });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('<Code>AccessDenied</Code>');
      expect((await anonymous({ DestBucket: 'open' })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('snapshots without ffmpeg', () => {
  it('the gateway starts, a channel with Snapshot gets the documented error, others are created', async () => {
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
    let noFfmpeg: TestApp;
    try {
      noFfmpeg = await startTestApp();
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
    }
    try {
      const c = noFfmpeg.client('media');
      const e = await ossError(c.putChannel('thumbs', channelConfig({ DestBucket: 'media', Interval: '5' })));
      expect(e).toMatchObject({ status: 501, code: 'NotImplemented' });
      expect(e.message).toMatch(/Snapshots need ffmpeg.*FFMPEG_PATH=\/nonexistent\/ffmpeg does not exist.*apt-get install ffmpeg/);
      await c.putChannel('plain', channelConfig(undefined));
      expect((await c.getChannel('plain')).data.Status).toBe('enabled');
    } finally {
      await noFfmpeg.close();
    }
  });
});
