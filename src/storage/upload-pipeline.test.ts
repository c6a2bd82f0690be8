import Fastify from 'fastify';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LivePlaylistState } from '../media/playlist.js';
import { Metrics } from '../metrics.js';
import { FsObjectStore } from './fs-store.js';
import type { ObjectData, ObjectInfo, ObjectStore } from './object-store.js';
import { Semaphore } from './semaphore.js';
import { ChannelUploader, DEFAULT_UPLOAD_POLICY, type SegmentUpload } from './upload-pipeline.js';

const log = Fastify({ logger: { level: 'silent' } }).log;
let dir: string;
let store: FsObjectStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uploader-'));
  store = new FsObjectStore(dir);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function segment(n: number, bytes = 1000): SegmentUpload {
  const chunks = [new Uint8Array(bytes).fill(n)];
  return { sequence: n, uri: `p${n}.ts`, key: `ch/p${n}.ts`, startTime: n * 2000, durationMs: 2000, discontinuity: false, chunks, size: bytes, closedAt: performance.now() };
}

function uploader(target: ObjectStore, metrics: Metrics, opts: { maxQueuedBytes?: number; onPlaylist?: (state: LivePlaylistState) => void; mayWrite?: () => boolean } = {}) {
  return new ChannelUploader({
    mayWrite: opts.mayWrite,
    store: target,
    semaphore: new Semaphore(4),
    policy: { ...DEFAULT_UPLOAD_POLICY, maxQueuedBytes: opts.maxQueuedBytes ?? DEFAULT_UPLOAD_POLICY.maxQueuedBytes, backoff: { baseMs: 1, maxMs: 5 } },
    log,
    metrics,
    channel: 'ch',
    playlistKey: 'ch/playlist.m3u8',
    fragCount: 3,
    onSegmentStored: async () => {},
    onPlaylistStored: async (state) => opts.onPlaylist?.(state),
  });
}

/** The filesystem store, with segment writes held until released (storage slower than the stream). */
class HeldStore implements ObjectStore {
  private release: (() => void) | undefined;
  private held = new Promise<void>((r) => (this.release = r));
  constructor(private readonly inner: FsObjectStore) {}
  open(): void {
    this.release!();
  }
  async put(key: string, data: ObjectData, contentType?: string): Promise<ObjectInfo> {
    if (key.endsWith('.ts')) await this.held;
    return this.inner.put(key, data, contentType);
  }
  head = (key: string) => this.inner.head(key);
  get = (key: string) => this.inner.get(key);
  delete = (key: string) => this.inner.delete(key);
  list = (q: Parameters<ObjectStore['list']>[0]) => this.inner.list(q);
}

describe('ChannelUploader', () => {
  it('publishes each segment, then a playlist naming only segments already in storage', async () => {
    const metrics = new Metrics();
    const seen: string[][] = [];
    const up = uploader(store, metrics, {
      onPlaylist: (state) => {
        const uris = state.entries.map((e) => e.uri);
        for (const uri of uris) expect(existsSync(join(dir, 'ch', uri)), uri).toBe(true);
        seen.push(uris);
      },
    });
    for (let n = 0; n < 6; n++) up.add(segment(n, 200_000));
    await up.finish();
    expect(seen.slice(0, 6)).toEqual([['p0.ts'], ['p0.ts', 'p1.ts'], ['p0.ts', 'p1.ts', 'p2.ts'], ['p1.ts', 'p2.ts', 'p3.ts'], ['p2.ts', 'p3.ts', 'p4.ts'], ['p3.ts', 'p4.ts', 'p5.ts']]);
    expect(readFileSync(join(dir, 'ch/playlist.m3u8'), 'utf8')).toMatch(/p5\.ts\n#EXT-X-ENDLIST\n$/);
    expect(readFileSync(join(dir, 'ch/p3.ts')).equals(Buffer.alloc(200_000, 3))).toBe(true);
    expect(up.stats).toMatchObject({ written: 6, dropped: 0 });
    const latency = (await metrics.publishLatency.get()).values.find((v) => v.metricName === 'livechannel_segment_publish_seconds_count');
    expect(latency!.value).toBe(6);
  });

  it('marks the discontinuity on the first segment stored after the ones it had to drop', async () => {
    const held = new HeldStore(store);
    const up = uploader(held, new Metrics(), { maxQueuedBytes: 3500 });
    up.add(segment(0)); // being written while the next ones arrive
    for (let n = 1; n <= 4; n++) up.add(segment(n));
    held.open();
    await up.finish();
    expect(up.stats.dropped).toBe(2);
    const text = readFileSync(join(dir, 'ch/playlist.m3u8'), 'utf8');
    // p1 and p2 were dropped: p0 is followed by the discontinuity, then p3 and p4
    expect(text.split('\n').filter((l) => l.endsWith('.ts') || l === '#EXT-X-DISCONTINUITY')).toEqual(['p0.ts', '#EXT-X-DISCONTINUITY', 'p3.ts', 'p4.ts']);
  });

  it('drops a segment storage refuses, and marks the gap on the next one', async () => {
    mkdirSync(join(dir, 'ch', 'p1.ts', 'in-the-way'), { recursive: true }); // a folder where the segment goes
    const up = uploader(store, new Metrics());
    for (let n = 0; n < 3; n++) up.add(segment(n));
    await up.finish();
    expect(up.stats).toMatchObject({ written: 2, dropped: 1 });
    const text = readFileSync(join(dir, 'ch/playlist.m3u8'), 'utf8');
    expect(text.split('\n').filter((l) => l.endsWith('.ts') || l === '#EXT-X-DISCONTINUITY')).toEqual(['p0.ts', '#EXT-X-DISCONTINUITY', 'p2.ts']);
  });
});

describe('a publish that lost its lease (fenced)', () => {
  it('writes nothing more, drops what is queued, and still finishes', async () => {
    const metrics = new Metrics();
    let owns = true;
    const u = uploader(store, metrics, { mayWrite: () => owns });
    u.add(segment(0));
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, 'ch/p0.ts'))).toBe(true);
    const before = readFileSync(join(dir, 'ch/playlist.m3u8'), 'utf8');
    owns = false;
    u.add(segment(1));
    u.add(segment(2));
    await u.finish();
    expect(existsSync(join(dir, 'ch/p1.ts'))).toBe(false);
    expect(existsSync(join(dir, 'ch/p2.ts'))).toBe(false);
    // no ENDLIST either: the playlist belongs to the new owner now
    expect(readFileSync(join(dir, 'ch/playlist.m3u8'), 'utf8')).toBe(before);
    expect(u.stats).toMatchObject({ written: 1, dropped: 2 });
    expect(await metrics.registry.getSingleMetricAsString('livechannel_segments_dropped_total')).toMatch(/reason="fenced"} 2/);
  });
});
