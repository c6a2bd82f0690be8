import { describe, expect, it } from 'vitest';
import { readPes, readPsiSection, readTsPackets } from '../../test/support/ts-packets.js';
import { parseAudioSpecificConfig } from './aac.js';
import { AccessUnitScan, parseAvcDecoderConfig } from './avc.js';
import { avcC } from './avc.test.js';
import { PID_AUDIO, PID_PMT, PID_VIDEO, TS_CLOCK_WRAP, TsMuxer } from './ts-muxer.js';

const config = parseAvcDecoderConfig(avcC());
const joined = (seg: { chunks: Uint8Array[]; size: number }) => {
  const out = Buffer.concat(seg.chunks);
  expect(out.length).toBe(seg.size);
  return out;
};
const aac = parseAudioSpecificConfig(Uint8Array.from([0x12, 0x10]));

function frame(nals: ArrayLike<number>[]): { data: Uint8Array; scan: AccessUnitScan } {
  const data = Buffer.alloc(nals.reduce((s, n) => s + 4 + n.length, 0));
  let o = 0;
  for (const n of nals) {
    data.writeUInt32BE(n.length, o);
    data.set(n, o + 4);
    o += 4 + n.length;
  }
  const scan = new AccessUnitScan();
  expect(scan.scan(data, 4)).toBeUndefined();
  return { data, scan };
}

function idr(size: number) {
  const nal = new Uint8Array(size + 1).fill(0xab);
  nal[0] = 0x65;
  return frame([nal]);
}

describe('TsMuxer', () => {
  it('starts a segment with PAT and PMT (valid CRCs) listing both tracks', () => {
    const m = new TsMuxer();
    m.startSegment({ video: true, audio: true });
    const ts = joined(m.endSegment());
    const packets = readTsPackets(ts);
    expect(packets.map((p) => p.pid)).toEqual([0, PID_PMT]);
    const pat = readPsiSection(packets[0]!.payload);
    expect(((pat[10]! & 0x1f) << 8) | pat[11]!).toBe(PID_PMT);
    const pmt = readPsiSection(packets[1]!.payload);
    expect(((pmt[8]! & 0x1f) << 8) | pmt[9]!).toBe(PID_VIDEO); // PCR PID
    expect([pmt[12], ((pmt[13]! & 0x1f) << 8) | pmt[14]!]).toEqual([0x1b, PID_VIDEO]);
    expect([pmt[17], ((pmt[18]! & 0x1f) << 8) | pmt[19]!]).toEqual([0x0f, PID_AUDIO]);
  });

  it('writes an IDR as AUD + SPS + PPS + slice with PTS/DTS, PCR and random access flag', () => {
    const m = new TsMuxer();
    m.startSegment({ video: true, audio: false });
    const f = idr(5000);
    m.writeVideo(f.data, f.scan, config, 900_000, 906_000, true);
    const ts = joined(m.endSegment());
    const packets = readTsPackets(ts).filter((p) => p.pid === PID_VIDEO);
    expect(packets[0]!.pusi).toBe(true);
    expect(packets[0]!.randomAccess).toBe(true);
    expect(packets[0]!.pcr).toBe(900_000 - 9000);
    const [pes] = readPes(ts);
    expect(pes).toMatchObject({ streamId: 0xe0, pts: 906_000, dts: 900_000 });
    const p = pes!.payload;
    expect([...p.subarray(0, 6)]).toEqual([0, 0, 0, 1, 9, 0xf0]);
    expect([...p.subarray(6, 11)]).toEqual([0, 0, 0, 1, 0x67]);
    expect(p.length).toBe(6 + 4 + config.sps[0]!.length + 4 + config.pps[0]!.length + 4 + 5001);
  });

  it('does not duplicate in-band parameter sets, and writes only PTS when it equals DTS', () => {
    const m = new TsMuxer();
    m.startSegment({ video: true, audio: false });
    const f = frame([[...config.sps[0]!], [...config.pps[0]!], [0x65, 1, 2, 3]]);
    m.writeVideo(f.data, f.scan, config, 1000, 1000, true);
    const [pes] = readPes(joined(m.endSegment()));
    expect(pes!.payload.length).toBe(6 + 3 * 4 + config.sps[0]!.length + config.pps[0]!.length + 4);
    expect(pes!.dts).toBe(pes!.pts);
  });

  it('keeps continuity counters running per PID across packets and segments', () => {
    const m = new TsMuxer();
    const all: ReturnType<typeof readTsPackets> = [];
    for (let s = 0; s < 3; s++) {
      m.startSegment({ video: true, audio: true });
      for (let i = 0; i < 20; i++) {
        const f = idr(1000 + i * 377);
        m.writeVideo(f.data, f.scan, config, i * 3000, i * 3000, i === 0);
        m.writeAudio(new Uint8Array(300 + i), aac, i * 1920);
      }
      all.push(...readTsPackets(joined(m.endSegment())));
    }
    const last = new Map<number, number>();
    for (const p of all) {
      const prev = last.get(p.pid);
      if (prev !== undefined && p.hasPayload) expect(p.cc).toBe((prev + 1) & 15);
      if (p.hasPayload) last.set(p.pid, p.cc);
    }
    expect(last.size).toBe(4);
  });

  it('groups AAC frames into PES packets of at most ~2.9 kB, each frame with an ADTS header', () => {
    const m = new TsMuxer();
    m.startSegment({ video: false, audio: true });
    for (let i = 0; i < 40; i++) m.writeAudio(new Uint8Array(400).fill(i), aac, 1000 + i * 2090);
    const pes = readPes(joined(m.endSegment()));
    expect(pes.length).toBeGreaterThan(5);
    let frames = 0;
    for (const p of pes) {
      expect(p.streamId).toBe(0xc0);
      expect(p.payload.length).toBeLessThanOrEqual(2930);
      for (let o = 0; o < p.payload.length; frames++) {
        expect([p.payload[o], p.payload[o + 1]! & 0xf6]).toEqual([0xff, 0xf0]);
        o += ((p.payload[o + 3]! & 3) << 11) | (p.payload[o + 4]! << 3) | (p.payload[o + 5]! >> 5);
      }
    }
    expect(frames).toBe(40);
    expect(pes[0]!.pts).toBe(1000);
  });

  it('puts the PCR on the audio PID when there is no video', () => {
    const m = new TsMuxer();
    m.startSegment({ video: false, audio: true });
    m.writeAudio(new Uint8Array(100), aac, 50_000);
    const packets = readTsPackets(joined(m.endSegment()));
    const pmt = readPsiSection(packets[1]!.payload);
    expect(((pmt[8]! & 0x1f) << 8) | pmt[9]!).toBe(PID_AUDIO);
    expect(packets.find((p) => p.pid === PID_AUDIO)!.pcr).toBe(41_000);
  });

  it('wraps timestamps at 33 bits', () => {
    const m = new TsMuxer();
    m.startSegment({ video: true, audio: false });
    const f = idr(10);
    m.writeVideo(f.data, f.scan, config, TS_CLOCK_WRAP + 500, TS_CLOCK_WRAP + 3500, true);
    m.writeVideo(f.data, f.scan, config, TS_CLOCK_WRAP - 100, TS_CLOCK_WRAP - 100, false);
    const pes = readPes(joined(m.endSegment()));
    expect(pes.map((p) => [p.dts, p.pts])).toEqual([[500, 3500], [TS_CLOCK_WRAP - 100, TS_CLOCK_WRAP - 100]]);
  });

  it('announces a track added mid-segment with a new PMT version', () => {
    const m = new TsMuxer();
    m.startSegment({ video: true, audio: false });
    m.updateTracks({ video: true, audio: true });
    const packets = readTsPackets(joined(m.endSegment())).filter((p) => p.pid === PID_PMT);
    expect(packets).toHaveLength(2);
    const v1 = readPsiSection(packets[1]!.payload);
    expect((v1[5]! >> 1) & 0x1f).toBe(1);
    expect(v1.length).toBe(3 + 9 + 10 + 4 + 0); // header + two streams + CRC
  });

  it('carries every payload byte intact, whatever the first packet holds, across output chunks', () => {
    // video PES start with a PCR (176 payload bytes in the first packet); an audio PES after
    // a discontinuity starts with a 2-byte adaptation field (182), which leaves the rest of
    // its bytes off word alignment in the source
    const m = new TsMuxer();
    m.markDiscontinuity();
    m.startSegment({ video: true, audio: true });
    const pattern = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, k) => (k * 7 + seed) & 0xff);
    const audio = pattern(1000, 3);
    m.writeAudio(audio, aac, 0);
    m.flushAudio();
    const sizes = [1, 175, 176, 177, 359, 360, 5000, 120_001];
    const sent: Uint8Array[] = [];
    for (const [i, size] of sizes.entries()) {
      const nal = pattern(size, i);
      nal[0] = 0x41;
      const f = frame([nal]);
      m.writeVideo(f.data, f.scan, config, i * 3000, i * 3000, false);
      sent.push(nal);
    }
    const ts = joined(m.endSegment());
    expect(ts.length).toBeGreaterThan(96 * 1024); // more than one output chunk
    const pes = readPes(ts);
    const audioPes = pes.filter((p) => p.streamId === 0xc0);
    expect(audioPes).toHaveLength(1);
    expect(Buffer.from(audioPes[0]!.payload.subarray(7))).toEqual(Buffer.from(audio)); // after the ADTS header
    const videoPes = pes.filter((p) => p.streamId === 0xe0);
    expect(videoPes).toHaveLength(sizes.length);
    videoPes.forEach((p, i) => {
      const nal = sent[i]!;
      expect([...p.payload.subarray(0, 6)]).toEqual([0, 0, 0, 1, 9, 0xf0]); // AUD
      expect(Buffer.from(p.payload.subarray(6))).toEqual(Buffer.concat([Buffer.from([0, 0, 0, 1]), nal]));
    });
  });

  it('handles frames far larger than its scratch buffer', () => {
    const m = new TsMuxer();
    m.startSegment({ video: true, audio: false });
    const f = idr(2_000_000);
    m.writeVideo(f.data, f.scan, config, 0, 0, true);
    const ts = joined(m.endSegment());
    expect(readPes(ts)[0]!.payload.length).toBeGreaterThan(2_000_000);
  });
});

describe('TsMuxer discontinuity marking', () => {
  it('sets discontinuity_indicator on the first packet of every PID after markDiscontinuity, once', () => {
    const m = new TsMuxer();
    m.markDiscontinuity();
    m.startSegment({ video: true, audio: true });
    const f = idr(400);
    m.writeVideo(f.data, f.scan, config, 0, 0, true);
    m.writeVideo(f.data, f.scan, config, 3000, 3000, false);
    m.writeAudio(new Uint8Array(100), aac, 0);
    const ts = joined(m.endSegment());
    const flagged = (o: number) => (ts[o + 3]! & 0x20) !== 0 && ts[o + 4]! > 0 && (ts[o + 5]! & 0x80) !== 0;
    const byPid = new Map<number, boolean[]>();
    for (let o = 0; o < ts.length; o += 188) {
      const pid = ((ts[o + 1]! & 0x1f) << 8) | ts[o + 2]!;
      byPid.set(pid, [...(byPid.get(pid) ?? []), flagged(o)]);
    }
    for (const pid of [0, PID_PMT, PID_VIDEO, PID_AUDIO]) {
      const flags = byPid.get(pid)!;
      expect(flags[0], `PID ${pid}`).toBe(true);
      expect(flags.slice(1).some(Boolean), `PID ${pid}`).toBe(false);
    }
    expect(readPsiSection(readTsPackets(ts)[0]!.payload).length).toBeGreaterThan(0); // PAT still parses
  });
});
