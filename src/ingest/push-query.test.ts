import { describe, expect, it } from 'vitest';
import { decodePushComponent, parsePushQuery, rejoinSplitStreamKey } from './push-query.js';

describe('push URL query', () => {
  it('reads a percent-encoded key, as ffmpeg sends it', () => {
    expect(parsePushQuery('OSSAccessKeyId=LTAI1&Expires=1700000000&Signature=ByM7%2Br%2BDYTw%2FmPzipy4o8vNlsmY%3D')).toEqual([
      ['OSSAccessKeyId', 'LTAI1'],
      ['Expires', '1700000000'],
      ['Signature', 'ByM7+r+DYTw/mPzipy4o8vNlsmY='],
    ]);
  });

  it('reads an already-decoded key, as OBS and librtmp send it: "+" stays "+", "=" inside a value stays', () => {
    expect(parsePushQuery('OSSAccessKeyId=LTAI1&Expires=1700000000&Signature=ByM7+r+DYTw/mPzipy4o8vNlsmY=')).toEqual([
      ['OSSAccessKeyId', 'LTAI1'],
      ['Expires', '1700000000'],
      ['Signature', 'ByM7+r+DYTw/mPzipy4o8vNlsmY='],
    ]);
  });

  it('keeps "+" and spaces in playlist names in both forms', () => {
    expect(parsePushQuery('playlistName=a+b%20c.m3u8')).toEqual([['playlistName', 'a+b c.m3u8']]);
    expect(parsePushQuery('playlistName=a+b c.m3u8')).toEqual([['playlistName', 'a+b c.m3u8']]);
    expect(parsePushQuery('playlistName=a%2Bb.m3u8')).toEqual([['playlistName', 'a+b.m3u8']]);
  });

  it('keeps repeats, empty values and keys without "="', () => {
    expect(parsePushQuery('a=1&a=2&&b=&c')).toEqual([
      ['a', '1'],
      ['a', '2'],
      ['b', ''],
      ['c', ''],
    ]);
  });

  it('keeps a literal "%" that is not an escape instead of failing', () => {
    expect(decodePushComponent('100%.m3u8')).toBe('100%.m3u8');
    expect(decodePushComponent('%E4%BD%A0')).toBe('你');
    expect(decodePushComponent('%ZZ')).toBe('%ZZ');
  });
});

describe('a stream key that ffmpeg split at a literal "/" in its query', () => {
  it('is joined again', () => {
    expect(rejoinSplitStreamKey('live/ch?OSSAccessKeyId=a&Expires=1&Signature=ab', 'cd=')).toEqual({
      app: 'live',
      streamName: 'ch?OSSAccessKeyId=a&Expires=1&Signature=ab/cd=',
    });
  });

  it('leaves ordinary applications alone', () => {
    expect(rejoinSplitStreamKey('live', 'ch?Signature=ab/cd=')).toEqual({ app: 'live', streamName: 'ch?Signature=ab/cd=' });
    expect(rejoinSplitStreamKey('live/ch', 'x')).toEqual({ app: 'live/ch', streamName: 'x' });
    expect(rejoinSplitStreamKey('other/ch?a=1', 'x')).toEqual({ app: 'other/ch?a=1', streamName: 'x' });
  });
});
