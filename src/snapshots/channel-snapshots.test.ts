import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { runPackager } from '../../test/support/packager-run.js';
import { SqliteCatalog } from '../catalog/sqlite-catalog.js';
import { EventRecorder } from '../events/event-recorder.js';
import { ffmpegPath } from '../ffmpeg-path.js';
import { parseFlv } from '../media/flv.js';
import type { KeyframeInfo } from '../media/packager.js';
import { Metrics } from '../metrics.js';
import { FsObjectStore } from '../storage/fs-store.js';
import { Semaphore } from '../storage/semaphore.js';
import { ChannelSnapshots } from './channel-snapshots.js';
import { DecoderPool } from './decoder-pool.js';

const log = Fastify({ logger: { level: 'silent' } }).log;
let keyframes: KeyframeInfo[];
const closing: (() => void)[] = [];

beforeAll(() => {
  keyframes = runPackager(parseFlv(readFileSync(`${FIXTURE_DIR}/main.flv`)), { keyframeIntervalMs: 2000 }).events.flatMap((e) => (e.type === 'keyframe' ? [e.keyframe] : []));
});
afterEach(() => closing.splice(0).forEach((close) => close()));

function setup(root: string, mayWrite = () => true) {
  const metrics = new Metrics(false);
  const pool = new DecoderPool({ ffmpeg: ffmpegPath(), size: 1, quality: 4, timeoutMs: 5000, idleMs: 60_000, maxQueued: 4, zscale: true, metrics });
  const catalog = new SqliteCatalog(':memory:');
  closing.push(() => pool.close(), () => void catalog.close());
  const recorder = new EventRecorder([{ url: 'http://127.0.0.1:9/events', events: ['*'] }], 'node-a', metrics);
  const snapshots = new ChannelSnapshots({
    bucket: 'media',
    channel: 'show',
    config: { roleName: '', destBucket: 'thumbs', notifyTopic: 'topic-a', interval: 2 },
    pool,
    put: { store: new FsObjectStore(root), semaphore: new Semaphore(4), backoff: { baseMs: 1, maxMs: 5 }, metrics, log, channel: 'show', sleep: async () => {} },
    wallTime: (ms) => 1_764_480_000_000 + ms,
    mayWrite,
    catalog,
    recorder,
    metrics,
    log,
  });
  const outcome = async (name: string) => (await metrics.snapshots.get()).values.find((v) => v.labels.outcome === name)?.value ?? 0;
  return { snapshots, catalog, outcome };
}

describe('ChannelSnapshots', () => {
  it('stores each offered keyframe as <channel>/<unix-ms>.jpg, records snapshot.created, and keeps the latest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'snap-store-'));
    const { snapshots, catalog, outcome } = setup(root);
    for (const k of keyframes.slice(0, 3)) {
      snapshots.offer(k);
      await snapshots.settled();
    }
    await snapshots.finish();
    const expected = keyframes.slice(0, 3).map((k) => `${1_764_480_000_000 + Math.round(k.ms)}.jpg`);
    expect(readdirSync(join(root, 'show')).sort()).toEqual(expected.sort());
    expect(snapshots.stats).toEqual({ stored: 3, skipped: 0, failed: 0 });
    expect(await outcome('stored')).toBe(3);
    expect(snapshots.latest).toMatchObject({ bucket: 'thumbs', key: `show/${expected[2]}`, width: 1280, height: 720 });
    const rows = await catalog.outbox.heads(Date.now() + 1, 10);
    const event = JSON.parse(rows[0]!.body);
    expect(event).toMatchObject({ type: 'snapshot.created', bucket: 'media', channel: 'show', destBucket: 'thumbs', key: `show/${expected[0]}`, width: 1280, height: 720, topic: 'topic-a' });
    expect(event.time).toBe(new Date(Number(expected[0]!.slice(0, -4))).toISOString());
    expect(await catalog.outbox.pending()).toBe(3);
    // indexed where they are stored, for retention
    expect(await catalog.oldestSnapshots('thumbs', Number.MAX_SAFE_INTEGER, 10)).toEqual(
      expected.map((name) => ({ bucket: 'thumbs', channel: 'show', key: `show/${name}`, time: Number(name.slice(0, -4)) })),
    );
  }, 30_000);

  it("skips a keyframe while the channel's previous snapshot is still being made", async () => {
    const { snapshots, outcome } = setup(mkdtempSync(join(tmpdir(), 'snap-store-')));
    snapshots.offer(keyframes[0]!);
    snapshots.offer(keyframes[1]!);
    await snapshots.finish();
    expect(snapshots.stats).toEqual({ stored: 1, skipped: 1, failed: 0 });
    expect(await outcome('skipped_busy')).toBe(1);
  }, 30_000);

  it('counts a snapshot storage refuses, records no event, and takes the next one', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'snap-store-'));
    const notADir = join(parent, 'file');
    writeFileSync(notADir, 'x');
    const { snapshots, catalog, outcome } = setup(notADir);
    snapshots.offer(keyframes[0]!);
    await snapshots.finish();
    expect(snapshots.stats).toEqual({ stored: 0, skipped: 0, failed: 1 });
    expect(await outcome('store_failed')).toBe(1);
    expect(snapshots.latest).toBeUndefined();
    expect(await catalog.outbox.pending()).toBe(0);
    expect(await catalog.oldestSnapshots('thumbs', Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  }, 30_000);

  it('writes nothing once the publish lease is lost', async () => {
    const root = mkdtempSync(join(tmpdir(), 'snap-store-'));
    const { snapshots } = setup(root, () => false);
    snapshots.offer(keyframes[0]!);
    await snapshots.finish();
    expect(snapshots.stats.failed).toBe(1);
    expect(readdirSync(root)).toEqual([]);
  }, 30_000);
});
