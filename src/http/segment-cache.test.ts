import { describe, expect, it } from 'vitest';
import { SegmentCache, type CachedSegment } from './segment-cache.js';

const segment = (key: string, size: number): CachedSegment => ({
  info: { key, size, etag: `"${key}"`, contentType: 'video/MP2T', lastModified: 0 },
  body: Buffer.alloc(size, 1),
});

describe('SegmentCache', () => {
  it('reads a segment from storage once, however many ask at the same time', async () => {
    const cache = new SegmentCache({ maxBytes: 1000, ttlMs: 1000 });
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 20));
      return segment('a.ts', 100);
    };
    const got = await Promise.all(Array.from({ length: 50 }, () => cache.get('b', 'a.ts', load)));
    expect(loads).toBe(1);
    expect(new Set(got.map((g) => g!.body)).size).toBe(1);
    await cache.get('b', 'a.ts', load);
    expect(loads).toBe(1);
    expect(cache.size).toEqual({ entries: 1, bytes: 100 });
  });

  it('keeps at most maxBytes, dropping the least recently read first', async () => {
    const cache = new SegmentCache({ maxBytes: 250, ttlMs: 1000 });
    const loaded: string[] = [];
    const get = (key: string) =>
      cache.get('b', key, async () => {
        loaded.push(key);
        return segment(key, 100);
      });
    await get('1.ts');
    await get('2.ts');
    await get('1.ts'); // 2.ts is now the least recently read
    await get('3.ts');
    expect(cache.size).toEqual({ entries: 2, bytes: 200 });
    await get('1.ts');
    await get('2.ts');
    expect(loaded).toEqual(['1.ts', '2.ts', '3.ts', '2.ts']);
  });

  it('reads again after the TTL, and after forget', async () => {
    let now = 0;
    const cache = new SegmentCache({ maxBytes: 1000, ttlMs: 100, now: () => now });
    let loads = 0;
    const load = async () => {
      loads++;
      return segment('a.ts', 10);
    };
    await cache.get('b', 'a.ts', load);
    now = 100;
    await cache.get('b', 'a.ts', load);
    expect(loads).toBe(1);
    now = 201;
    await cache.get('b', 'a.ts', load);
    expect(loads).toBe(2);
    cache.forget('b', 'a.ts');
    await cache.get('b', 'a.ts', load);
    expect(loads).toBe(3);
    cache.forgetBucket('b');
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('does not keep what is larger than maxObjectBytes, missing, or failed to load', async () => {
    const cache = new SegmentCache({ maxBytes: 1000, ttlMs: 1000, maxObjectBytes: 50 });
    expect((await cache.get('b', 'big.ts', async () => segment('big.ts', 60)))!.body.length).toBe(60);
    expect(await cache.get('b', 'gone.ts', async () => undefined)).toBeUndefined();
    await expect(cache.get('b', 'bad.ts', async () => Promise.reject(new Error('disk on fire')))).rejects.toThrow('disk on fire');
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    // a failed load is not remembered either: the next read tries storage again
    expect((await cache.get('b', 'bad.ts', async () => segment('bad.ts', 5)))!.body.length).toBe(5);
  });
});
