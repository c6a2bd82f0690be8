import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../scripts/lib/fixtures.js';
import { ffmpegPath } from '../ffmpeg-path.js';
import { EsToFlv, splitAnnexB, type FlvTagOut } from './es-to-flv.js';
import { parseFlv, TAG_AUDIO, TAG_VIDEO } from './flv.js';
import { parseVideoTag } from './flv-tags.js';
import { LivePackager } from './packager.js';
import { parsePes, TS_PACKET, TsDemuxer, type PesPacket } from './ts-demuxer.js';

// What an SRT publisher sends (MPEG-TS, as ffmpeg -f mpegts and OBS write it) back to the FLV
// tags RTMP carries: the same frames, the same times, and segments that decode.
let flv: Uint8Array;
let ts: Uint8Array;
beforeAll(async () => {
  const input = await fixture('main.flv');
  flv = readFileSync(input);
  const dir = mkdtempSync(join(tmpdir(), 'lc-ts-'));
  const out = join(dir, 'main.ts');
  execFileSync(ffmpegPath(), ['-hide_banner', '-v', 'error', '-i', input, '-c', 'copy', '-f', 'mpegts', out]);
  ts = readFileSync(out);
});

function convert(bytes: Uint8Array, chunk = bytes.length): { tags: FlvTagOut[]; pes: PesPacket[]; demuxer: TsDemuxer; es: EsToFlv } {
  const demuxer = new TsDemuxer();
  const es = new EsToFlv();
  const pes: PesPacket[] = [];
  for (let p = 0; p < bytes.length; p += chunk) pes.push(...demuxer.push(bytes.subarray(p, p + chunk)));
  pes.push(...demuxer.flush());
  return { tags: pes.flatMap((x) => es.push(x)), pes, demuxer, es };
}

const isHeader = (t: { type: number; data: Uint8Array }) => t.data[1] === 0;
/** Coded frames (an FLV may end with an AVC end-of-sequence tag, which a TS does not carry). */
const isFrame = (t: { type: number; data: Uint8Array }) => t.data[1] === 1;

describe('TsDemuxer and EsToFlv', () => {
  it('give back every video and audio frame of the FLV the TS was made from, at the same times, keyframes kept', () => {
    const source = parseFlv(flv).filter((t) => t.type === TAG_VIDEO || t.type === TAG_AUDIO);
    const { tags } = convert(ts);
    for (const type of [TAG_VIDEO, TAG_AUDIO]) {
      const want = source.filter((t) => t.type === type && isFrame(t));
      const got = tags.filter((t) => t.type === type && isFrame(t));
      expect(got.length, `type ${type}`).toBe(want.length);
      const offset = got[0]!.timestamp - want[0]!.timestamp;
      got.forEach((g, i) => expect(Math.abs(g.timestamp - offset - want[i]!.timestamp), `type ${type} frame ${i}`).toBeLessThanOrEqual(1));
    }
    const keyframes = (list: { type: number; data: Uint8Array }[]) => list.filter((t) => t.type === TAG_VIDEO && isFrame(t) && t.data[0] === 0x17).length;
    expect(keyframes(tags)).toBe(keyframes(source));
    // composition times (B-frames) come through
    const cts = (list: { type: number; data: Uint8Array }[]) =>
      list.filter((t) => t.type === TAG_VIDEO && isFrame(t)).map((t) => {
        const v = parseVideoTag(t.data);
        return v.kind === 'avc-frame' ? v.cts : NaN;
      });
    expect(cts(tags)).toEqual(cts(source));
    expect(cts(tags).some((c) => c > 0)).toBe(true);
    // one sequence header of each, first
    expect(tags.filter(isHeader).map((t) => t.type).sort()).toEqual([TAG_AUDIO, TAG_VIDEO]);
  });

  it('gives the same output whatever the chunking of the bytes (SRT payloads are 1316 bytes)', () => {
    const whole = convert(ts).tags;
    for (const chunk of [1316, 1000, 7]) {
      const parts = convert(ts, chunk).tags;
      expect(parts.length).toBe(whole.length);
      expect(parts.every((t, i) => t.timestamp === whole[i]!.timestamp && Buffer.compare(Buffer.from(t.data), Buffer.from(whole[i]!.data)) === 0)).toBe(true);
    }
  });

  it('feeds the live packager: segments that ffmpeg decodes without a word', () => {
    const packager = new LivePackager({ fragDuration: 2, fragCount: 3 });
    const segments: Uint8Array[] = [];
    const take = (events: ReturnType<LivePackager['push']>) => {
      for (const e of events) if (e.type === 'segment') segments.push(e.segment.data);
    };
    for (const t of convert(ts, 1316).tags) take(packager.push(t.type, t.timestamp, t.data));
    take(packager.finish());
    expect(segments.length).toBeGreaterThanOrEqual(5);
    const dir = mkdtempSync(join(tmpdir(), 'lc-ts-seg-'));
    for (const [i, s] of segments.entries()) {
      const file = join(dir, `${i}.ts`);
      writeFileSync(file, s);
      const { stderr } = { stderr: execFileSync(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'warning', '-i', file, '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() };
      expect(stderr, `segment ${i}`).toBe('');
    }
  });

  it('gives HEVC (B-frames too) as Enhanced RTMP tags the packager turns into segments that decode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-ts-hevc-'));
    const hevcTs = join(dir, 'hevc.ts');
    // as an HEVC encoder's TS output arrives over SRT: 3 s, 1 s GOP, B-frames
    execFileSync(ffmpegPath(), ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '3', '-c:v', 'libx265', '-x265-params', 'log-level=none:keyint=25:bframes=3', '-f', 'mpegts', hevcTs]);
    const { tags, es } = convert(readFileSync(hevcTs), 1316);
    expect(es.notices).toEqual([]);
    const video = tags.filter((t) => t.type === TAG_VIDEO).map((t) => parseVideoTag(t.data));
    expect(video[0]).toMatchObject({ kind: 'hevc-config' });
    expect(video.filter((v) => v.kind === 'hevc-frame').length).toBe(75);
    expect(video.some((v) => v.kind === 'hevc-frame' && v.cts > 0)).toBe(true);
    const packager = new LivePackager({ fragDuration: 1, fragCount: 3 });
    const segments: Uint8Array[] = [];
    const take = (events: ReturnType<LivePackager['push']>) => {
      for (const e of events) if (e.type === 'segment') segments.push(e.segment.data);
    };
    for (const t of tags) take(packager.push(t.type, t.timestamp, t.data));
    take(packager.finish());
    expect(packager.mediaInfo().video).toMatchObject({ codec: 'H265', width: 640, height: 360 });
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const [i, seg] of segments.entries()) {
      const file = join(dir, `${i}.ts`);
      writeFileSync(file, seg);
      expect(execFileSync(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'warning', '-i', file, '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString(), `segment ${i}`).toBe('');
    }
  });

  it('drops what loss broke, flags the next packet as a discontinuity, and never hands on half a PES', () => {
    const lossy = new Uint8Array(ts.length);
    let kept = 0;
    for (let p = 0, n = 0; p + TS_PACKET <= ts.length; p += TS_PACKET, n++) {
      if (n % 97 === 50) continue; // about 1 % of the packets lost
      lossy.set(ts.subarray(p, p + TS_PACKET), kept);
      kept += TS_PACKET;
    }
    const { pes, demuxer, tags } = convert(lossy.subarray(0, kept), 1316);
    const clean = convert(ts).pes;
    expect(pes.length).toBeLessThan(clean.length);
    expect(pes.some((x) => x.discontinuity)).toBe(true);
    expect(demuxer.notices.some((n) => n.kind === 'continuity')).toBe(true);
    // every frame handed on is whole: its NAL units parse to the end
    for (const t of tags.filter((x) => x.type === TAG_VIDEO && !isHeader(x))) {
      let p = 5;
      while (p < t.data.length) p += 4 + Buffer.from(t.data).readUInt32BE(p);
      expect(p).toBe(t.data.length);
    }
  });

  it('survives garbage between packets and resyncs', () => {
    const noisy = new Uint8Array(ts.length + 300);
    noisy.set(ts.subarray(0, TS_PACKET * 100));
    noisy.set(Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff).map((x) => (x === 0x47 ? 0 : x)), TS_PACKET * 100);
    noisy.set(ts.subarray(TS_PACKET * 100), TS_PACKET * 100 + 300);
    const { tags, demuxer } = convert(noisy, 1316);
    expect(demuxer.notices.some((n) => n.kind === 'resync')).toBe(true);
    expect(tags.filter((t) => t.type === TAG_VIDEO).length).toBeGreaterThan(300);
  });

  it('reads PES headers, and refuses what is not one', () => {
    const pes = Uint8Array.of(0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 0x05, 0xbf, 0x21, 9, 8);
    expect(parsePes(pes)).toMatchObject({ pts: 90000, dts: 90000, data: Uint8Array.of(9, 8) });
    expect(parsePes(Uint8Array.of(1, 2, 3))).toBe('no PES start code');
    expect(splitAnnexB(Uint8Array.of(0, 0, 0, 1, 9, 0xf0, 0, 0, 1, 0x65, 1, 2, 0, 0, 0, 1, 0x41, 3))).toEqual([Uint8Array.of(9, 0xf0), Uint8Array.of(0x65, 1, 2), Uint8Array.of(0x41, 3)]);
  });
});
