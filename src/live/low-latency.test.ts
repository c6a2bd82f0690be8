import { describe, expect, it } from 'vitest';
import { LowLatencyStream, LowLatencyStreams } from './low-latency.js';

const bytes = (n: number) => new Uint8Array([n]);

const playlistText = (s: LowLatencyStream) => s.playlistBody().body.toString();

function stream(fragCount = 5): LowLatencyStream {
  return new LowLatencyStream({ partTarget: 0.5, fragCount, partUri: (s, i) => `p${s}.${i}.m4s` });
}

/** Segment `seq`: `parts` parts of 0.5 s, then the segment itself. */
function addSegment(s: LowLatencyStream, seq: number, parts = 4, close = true): void {
  for (let i = 0; i < parts; i++) {
    s.addPart({ sequence: seq, index: i, durationMs: 500, independent: i === 0, data: bytes(i), discontinuity: false, map: 'init0.mp4' });
  }
  if (close) s.addSegment({ sequence: seq, uri: `p${seq}.m4s`, duration: parts / 2, discontinuity: false, map: 'init0.mp4' }, [bytes(99), bytes(98)], 1_700_000_000_000 + seq * 2000);
}

describe('LowLatencyStream', () => {
  it('renders an LL-HLS playlist: server control, part info, parts of the last segments, the preload hint', () => {
    const s = stream();
    s.addInit('init0.mp4', bytes(1));
    for (let seq = 0; seq < 5; seq++) addSegment(s, seq);
    addSegment(s, 5, 2, false);
    const text = playlistText(s);
    expect(text.split('\n').slice(0, 9)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500',
      '#EXT-X-PART-INF:PART-TARGET=0.500',
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-MAP:URI="init0.mp4"',
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(1_700_000_000_000).toISOString()}`,
      '#EXTINF:2.000,',
    ]);
    // every segment this publish made carries its time (a re-push's window starts with the last push's)
    expect(text).toContain(`#EXT-X-PROGRAM-DATE-TIME:${new Date(1_700_000_008_000).toISOString()}\n#EXT-X-PART:DURATION=0.500,URI="p4.0.m4s"`);
    // parts are listed for the last three closed segments and the open one
    expect(text).not.toContain('p1.0.m4s');
    expect(text).toContain('#EXT-X-PART:DURATION=0.500,URI="p2.0.m4s",INDEPENDENT=YES');
    expect(text).toContain('#EXT-X-PART:DURATION=0.500,URI="p4.3.m4s"\n#EXTINF:2.000,\np4.m4s');
    expect(text.trimEnd().split('\n').slice(-3)).toEqual([
      '#EXT-X-PART:DURATION=0.500,URI="p5.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.500,URI="p5.1.m4s"',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p5.2.m4s"',
    ]);
    s.end();
    expect(playlistText(s)).toMatch(/#EXT-X-ENDLIST\n$/);
    expect(playlistText(s)).not.toContain('PRELOAD-HINT');
  });

  it('answers a blocking reload in the same turn as the part it waits for appears', async () => {
    const s = stream();
    addSegment(s, 0);
    addSegment(s, 1, 1, false);
    let answer: string | undefined;
    const waiting = s.waitForPlaylist(1, 2, 10_000).then((a) => (answer = a));
    s.addPart({ sequence: 1, index: 1, durationMs: 500, independent: false, data: bytes(1), discontinuity: false });
    await Promise.resolve();
    expect(answer).toBeUndefined();
    s.addPart({ sequence: 1, index: 2, durationMs: 500, independent: false, data: bytes(2), discontinuity: false });
    await Promise.resolve();
    expect(answer).toBe('ready');
    await waiting;
  });

  it('counts a whole segment as having every part, and says when a request is too far ahead or timed out', async () => {
    const s = stream();
    addSegment(s, 0);
    expect(s.has(0)).toBe(true);
    expect(s.has(0, 3)).toBe(true);
    // past segment 0's last part: segment 1's first
    expect(s.has(0, 4)).toBe(false);
    expect(s.has(1)).toBe(false);
    expect(await s.waitForPlaylist(4, undefined, 10)).toBe('too-far');
    expect(await s.waitForPlaylist(1, 0, 10)).toBe('timeout');
    const boundary = s.waitForPlaylist(0, 4, 10_000);
    s.addPart({ sequence: 1, index: 0, durationMs: 500, independent: true, data: bytes(0), discontinuity: false });
    expect(await boundary).toBe('ready');
    expect(s.has(0, 4)).toBe(true);
    const pending = s.waitForPlaylist(2, undefined, 10_000);
    s.close();
    expect(await pending).toBe('ended');
  });

  it('holds the preload-hinted part until it is cut; other unknown parts are not waited for', async () => {
    const s = stream();
    addSegment(s, 0);
    expect(await s.waitForObject('p7.0.m4s', 10_000)).toBeUndefined();
    const hinted = s.waitForObject('p1.0.m4s', 10_000);
    s.addPart({ sequence: 1, index: 0, durationMs: 500, independent: true, data: bytes(42), discontinuity: false });
    expect(await hinted).toEqual(bytes(42));
  });

  it('keeps parts and segments only for the newest segments', () => {
    const s = stream(3);
    for (let seq = 0; seq < 8; seq++) addSegment(s, seq);
    expect(s.object('p7.3.m4s')).toBeDefined();
    expect(s.object('p7.m4s')).toEqual(Buffer.from([99, 98]));
    expect(s.object('p3.0.m4s')).toBeUndefined();
    expect(s.object('p2.m4s')).toBeUndefined();
    expect(playlistText(s)).toContain('#EXT-X-MEDIA-SEQUENCE:5');
  });
});

describe('LowLatencyStreams', () => {
  it('finds a stream by its playlist key and the objects of its channel folder', () => {
    const streams = new LowLatencyStreams();
    const s = stream();
    streams.add('b', 'ch/playlist.m3u8', s);
    expect(streams.playlist('b', 'ch/playlist.m3u8')).toBe(s);
    expect(streams.playlist('other', 'ch/playlist.m3u8')).toBeUndefined();
    expect(streams.objectOwner('b', 'ch/p1.0.m4s')).toEqual({ stream: s, uri: 'p1.0.m4s' });
    expect(streams.objectOwner('b', 'other/p1.0.m4s')).toBeUndefined();
    streams.remove('b', 'ch/playlist.m3u8', s);
    expect(streams.playlist('b', 'ch/playlist.m3u8')).toBeUndefined();
    expect(streams.objectOwner('b', 'ch/p1.0.m4s')).toBeUndefined();
  });
});
