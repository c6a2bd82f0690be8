import { describe, expect, it } from 'vitest';
import { LiveWindow, renderVodPlaylist, targetDurationFor, type PlaylistEntry } from './playlist.js';

const entry = (sequence: number, duration: number, discontinuity = false): PlaylistEntry => ({
  sequence, uri: `seg${sequence}.ts`, duration, discontinuity,
});

describe('LiveWindow', () => {
  it('keeps the last FragCount segments with a matching media sequence', () => {
    const w = new LiveWindow(3);
    const expired: number[] = [];
    for (let i = 0; i < 5; i++) expired.push(...w.push(entry(i, 5)).map((e) => e.sequence));
    expect(expired).toEqual([0, 1]);
    expect(w.render(false)).toBe(
      ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:5', '#EXT-X-MEDIA-SEQUENCE:2',
        '#EXTINF:5.000,', 'seg2.ts', '#EXTINF:5.000,', 'seg3.ts', '#EXTINF:5.000,', 'seg4.ts', ''].join('\n'),
    );
  });

  it('announces a target duration that no segment exceeds, and never shrinks it', () => {
    const w = new LiveWindow(2);
    w.push(entry(0, 5.2));
    expect(w.render(false)).toContain('#EXT-X-TARGETDURATION:6');
    w.push(entry(1, 4));
    w.push(entry(2, 4));
    expect(w.state.entries.map((e) => e.sequence)).toEqual([1, 2]);
    expect(w.render(false)).toContain('#EXT-X-TARGETDURATION:6');
    expect(targetDurationFor([entry(0, 5.0004)])).toBe(5);
  });

  it('marks discontinuities and counts those that left the window', () => {
    const w = new LiveWindow(2);
    w.push(entry(0, 2));
    w.push(entry(1, 2, true));
    let text = w.render(false);
    expect(text).toContain('#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nseg1.ts');
    expect(text).not.toContain('DISCONTINUITY-SEQUENCE');
    w.push(entry(2, 2));
    w.push(entry(3, 2));
    text = w.render(false);
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1');
    expect(text).not.toContain('#EXT-X-DISCONTINUITY\n');
  });

  it('ends with EXT-X-ENDLIST when the stream ends', () => {
    const w = new LiveWindow(3);
    w.push(entry(0, 3));
    expect(w.render(true).trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(w.render(false)).not.toContain('ENDLIST');
  });

  it('resumes from a saved state without sharing it', () => {
    const first = new LiveWindow(3);
    first.push(entry(0, 3));
    const second = new LiveWindow(3, first.state);
    second.push(entry(1, 3, true));
    expect(first.state.entries).toHaveLength(1);
    expect(second.render(false)).toContain('#EXT-X-MEDIA-SEQUENCE:0');
  });
});

describe('renderVodPlaylist', () => {
  it('lists everything, with PLAYLIST-TYPE:VOD and ENDLIST, dropping a leading discontinuity', () => {
    const text = renderVodPlaylist([entry(7, 6.4, true), entry(8, 5.52), entry(9, 13.32, true)]);
    expect(text).toBe(
      ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:14', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXTINF:6.400,', 'seg7.ts', '#EXTINF:5.520,', 'seg8.ts', '#EXT-X-DISCONTINUITY', '#EXTINF:13.320,', 'seg9.ts',
        '#EXT-X-ENDLIST', ''].join('\n'),
    );
  });
});
