import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { SqliteCatalog } from '../catalog/sqlite-catalog.js';
import { Metrics } from '../metrics.js';
import { vodPlaylistText } from '../oss/vod-playlist.js';
import { FsObjectStore } from '../storage/fs-store.js';
import { dataLength, type ObjectData, type StagedObject } from '../storage/object-store.js';
import { Semaphore } from '../storage/semaphore.js';
import { ChannelUploader, DEFAULT_UPLOAD_POLICY } from '../storage/upload-pipeline.js';
import { globToRegExp, RetentionSweeper } from './retention-sweeper.js';

const log = Fastify({ logger: { level: 'silent' } }).log;

/** A filesystem store on a disk of `capacity` bytes: free space is what its objects leave. */
class SmallDisk extends FsObjectStore {
  /** Bytes the disk holds (set once the test's objects are in place). */
  capacity = Number.MAX_SAFE_INTEGER;

  override async freeBytes(): Promise<number> {
    const { objects } = await this.list({ prefix: '', marker: '', maxKeys: 100_000, delimiter: '' });
    return this.capacity - objects.reduce((n, o) => n + o.size, 0);
  }

  /** A write that does not fit fails as the kernel fails it (put writes through stage). */
  override async stage(key: string, data: ObjectData, contentType?: string): Promise<StagedObject> {
    if (dataLength(data) > (await this.freeBytes())) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${key}'`), { code: 'ENOSPC' });
    return super.stage(key, data, contentType);
  }
}

/** A catalog with channel c of bucket b live: its lease and push. */
async function channelPushing() {
  const catalog = new SqliteCatalog(':memory:');
  await catalog.putChannel('b', 'c', { description: '', status: 'enabled', fragDuration: 1, fragCount: 3, playlistName: 'p.m3u8' });
  const lease = await catalog.acquireLease({ bucket: 'b', channel: 'c', nodeId: 'n', remoteAddr: 'r', ttlMs: 3_600_000, now: 0 });
  if (!lease.ok) throw new Error('lease');
  const push = await catalog.startPush('b', 'c', 'r', 0, 'n', lease.token);
  return { catalog, lease, push };
}

/** Channel c with ten 1000-byte segments (first frames at 0 s … 9 s), its live window the last three, and a VOD of all. */
async function setUp(capacity: number) {
  const { catalog, lease, push } = await channelPushing();
  const store = new SmallDisk(mkdtempSync(join(tmpdir(), 'lc-ret-')));
  const segments = Array.from({ length: 10 }, (_, i) => ({ bucket: 'b', channel: 'c', pushId: push.id, sequence: i, key: `c/p${i}.ts`, startTime: i * 1000, durationMs: 1000, discontinuity: false }));
  for (const s of segments) {
    await store.put(s.key, Buffer.alloc(1000, s.sequence));
    await catalog.addSegment(s, lease.token);
  }
  const entries = segments.slice(7).map((s) => ({ sequence: s.sequence, uri: `p${s.sequence}.ts`, duration: 1, discontinuity: false }));
  await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist: { entries, discontinuitySequence: 0, targetDuration: 1 }, nextSequence: 10 }, lease.token);
  await store.put('c/vod.m3u8', vodPlaylistText(segments, 'c'));
  await catalog.recordVodPlaylist({ bucket: 'b', channel: 'c', key: 'c/vod.m3u8', fromMs: 0, toMs: 9000 });
  store.capacity = capacity;
  const metrics = new Metrics();
  const sweeper = (config: { maxAge?: number; minFreeBytes?: number; channels?: { match: string; maxAge: number | 'forever' }[] }) =>
    new RetentionSweeper({ bucket: 'b', config: { sweepInterval: 1000, ...config }, store, catalog, log, metrics, now: () => 20_000 });
  const storedSegments = async () => (await store.list({ prefix: 'c/p', marker: '', maxKeys: 100, delimiter: '' })).objects.map((o) => o.key).filter((k) => k.endsWith('.ts'));
  const vodUris = async () => {
    const got = await store.get('c/vod.m3u8');
    if (!got) return undefined;
    return (await new Response(got.body as unknown as ReadableStream).text()).split('\n').filter((l) => l.endsWith('.ts'));
  };
  return { catalog, store, sweeper, storedSegments, vodUris, metrics, token: lease.token, pushId: push.id };
}

describe('RetentionSweeper', () => {
  it('frees space oldest first down to minFreeBytes, rewriting the VOD playlist before the segments go', async () => {
    const { catalog, store, sweeper, storedSegments, vodUris, metrics } = await setUp(16_000);
    // 10,000 bytes of segments and a small playlist on a 16,000-byte disk: under 9,000 free
    const result = await sweeper({ minFreeBytes: 9000 }).sweep();
    // 4 segments (4,000 bytes) make up the shortfall, in one batch: one rewrite of the VOD
    expect(result).toMatchObject({ age: 0, space: 4, vodRewritten: 1, vodDeleted: 0 });
    expect(await store.freeBytes()).toBeGreaterThanOrEqual(9000);
    const left = await storedSegments();
    expect(left).toEqual(Array.from({ length: 10 - result.space }, (_, i) => `c/p${i + result.space}.ts`).sort());
    expect((await catalog.segmentsBetween('b', 'c', 0, 1e9)).map((s) => s.key).sort()).toEqual(left);
    expect(await vodUris()).toEqual(left.map((k) => k.slice(2)).sort((a, b) => Number(a.slice(1, -3)) - Number(b.slice(1, -3))));
    expect(await metrics.registry.getSingleMetricAsString('livechannel_retention_deleted_total')).toContain(`reason="space"} ${result.space}`);
  });

  it('never deletes what the live playlist names, even when the disk stays short; stops there', async () => {
    // 20,000 bytes: room for the shorter VOD playlist, never for 19,000 free while three segments stay
    const { sweeper, storedSegments, vodUris } = await setUp(20_000);
    const result = await sweeper({ minFreeBytes: 19_000 }).sweep();
    expect(result.space).toBe(7);
    expect(await storedSegments()).toEqual(['c/p7.ts', 'c/p8.ts', 'c/p9.ts']);
    expect(await vodUris()).toEqual(['p7.ts', 'p8.ts', 'p9.ts']);
  });

  it('deletes a VOD playlist the full disk cannot take a shorter copy of, rather than leave it naming deleted segments', async () => {
    const { sweeper, storedSegments, vodUris, metrics } = await setUp(1000);
    const result = await sweeper({ minFreeBytes: 500 }).sweep();
    expect(result).toMatchObject({ space: 7, vodDeleted: 1, vodRewritten: 0 });
    expect(await vodUris()).toBeUndefined();
    expect(await storedSegments()).toEqual(['c/p7.ts', 'c/p8.ts', 'c/p9.ts']);
    expect(await metrics.registry.getSingleMetricAsString('livechannel_retention_deleted_total')).toContain('reason="vod_no_space"} 1');
  });

  it('deletes by age, and the VOD playlist with it when nothing it names is left', async () => {
    const { catalog, store, sweeper, storedSegments } = await setUp(1e9);
    // at 20 s, a maxAge of 12.5 s reaches first frames before 7.5 s: p0–p7, but p7 is live
    await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist: { entries: [], discontinuitySequence: 0, targetDuration: 1 }, nextSequence: 10 }, 1);
    const result = await sweeper({ maxAge: 12_500 }).sweep();
    expect(result).toMatchObject({ age: 8, space: 0, vodRewritten: 1 });
    expect(await storedSegments()).toEqual(['c/p8.ts', 'c/p9.ts']);
    const again = await sweeper({ maxAge: 1 }).sweep();
    expect(again).toMatchObject({ age: 2, vodDeleted: 1 });
    expect(await store.head('c/vod.m3u8')).toBeUndefined();
    expect(await catalog.vodPlaylists('b')).toEqual([]);
  });

  it('a disk filling up mid-push: the write fails, the gap is marked, the emergency sweep frees space, writing resumes', async () => {
    // 10,000 bytes of old segments and a VOD playlist on an 11,000-byte disk: the next segment does not fit
    const { catalog, store, sweeper, storedSegments, metrics, token, pushId } = await setUp(11_000);
    const sweep = sweeper({ minFreeBytes: 4000 });
    let sweeps: Promise<unknown> | undefined;
    const windows: string[] = [];
    const uploader = new ChannelUploader({
      store,
      semaphore: new Semaphore(4),
      policy: { ...DEFAULT_UPLOAD_POLICY, backoff: { baseMs: 1, maxMs: 5 } },
      log,
      metrics,
      channel: 'c',
      playlistKey: 'c/p.m3u8',
      fragCount: 3,
      onSegmentStored: (seg) => catalog.addSegment({ bucket: 'b', channel: 'c', pushId, sequence: seg.sequence, key: seg.key, startTime: seg.startTime, durationMs: 1000, discontinuity: seg.discontinuity }, token),
      onPlaylistStored: async (playlist, text) => {
        windows.push(text);
        await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist, nextSequence: 99 }, token);
      },
      onStorageFull: () => (sweeps = sweep.sweep()),
    });
    const add = (n: number) =>
      uploader.add({ sequence: n, uri: `p${n}.ts`, key: `c/p${n}.ts`, startTime: n * 1000, durationMs: 1000, discontinuity: false, chunks: [new Uint8Array(1000).fill(n)], size: 1000 });
    add(10);
    await new Promise((r) => setTimeout(r, 50));
    expect(uploader.stats.dropped).toBe(1); // refused by the full disk, not retried
    expect(sweeps).toBeDefined();
    await sweeps;
    add(11);
    add(12);
    await uploader.finish();
    expect(uploader.stats).toMatchObject({ written: 2, dropped: 1 });
    expect(await storedSegments()).toEqual(expect.arrayContaining(['c/p11.ts', 'c/p12.ts']));
    expect(await storedSegments()).not.toContain('c/p10.ts');
    expect(await storedSegments()).not.toContain('c/p0.ts'); // the oldest went to make room
    // the playlist marks the gap where segment 10 was lost
    expect(windows.at(-1)).toMatch(/#EXT-X-DISCONTINUITY\n#EXTINF:1\.000,\np11\.ts/);
    expect(await store.freeBytes()).toBeGreaterThan(0);
  });

  it("judges each channel by the first matching override's maxAge", async () => {
    const { catalog, sweeper, storedSegments } = await setUp(1e9);
    await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist: { entries: [], discontinuitySequence: 0, targetDuration: 1 }, nextSequence: 10 }, 1);
    // every segment is past the bucket's 1 s, but "c" is kept forever
    expect(await sweeper({ maxAge: 1000, channels: [{ match: 'c', maxAge: 'forever' }, { match: '*', maxAge: 1 }] }).sweep()).toMatchObject({ age: 0 });
    expect(await storedSegments()).toHaveLength(10);
    // an override for other names leaves "c" to the bucket's maxAge; one that fits gives its own
    expect(await sweeper({ maxAge: 12_500, channels: [{ match: 'news-*', maxAge: 1 }] }).sweep()).toMatchObject({ age: 8 });
    expect(await sweeper({ maxAge: 1e9, channels: [{ match: '?', maxAge: 10_500 }] }).sweep()).toMatchObject({ age: 2 });
    expect(await storedSegments()).toEqual([]);
  });

  it('reads channel patterns with * and ? only', () => {
    expect(globToRegExp('news-*').test('news-eu')).toBe(true);
    expect(globToRegExp('news-*').test('sports')).toBe(false);
    expect(globToRegExp('cam?').test('cam7')).toBe(true);
    expect(globToRegExp('cam?').test('cam77')).toBe(false);
    expect(globToRegExp('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it("removes a deleted channel's objects by age, its last live playlist with them (OSS keeps them until then)", async () => {
    const { catalog, store, sweeper, storedSegments } = await setUp(1e9);
    await store.put('c/p.m3u8', '#EXTM3U\n#EXTINF:1,\np7.ts\n#EXTINF:1,\np8.ts\n#EXTINF:1,\np9.ts\n');
    expect(await sweeper({ maxAge: 1 }).sweep()).toMatchObject({ age: 7 }); // the live window stays while the channel exists
    await catalog.deleteChannel('b', 'c');
    expect(await storedSegments()).toEqual(['c/p7.ts', 'c/p8.ts', 'c/p9.ts']);
    expect(await sweeper({ maxAge: 1 }).sweep()).toMatchObject({ age: 3 });
    expect(await storedSegments()).toEqual([]);
    expect(await store.head('c/p.m3u8')).toBeUndefined();
    expect(await catalog.playlistStates('b')).toEqual([]);
  });

  it('deletes an fMP4 init segment once no indexed segment and no live playlist names it', async () => {
    const { catalog, lease, push } = await channelPushing();
    const store = new FsObjectStore(mkdtempSync(join(tmpdir(), 'lc-ret-')));
    // two codec configurations: p0–p4 after p-init0.mp4, p5–p9 after p-init5.mp4
    const initOf = (i: number) => (i < 5 ? 'p-init0.mp4' : 'p-init5.mp4');
    for (const init of ['p-init0.mp4', 'p-init5.mp4']) await store.put(`c/${init}`, Buffer.alloc(700));
    for (let i = 0; i < 10; i++) {
      const s = { bucket: 'b', channel: 'c', pushId: push.id, sequence: i, key: `c/p${i}.m4s`, startTime: i * 1000, durationMs: 1000, discontinuity: false, initKey: `c/${initOf(i)}` };
      await store.put(s.key, Buffer.alloc(1000, i));
      await catalog.addSegment(s, lease.token);
    }
    const live = (from: number) => Array.from({ length: 10 - from }, (_, k) => ({ sequence: from + k, uri: `p${from + k}.m4s`, duration: 1, discontinuity: false, map: initOf(from + k) }));
    await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist: { entries: live(7), discontinuitySequence: 0, targetDuration: 1 }, nextSequence: 10 }, lease.token);
    const metrics = new Metrics();
    const sweep = (maxAge: number) => new RetentionSweeper({ bucket: 'b', config: { sweepInterval: 1000, maxAge }, store, catalog, log, metrics, now: () => 20_000 }).sweep();
    const stored = async () => (await store.list({ prefix: 'c/', marker: '', maxKeys: 100, delimiter: '' })).objects.map((o) => o.key);

    // p0–p3 go: p4 still names p-init0.mp4
    expect(await sweep(16_500)).toMatchObject({ age: 4, initSegments: 0 });
    expect(await store.head('c/p-init0.mp4')).toBeDefined();
    // p4–p6 go: nothing names p-init0.mp4 any more; p-init5.mp4 stays for p7–p9 (indexed and live)
    expect(await sweep(12_500)).toMatchObject({ age: 3, initSegments: 1 });
    expect(await stored()).toEqual(['c/p-init5.mp4', 'c/p7.m4s', 'c/p8.m4s', 'c/p9.m4s']);
    // the live window alone protects an init segment too (here no longer indexed: p8, p9 forgotten by hand)
    await catalog.deleteSegments((await catalog.oldestSegments('b', 1e9, 10)).filter((s) => s.sequence >= 8));
    await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist: { entries: live(8), discontinuitySequence: 0, targetDuration: 1 }, nextSequence: 10 }, lease.token);
    expect(await sweep(1)).toMatchObject({ age: 1, initSegments: 0 });
    expect(await store.head('c/p-init5.mp4')).toBeDefined();
    // the push ended long ago and its window moved on: the last init segment goes with its last segment
    await catalog.savePlaylistState('b', 'c', 'p.m3u8', { playlist: { entries: [], discontinuitySequence: 0, targetDuration: 1 }, nextSequence: 10 }, lease.token);
    for (const i of [8, 9]) await catalog.addSegment({ bucket: 'b', channel: 'c', pushId: push.id, sequence: i, key: `c/p${i}.m4s`, startTime: i * 1000, durationMs: 1000, discontinuity: false, initKey: 'c/p-init5.mp4' }, lease.token);
    expect(await sweep(1)).toMatchObject({ age: 2, initSegments: 1 });
    expect(await stored()).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('livechannel_retention_deleted_total')).toContain('reason="init_segment"} 2');
  });

  it('deletes snapshots stored in the bucket past their channel\'s maxAge, object and index row', async () => {
    const { catalog, store, sweeper, metrics } = await setUp(1e9);
    // snapshots of two channels at 1 s … 10 s; 'keep-1' is kept forever by an override
    for (const channel of ['c', 'keep-1']) {
      for (let i = 1; i <= 10; i++) {
        const key = `${channel}/${i * 1000}.jpg`;
        await store.put(key, Buffer.alloc(100, i));
        await catalog.addSnapshot({ bucket: 'b', channel, key, time: i * 1000 });
      }
    }
    const jpegs = async (channel: string) => (await store.list({ prefix: `${channel}/`, marker: '', maxKeys: 100, delimiter: '' })).objects.map((o) => o.key).filter((k) => k.endsWith('.jpg'));
    // at 20 s, a maxAge of 12.5 s reaches times before 7.5 s: c's first seven
    const result = await sweeper({ maxAge: 12_500, channels: [{ match: 'keep-*', maxAge: 'forever' }] }).sweep();
    expect(result).toMatchObject({ snapshots: 7 });
    expect(await jpegs('c')).toEqual(['c/10000.jpg', 'c/8000.jpg', 'c/9000.jpg']);
    expect(await jpegs('keep-1')).toHaveLength(10);
    expect((await catalog.oldestSnapshots('b', 1e15, 100)).filter((s) => s.channel === 'c').map((s) => s.time)).toEqual([8000, 9000, 10000]);
    expect(await metrics.registry.getSingleMetricAsString('livechannel_retention_deleted_total')).toContain('reason="snapshot"} 7');
  });
});
