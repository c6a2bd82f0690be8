import { describe, expect, it } from 'vitest';
import { parseStreamId, rejectionCode } from './srt-ingest.js';

describe('parseStreamId', () => {
  it('reads a signed push URL path, percent-encoded or not, and the access-control form', () => {
    expect(parseStreamId('live/show?OSSAccessKeyId=a&Expires=1&Signature=x%2By')).toEqual({ resource: 'live/show?OSSAccessKeyId=a&Expires=1&Signature=x%2By', mode: 'publish' });
    expect(parseStreamId('/live/show')).toEqual({ resource: 'live/show', mode: 'publish' });
    expect(parseStreamId('live%2Fshow%3FExpires%3D1%26Signature%3Dx%252By')).toEqual({ resource: 'live/show?Expires=1&Signature=x%2By', mode: 'publish' });
    expect(parseStreamId('#!::r=live/show?Expires=1,m=publish,h=media.live.example.com')).toEqual({ resource: 'live/show?Expires=1', mode: 'publish', host: 'media.live.example.com' });
    expect(parseStreamId('%23%21%3A%3Ar%3Dlive%2Fshow%2Cm%3Drequest')).toEqual({ resource: 'live/show', mode: 'request' });
    expect(parseStreamId('#!::m=publish')).toBeUndefined();
    expect(parseStreamId('')).toBeUndefined();
  });
});

describe('rejectionCode', () => {
  const code = (description: string) => rejectionCode({ ok: false, code: 'NetStream.Publish.Denied', description });
  it('maps the ingest refusals to access-control codes', () => {
    expect(code('gateway busy, try another node (event loop 90 % busy)')).toBe(1503);
    expect(code('Live channel "x" is already being pushed to (by 1.2.3.4:5); one publisher at a time.')).toBe(1409);
    expect(code('No live channel "x" in bucket "media"; create it with PutLiveChannel first.')).toBe(1404);
    expect(code('Bucket "media" is private: the push URL must be signed (OSSAccessKeyId, Expires, Signature).')).toBe(1401);
    expect(code('The push URL signature does not match (we signed "…"); check the key and parameters.')).toBe(1403);
    expect(code('The OSSAccessKeyId "k" has no rights on bucket "media".')).toBe(1403);
    expect(code('Live channel "x" is disabled.')).toBe(1403);
    expect(code('Invalid live channel name: too long')).toBe(1400);
  });
});
