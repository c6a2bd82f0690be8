import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { ffmpegWarnings, muxjsInspect, muxjsTransmux } from '../../test/support/media-tools.js';
import { prng, runPackager, writeSegments } from '../../test/support/packager-run.js';
import { avcC } from './avc.test.js';
import { parseFlv, TAG_AUDIO, TAG_VIDEO, type FlvTag } from './flv.js';

let main: FlvTag[];
let resChange: FlvTag[];

beforeAll(() => {
  main = parseFlv(readFileSync(`${FIXTURE_DIR}/main.flv`));
  resChange = parseFlv(readFileSync(`${FIXTURE_DIR}/res-change.flv`));
});

const isConfig = (t: FlvTag) => (t.type === TAG_AUDIO || t.type === TAG_VIDEO) && t.data[1] === 0;
const totalMs = (r: ReturnType<typeof runPackager>) => r.segments.reduce((s, x) => s + x.durationMs, 0);

async function expectCleanDecode(r: ReturnType<typeof runPackager>): Promise<void> {
  const { vod, paths } = writeSegments(r.segments);
  for (const p of paths) expect(await ffmpegWarnings(p), p).toBe('');
  expect(await ffmpegWarnings(vod)).toBe('');
}

describe('LivePackager on a real stream', () => {
  it('emits each segment before the playlist that names it, then what expired', () => {
    const r = runPackager(main, { fragDuration: 2, fragCount: 2 });
    const stored = new Set<string>();
    let lastWasSegment = false;
    for (const e of r.events) {
      if (e.type === 'segment') {
        stored.add(e.segment.uri);
        lastWasSegment = true;
      } else if (e.type === 'playlist') {
        for (const line of e.text.split('\n')) if (line.endsWith('.ts')) expect(stored.has(line)).toBe(true);
        lastWasSegment = false;
      } else if (e.type === 'expired') {
        expect(lastWasSegment).toBe(false);
        expect(e.entries.every((x) => stored.has(x.uri))).toBe(true);
      }
    }
    expect(r.segments.map((s) => s.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.playlists.at(-1)).toContain('#EXT-X-ENDLIST');
    expect(r.playlists.at(-1)!.match(/\.ts$/gm)).toHaveLength(2);
    expect(r.events.filter((e) => e.type === 'expired').flatMap((e) => (e.type === 'expired' ? e.entries : [])).map((x) => x.sequence)).toEqual([0, 1, 2, 3]);
  });

  it('reports media info from the sequence headers and the stream timing', () => {
    const r = runPackager(main);
    expect(r.packager.mediaInfo()).toEqual({
      video: { codec: 'H264', width: 1280, height: 720, profile: 'Main', level: 3.1, frameRate: 30 },
      audio: { codec: 'AAC', sampleRate: 44100, channels: 2 },
    });
    expect(r.events.filter((e) => e.type === 'media')).toHaveLength(2);
    expect(r.packager.stats).toMatchObject({ droppedFrames: 0, segments: 6 });
  });

  it('drops media that arrives before its sequence header', () => {
    const configs = main.filter(isConfig);
    const media = main.filter((t) => !isConfig(t));
    const lateAt = media.findIndex((t) => t.timestamp > 1000);
    const tags = [...media.slice(0, lateAt), ...configs.map((c) => ({ ...c, timestamp: media[lateAt]!.timestamp })), ...media.slice(lateAt)];
    const r = runPackager(tags);
    const plain = runPackager(main);
    expect(r.packager.stats.droppedFrames).toBeGreaterThan(50);
    expect(r.segments[0]!.startsWithIdr).toBe(true);
    // the first keyframe after the late headers is the one at 2 s: the first GOP is gone
    expect(Math.abs(totalMs(plain) - 2000 - totalMs(r))).toBeLessThan(50);
    return expectCleanDecode(r);
  });

  it('drops unsupported audio (MP3) and video (VP9 over Enhanced RTMP, AV1 on a TS channel) with one notice each, keeping the rest', async () => {
    const tags = main.map((t) => (t.type === TAG_AUDIO ? { ...t, data: Uint8Array.from([0x2f, 0xff, 0xfb, 0x90]) } : t));
    const vp9 = Uint8Array.from([0x90, ...Buffer.from('vp09'), 0, 0]);
    const av1 = Uint8Array.from([0x90, ...Buffer.from('av01'), 0x81, 0]);
    tags.splice(5, 0, { type: TAG_VIDEO, timestamp: 100, data: vp9 });
    tags.splice(9, 0, { type: TAG_VIDEO, timestamp: 130, data: vp9 });
    tags.splice(11, 0, { type: TAG_VIDEO, timestamp: 140, data: av1 });
    const r = runPackager(tags);
    expect(r.notices).toEqual([
      { code: 'unsupported-audio', message: 'audio codec MP3 is not supported (AAC only); audio dropped' },
      { code: 'unsupported-video', message: 'video codec VP9 is not supported (H.264, HEVC and AV1 only); video dropped' },
    ]);
    const ts = runPackager([{ type: TAG_VIDEO, timestamp: 0, data: av1 }]);
    expect(ts.notices).toEqual([{ code: 'unsupported-video', message: expect.stringContaining('AV1 needs a channel with fMP4 segments') }]);
    expect(r.packager.mediaInfo().audio).toBeUndefined();
    expect(r.segments).toHaveLength(6);
    await expectCleanDecode(r);
  });

  it('is unaffected by the 32-bit RTMP timestamp wrap', async () => {
    const shift = 2 ** 32 - 5000;
    const plain = runPackager(main);
    const wrapped = runPackager(main.map((t) => ({ ...t, timestamp: (t.timestamp + shift) % 2 ** 32 })));
    expect(wrapped.notices.map((n) => n.code)).toEqual(['timestamp-wrap']);
    expect(wrapped.segments.map((s) => s.durationMs)).toEqual(plain.segments.map((s) => s.durationMs));
    await expectCleanDecode(wrapped);
  });

  it.each([
    ['backward', -90_000],
    ['forward', 3_600_000],
  ])('re-bases a %s timestamp jump and keeps the output continuous', async (_name, jump) => {
    const plain = runPackager(main);
    const at = main.findIndex((t) => t.timestamp > 6500);
    const tags = main.map((t, i) => ({ ...t, timestamp: t.timestamp + 100_000 + (i >= at ? jump : 0) }));
    const r = runPackager(tags);
    expect(r.notices.map((n) => n.code)).toContain('timestamp-jump');
    expect(Math.abs(totalMs(r) - totalMs(plain))).toBeLessThan(100);
    expect(r.segments.every((s) => s.durationMs < 3000)).toBe(true);
    await expectCleanDecode(r);
  });

  it('starts a discontinuity at a mid-stream SPS change (resolution switch)', async () => {
    const r = runPackager(resChange);
    expect(r.notices.map((n) => n.code)).toEqual(['video-config-changed']);
    const changed = r.segments.findIndex((s) => s.discontinuity);
    expect(changed).toBeGreaterThan(0);
    expect(r.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    expect(r.segments[changed]!.startsWithIdr).toBe(true);
    expect(r.playlists.at(-1)).toContain('#EXT-X-DISCONTINUITY');
    const before = muxjsTransmux(r.segments[changed - 1]!.data).outputs[0];
    const after = muxjsTransmux(r.segments[changed]!.data).outputs[0];
    expect([before?.width, before?.height]).toEqual([1280, 720]);
    expect([after?.width, after?.height]).toEqual([640, 360]);
    expect(r.packager.mediaInfo().video).toMatchObject({ width: 640, height: 360 });
    await expectCleanDecode(r);
  });

  it('continues a playlist across pushes with a discontinuity and rising sequence numbers', () => {
    const first = runPackager(main, { fragCount: 4 });
    const second = runPackager(main, { fragCount: 4, resume: first.packager.resumeState() });
    expect(second.segments[0]).toMatchObject({ sequence: 6, discontinuity: true });
    expect(second.segments.slice(1).every((s) => !s.discontinuity)).toBe(true);
    const firstLive = second.playlists[0]!;
    expect(firstLive).toContain('#EXT-X-MEDIA-SEQUENCE:3');
    expect(firstLive).toMatch(/5\.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2\.000,\n6\.ts/);
    expect(firstLive).not.toContain('ENDLIST');
    // once the discontinuity scrolls out, the discontinuity sequence counts it
    expect(second.playlists.at(-1)).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1');
    // the second push's timestamps continue after the first's (players that ignore the tag play on)
    const lastOfFirst = muxjsInspect(first.segments.at(-1)!.data).video!.at(-1)!.dts;
    const firstOfSecond = muxjsInspect(second.segments[0]!.data).video![0]!.dts;
    expect(firstOfSecond).toBeGreaterThan(lastOfFirst);
    expect(firstOfSecond - lastOfFirst).toBeLessThan(2 * 90_000);
  });

  it('drops malformed frames with a notice and keeps going', async () => {
    let broken = 0;
    const tags = main.map((t) => {
      if (t.type !== TAG_VIDEO || t.data[0] !== 0x27 || broken >= 5 || t.timestamp < 3000) return t;
      broken++;
      const data = Uint8Array.from(t.data);
      data[5] = 0x7f; // NALU length now overruns the frame
      return { ...t, data };
    });
    const r = runPackager(tags);
    expect(r.notices.filter((n) => n.code === 'malformed-video')).toHaveLength(5);
    expect(r.packager.stats.droppedFrames).toBe(5);
    expect(r.segments).toHaveLength(6);
  });

  it('survives random and mutated tags without throwing', () => {
    const rand = prng(12345);
    const tags: FlvTag[] = [];
    for (let i = 0; i < 3000; i++) {
      const base = main[Math.floor(rand() * main.length)]!;
      const data = Uint8Array.from(base.data.subarray(0, Math.floor(rand() * Math.min(base.data.length, 600))));
      for (let k = 0; k < 4 && data.length > 0; k++) data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
      tags.push({ type: rand() < 0.5 ? TAG_AUDIO : TAG_VIDEO, timestamp: Math.floor(rand() * 2 ** 32), data });
    }
    expect(() => runPackager([...main.slice(0, 40), ...tags])).not.toThrow();
  });
});

describe('LivePackager cut rule on synthetic streams', () => {
  const videoTag = (dts: number, idr: boolean): FlvTag => ({
    type: TAG_VIDEO,
    timestamp: dts,
    data: Uint8Array.from([idr ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 3, idr ? 0x65 : 0x41, 0x88, 0x80]),
  });
  const audioTag = (dts: number): FlvTag => ({ type: TAG_AUDIO, timestamp: dts, data: Uint8Array.from([0xaf, 1, 0x21, 0x10, 0x04]) });
  const headers: FlvTag[] = [
    { type: TAG_VIDEO, timestamp: 0, data: Uint8Array.from([0x17, 0, 0, 0, 0, ...avcC()]) },
    { type: TAG_AUDIO, timestamp: 0, data: Uint8Array.from([0xaf, 0, 0x12, 0x10]) },
  ];

  it('forces a cut after 60 s without a keyframe, and the forced segment is flagged', () => {
    const tags = [...headers];
    for (let t = 0; t < 130_000; t += 40) {
      tags.push(videoTag(t, t === 0));
      tags.push(audioTag(t + 10));
    }
    const r = runPackager(tags, { fragDuration: 5 });
    expect(r.segments.map((s) => [s.startMs, s.durationMs, s.forced, s.startsWithIdr])).toEqual([
      [0, 60_000, false, true],
      [60_000, 60_000, true, false],
      [120_000, 10_010, true, false], // ends after the last audio frame (129 970 ms + 40 ms)
    ]);
  });

  it('reports the frame rate measured from timestamps when the SPS has no VUI timing', () => {
    const tags = [...headers];
    for (let t = 0; t < 3000; t += 40) tags.push(videoTag(t, t % 1000 === 0));
    const r = runPackager(tags, { fragDuration: 1 });
    expect(r.packager.mediaInfo().video).toMatchObject({ width: 1280, height: 720, frameRate: 25 });
  });

  it('starts an audio-only stream and cuts it on audio', () => {
    const tags = [headers[1]!];
    for (let t = 0; t < 12_000; t += 23) tags.push(audioTag(t));
    const r = runPackager(tags, { fragDuration: 2 });
    expect(r.segments.length).toBeGreaterThanOrEqual(4);
    expect(r.segments.every((s) => !s.forced)).toBe(true);
    for (const s of r.segments.slice(0, -1)) expect(s.durationMs).toBeGreaterThanOrEqual(2000);
  });
});
