import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FencedError } from '../src/catalog/catalog.js';
import { PG_MIGRATIONS } from '../src/catalog/postgres-migrations.js';
import { MIGRATIONS, SqliteCatalog } from '../src/catalog/sqlite-catalog.js';
import { catalogBackends, closeCatalogs, postgresCatalog, testDatabase } from './support/catalog-backends.js';

const file = () => join(mkdtempSync(join(tmpdir(), 'lc-cat-')), 'catalog.db');
const cfg = { description: '', status: 'enabled' as const, fragDuration: 5, fragCount: 3, playlistName: 'playlist.m3u8' };
const TTL = 10_000;

afterAll(closeCatalogs);
const postgres = postgresCatalog;

describe.each(catalogBackends)('catalog on %s', (_name, make) => {
  it('lists channels in byte order with prefix, marker and a limit', async () => {
    const c = await make();
    for (const n of ['b', 'a', 'ab', 'B', 'é', 'a b', 'z', 'a%', 'a_']) await c.putChannel('bk', n, cfg);
    await c.putChannel('other', 'a0', cfg);
    const all = await c.listChannels('bk', { prefix: '', marker: '', maxKeys: 100 });
    expect(all.channels.map((x) => x.name)).toEqual(['B', 'a', 'a b', 'a%', 'a_', 'ab', 'b', 'z', 'é']);
    expect(all.truncated).toBe(false);
    const page = await c.listChannels('bk', { prefix: 'a', marker: 'a', maxKeys: 1 });
    expect(page).toMatchObject({ truncated: true, channels: [{ name: 'a b' }] });
    // prefixes are literal, not patterns
    expect((await c.listChannels('bk', { prefix: 'a%', marker: '', maxKeys: 100 })).channels.map((x) => x.name)).toEqual(['a%']);
  });

  it('updates status, replaces configurations and deletes', async () => {
    const c = await make();
    await c.putChannel('b', 'x', cfg, 1);
    expect(await c.setChannelStatus('b', 'x', 'disabled', 2)).toBe(true);
    expect(await c.getChannel('b', 'x')).toMatchObject({ status: 'disabled', lastModified: 2 });
    await c.putChannel('b', 'x', { ...cfg, fragCount: 7 }, 3);
    expect(await c.getChannel('b', 'x')).toMatchObject({ status: 'enabled', fragCount: 7, lastModified: 3 });
    expect(await c.setChannelStatus('b', 'nope', 'disabled')).toBe(false);
    expect(await c.deleteChannel('b', 'x')).toBe(true);
    expect(await c.deleteChannel('b', 'x')).toBe(false);
    expect(await c.getChannel('b', 'x')).toBeUndefined();
  });

  it('records pushes with their node and end reason, and closes the ones a crash left open once their lease is gone', async () => {
    const c = await make();
    const lease = await c.acquireLease({ bucket: 'b', channel: 'x', nodeId: 'n1', remoteAddr: '1.2.3.4:5', ttlMs: TTL, now: 1000 });
    if (!lease.ok) throw new Error('lease refused');
    const a = await c.startPush('b', 'x', '1.2.3.4:5', 1000, 'n1', lease.token);
    await c.endPush(a.id, 2000, 'replaced', lease.token);
    await c.endPush(a.id, 2500, 'disconnected', lease.token); // a push ends once
    await c.startPush('b', 'x', '1.2.3.4:6', 3000, 'n1', lease.token);
    // its lease is still live: another node's start must not close it
    expect(await c.closeOpenPushes(4000)).toBe(0);
    // once the lease expired, it is closed
    expect(await c.closeOpenPushes(1000 + TTL + 1)).toBe(1);
    expect(await c.closeOpenPushes(20_000)).toBe(0);
    expect((await c.recentPushes('b', 'x', 10)).map((p) => [p.startTime, p.endTime, p.endReason, p.nodeId])).toEqual([
      [1000, 2000, 'replaced', 'n1'],
      [3000, 1000 + TTL + 1, 'interrupted', 'n1'],
    ]);
  });

  it('finds segments by start time', async () => {
    const c = await make();
    const lease = await c.acquireLease({ bucket: 'b', channel: 'x', nodeId: 'n1', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    if (!lease.ok) throw new Error('lease refused');
    for (let i = 0; i < 5; i++) {
      await c.addSegment({ bucket: 'b', channel: 'x', pushId: 1, sequence: i, key: `x/${i}.ts`, startTime: 10_000 + i * 2000, durationMs: 2000, discontinuity: i === 0 }, lease.token);
    }
    const found = await c.segmentsBetween('b', 'x', 12_000, 16_000);
    expect(found.map((s) => s.key)).toEqual(['x/1.ts', 'x/2.ts', 'x/3.ts']);
    expect((await c.segmentsBetween('b', 'x', 0, 10_000))[0]).toMatchObject({ discontinuity: true, durationMs: 2000 });
  });

  it('gives a channel one publish lease at a time; an expired one passes on with a larger token and its open pushes closed', async () => {
    const c = await make();
    const req = { bucket: 'b', channel: 'x', remoteAddr: '10.0.0.1:1', ttlMs: TTL };
    const a = await c.acquireLease({ ...req, nodeId: 'A', now: 1000, peer: '{"url":"http://a"}' });
    expect(a).toEqual({ ok: true, token: 1, closedPushes: 0 });
    expect(await c.getLease('b', 'x', 1000)).toMatchObject({ nodeId: 'A', peer: '{"url":"http://a"}' });
    const push = await c.startPush('b', 'x', '10.0.0.1:1', 1000, 'A', 1);
    const refused = await c.acquireLease({ ...req, nodeId: 'B', remoteAddr: '10.0.0.2:2', now: 5000 });
    expect(refused).toMatchObject({ ok: false, holder: { nodeId: 'A', remoteAddr: '10.0.0.1:1', token: 1, acquiredAt: 1000, expiresAt: 1000 + TTL } });
    expect(await c.renewLeases([{ bucket: 'b', channel: 'x', token: 1, stat: '{"remoteAddr":"10.0.0.1:1"}' }], TTL, 6000)).toEqual([true]);
    expect(await c.getLease('b', 'x', 6000)).toMatchObject({ nodeId: 'A', expiresAt: 6000 + TTL, stat: '{"remoteAddr":"10.0.0.1:1"}' });
    expect((await c.acquireLease({ ...req, nodeId: 'B', now: 6000 + TTL - 1 })).ok).toBe(false);
    // A stops renewing; B takes over once the lease expired
    const b = await c.acquireLease({ ...req, nodeId: 'B', now: 6000 + TTL });
    expect(b).toEqual({ ok: true, token: 2, closedPushes: 1 });
    expect((await c.recentPushes('b', 'x', 1))[0]).toMatchObject({ id: push.id, endReason: 'interrupted' });
    expect(await c.renewLeases([{ bucket: 'b', channel: 'x', token: 1, stat: '{}' }], TTL, 20_000)).toEqual([false]);
    expect(await c.getLease('b', 'x', 16_001)).toMatchObject({ nodeId: 'B', token: 2 });
    expect((await c.getLease('b', 'x', 16_001))?.peer).toBeUndefined(); // B records none: A's is gone
    await c.releaseLease('b', 'x', 1); // a stale release changes nothing
    expect(await c.getLease('b', 'x', 16_001)).toMatchObject({ nodeId: 'B' });
    await c.releaseLease('b', 'x', 2);
    expect(await c.getLease('b', 'x', 16_001)).toBeUndefined();
    expect(await c.renewLeases([{ bucket: 'b', channel: 'x', token: 2, stat: '{}' }], TTL, 16_002)).toEqual([false]);
    // the token only grows, released or not
    expect(await c.acquireLease({ ...req, nodeId: 'A', now: 16_002 })).toMatchObject({ ok: true, token: 3 });
  });

  it('renews many leases at once, and says which were no longer held', async () => {
    const c = await make();
    for (const ch of ['a', 'b', 'c']) await c.acquireLease({ bucket: 'b', channel: ch, nodeId: 'A', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    await c.acquireLease({ bucket: 'b', channel: 'b', nodeId: 'B', remoteAddr: 'r', ttlMs: TTL, now: TTL }); // b expired and passed on
    const renewed = await c.renewLeases(
      ['a', 'b', 'c'].map((ch) => ({ bucket: 'b', channel: ch, token: 1, stat: `{"ch":"${ch}"}` })),
      TTL,
      TTL + 1,
    );
    expect(renewed).toEqual([true, false, true]);
    expect(await c.getLease('b', 'a', TTL + 2)).toMatchObject({ expiresAt: 2 * TTL + 1, stat: '{"ch":"a"}' });
    expect(await c.getLease('b', 'b', TTL + 2)).toMatchObject({ nodeId: 'B', token: 2 });
    expect(await c.renewLeases([], TTL, 0)).toEqual([]);
  });

  it('refuses catalog writes of a push whose lease passed to a newer owner (fencing)', async () => {
    const c = await make();
    const req = { bucket: 'b', channel: 'f', remoteAddr: 'r', ttlMs: TTL };
    await c.acquireLease({ ...req, nodeId: 'A', now: 0 });
    const stale = await c.startPush('b', 'f', 'r', 0, 'A', 1);
    await c.acquireLease({ ...req, nodeId: 'B', now: TTL });
    const seg = { bucket: 'b', channel: 'f', pushId: stale.id, sequence: 7, key: 'f/7.ts', startTime: 1, durationMs: 2000, discontinuity: false };
    await expect(c.addSegment(seg, 1)).rejects.toBeInstanceOf(FencedError);
    await expect(c.savePlaylistState('b', 'f', 'playlist.m3u8', { nextSequence: 8 } as never, 1)).rejects.toBeInstanceOf(FencedError);
    const fresh = await c.startPush('b', 'f', 'r2', TTL, 'B', 2);
    await expect(c.endPush(fresh.id, TTL + 1, 'disconnected', 1)).rejects.toBeInstanceOf(FencedError);
    expect(await c.segmentsBetween('b', 'f', 0, 10)).toEqual([]);
    expect(await c.getPlaylistState('b', 'f', 'playlist.m3u8')).toBeUndefined();
    // the owner's writes go through
    await c.addSegment({ ...seg, pushId: fresh.id }, 2);
    await c.savePlaylistState('b', 'f', 'playlist.m3u8', { nextSequence: 8 } as never, 2);
    await c.endPush(fresh.id, TTL + 1, 'unpublished', 2);
    expect(await c.getPlaylistState('b', 'f', 'playlist.m3u8')).toEqual({ nextSequence: 8 });
    expect((await c.recentPushes('b', 'f', 1))[0]).toMatchObject({ endReason: 'unpublished', nodeId: 'B' });
  });

  it("tells a node which of its channels to stop: asked to, disabled or deleted; releases a dead run's leases", async () => {
    const c = await make();
    for (const ch of ['p', 'q', 'r', 's']) {
      await c.putChannel('b', ch, cfg);
      await c.acquireLease({ bucket: 'b', channel: ch, nodeId: 'A', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    }
    await c.acquireLease({ bucket: 'b', channel: 'other-node', nodeId: 'B', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    expect(await c.pendingStops('A', 1)).toEqual([]);
    expect(await c.requestStop('b', 'p', 'replaced', 1)).toBe(true);
    expect(await c.requestStop('b', 'nobody', 'replaced', 1)).toBe(false);
    await c.setChannelStatus('b', 'q', 'disabled', 1);
    await c.deleteChannel('b', 'r');
    const stops = (await c.pendingStops('A', 2)).sort((x, y) => x.channel.localeCompare(y.channel));
    expect(stops).toEqual([
      { bucket: 'b', channel: 'p', token: 1, reason: 'replaced' },
      { bucket: 'b', channel: 'q', token: 1, reason: 'disabled' },
      { bucket: 'b', channel: 'r', token: 1, reason: 'disabled' },
    ]);
    expect(await c.pendingStops('A', TTL)).toEqual([]); // expired leases ask nothing
    expect(await c.releaseNodeLeases('A')).toBe(4);
    expect(await c.getLease('b', 's', 1)).toBeUndefined();
    expect(await c.getLease('b', 'other-node', 1)).toMatchObject({ nodeId: 'B' });
  });
});

describe.each(catalogBackends)('retention queries on %s', (_name, make) => {
  it('lists a bucket\'s oldest segments, forgets deleted ones, keeps VOD playlist records and live windows', async () => {
    const c = await make();
    await c.putChannel('b', 'x', cfg);
    const lease = await c.acquireLease({ bucket: 'b', channel: 'x', nodeId: 'A', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    if (!lease.ok) throw new Error('lease');
    const seg = (i: number, bucket = 'b') => ({ bucket, channel: 'x', pushId: 1, sequence: i, key: `x/${i}.ts`, startTime: 1000 * (5 - i), durationMs: 1000, discontinuity: false });
    for (let i = 0; i < 5; i++) await c.addSegment(seg(i), lease.token);
    expect((await c.oldestSegments('b', 3500, 10)).map((s) => s.sequence)).toEqual([4, 3, 2]);
    expect((await c.oldestSegments('b', 1e9, 2)).map((s) => s.sequence)).toEqual([4, 3]);
    expect(await c.oldestSegments('other', 1e9, 10)).toEqual([]);
    const [first] = await c.oldestSegments('b', 1e9, 1);
    expect((await c.oldestSegments('b', 1e9, 10, first)).map((s) => s.sequence)).toEqual([3, 2, 1, 0]); // the next page
    await c.deleteSegments([seg(4), seg(3)]);
    expect((await c.oldestSegments('b', 1e9, 10)).map((s) => s.sequence)).toEqual([2, 1, 0]);
    // fMP4 init segments: which keys an indexed segment still names (segments 0 and 1 name one each)
    await c.addSegment({ ...seg(0), initKey: 'x/p-init0.mp4' }, lease.token);
    await c.addSegment({ ...seg(1), initKey: 'x/p-init1.mp4' }, lease.token);
    expect(await c.oldestSegments('b', 1e9, 10)).toContainEqual({ ...seg(1), initKey: 'x/p-init1.mp4' });
    expect(await c.initKeysInUse('b', ['x/p-init0.mp4', 'x/p-init1.mp4', 'x/p-init9.mp4'])).toEqual(new Set(['x/p-init0.mp4', 'x/p-init1.mp4']));
    await c.deleteSegments([seg(1)]);
    expect(await c.initKeysInUse('b', ['x/p-init0.mp4', 'x/p-init1.mp4'])).toEqual(new Set(['x/p-init0.mp4']));
    expect(await c.initKeysInUse('other', ['x/p-init0.mp4'])).toEqual(new Set());
    expect(await c.initKeysInUse('b', [])).toEqual(new Set());
    await c.recordVodPlaylist({ bucket: 'b', channel: 'x', key: 'x/v.m3u8', fromMs: 0, toMs: 10 });
    await c.recordVodPlaylist({ bucket: 'b', channel: 'x', key: 'x/v.m3u8', fromMs: 5, toMs: 20 });
    expect(await c.vodPlaylists('b')).toEqual([{ bucket: 'b', channel: 'x', key: 'x/v.m3u8', fromMs: 5, toMs: 20 }]);
    await c.deleteVodPlaylist('b', 'x/v.m3u8');
    expect(await c.vodPlaylists('b')).toEqual([]);
    await c.savePlaylistState('b', 'x', 'playlist.m3u8', { nextSequence: 3 } as never, lease.token);
    expect(await c.playlistStates('b')).toEqual([{ channel: 'x', name: 'playlist.m3u8', state: { nextSequence: 3 } }]);
  });

  it('indexes snapshots by the bucket they are stored in, oldest first, page by page, and forgets deleted ones', async () => {
    const c = await make();
    const snap = (channel: string, time: number, bucket = 'thumbs') => ({ bucket, channel, key: `${channel}/${time}.jpg`, time });
    for (const s of [snap('x', 3000), snap('y', 1000), snap('x', 1000), snap('x', 2000), snap('x', 500, 'other')]) await c.addSnapshot(s);
    await c.addSnapshot(snap('x', 2000)); // stored again: one row
    expect(await c.oldestSnapshots('thumbs', 1e15, 10)).toEqual([snap('x', 1000), snap('y', 1000), snap('x', 2000), snap('x', 3000)]);
    expect(await c.oldestSnapshots('thumbs', 2000, 10)).toEqual([snap('x', 1000), snap('y', 1000)]);
    const [first] = await c.oldestSnapshots('thumbs', 1e15, 1);
    expect(await c.oldestSnapshots('thumbs', 1e15, 2, first)).toEqual([snap('y', 1000), snap('x', 2000)]); // the next page
    await c.deleteSnapshots('thumbs', ['x/1000.jpg', 'x/3000.jpg']);
    await c.deleteSnapshots('thumbs', []);
    expect(await c.oldestSnapshots('thumbs', 1e15, 10)).toEqual([snap('y', 1000), snap('x', 2000)]);
    expect(await c.oldestSnapshots('other', 1e15, 10)).toEqual([snap('x', 500, 'other')]);
  });

  it('keeps ten-second health summaries per channel, answers a time range in order, and prunes the old ones', async () => {
    const c = await make();
    const row = (channel: string, time: number, bucket = 'b') => ({ bucket, channel, time, data: JSON.stringify({ videoBitrate: time }) });
    await c.addHealthSummaries([row('x', 20_000), row('x', 0), row('x', 10_000), row('y', 10_000), row('x', 10_000, 'other')]);
    await c.addHealthSummaries([{ ...row('x', 10_000), data: '{"again":true}' }]); // stored again: replaced
    await c.addHealthSummaries([]);
    expect(await c.healthSummaries('b', 'x', 0, 1e15, 100)).toEqual([row('x', 0), { ...row('x', 10_000), data: '{"again":true}' }, row('x', 20_000)]);
    expect(await c.healthSummaries('b', 'x', 5_000, 20_000, 100)).toEqual([{ ...row('x', 10_000), data: '{"again":true}' }]);
    expect(await c.healthSummaries('b', 'x', 0, 1e15, 1)).toEqual([row('x', 0)]);
    expect(await c.pruneHealthSummaries(15_000)).toBe(4);
    expect(await c.healthSummaries('b', 'x', 0, 1e15, 100)).toEqual([row('x', 20_000)]);
    expect(await c.healthSummaries('b', 'y', 0, 1e15, 100)).toEqual([]);
  });
});

describe('SqliteCatalog', () => {
  it('applies versioned migrations once and records the version', async () => {
    const path = file();
    const c = new SqliteCatalog(path);
    expect(c.schemaVersion).toBe(MIGRATIONS.length);
    await c.putChannel('b', 'x', cfg, 1);
    await c.close();
    const again = new SqliteCatalog(path);
    expect(again.schemaVersion).toBe(MIGRATIONS.length);
    expect(await again.getChannel('b', 'x')).toMatchObject({ name: 'x', lastModified: 1 });
    expect(again.integrityCheck()).toBe('ok');
    await again.close();
  });

  it('refuses a catalog written by a newer version', () => {
    const path = file();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new SqliteCatalog(path)).toThrow(/newer than this build supports/);
  });

  it('migrates a new file once when several processes open it at the same moment (workers starting)', async () => {
    const path = file();
    const script = `import { SqliteCatalog } from './src/catalog/sqlite-catalog.ts';
      const c = new SqliteCatalog(${JSON.stringify(path)});
      process.stdout.write(String(c.schemaVersion));
      await c.close();`;
    const runs = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<{ code: number | null; out: string }>((resolve) => {
            const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            child.stdout.on('data', (c) => (out += c));
            child.stderr.on('data', (c) => (out += c));
            child.on('exit', (code) => resolve({ code, out }));
          }),
      ),
    );
    expect(runs).toEqual(runs.map(() => ({ code: 0, out: String(MIGRATIONS.length) })));
  });

  it('lets two processes on one file take a lease once (one database, no in-process state)', async () => {
    const path = file();
    const a = new SqliteCatalog(path);
    const b = new SqliteCatalog(path);
    const req = { bucket: 'b', channel: 'x', remoteAddr: 'r', ttlMs: TTL, now: 0 };
    const results = await Promise.all([a.acquireLease({ ...req, nodeId: 'A' }), b.acquireLease({ ...req, nodeId: 'B' })]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    await a.close();
    await b.close();
  });
});

describe('PostgresCatalog', () => {
  it('migrates once when several nodes start at once, and records the version', async () => {
    const db = await testDatabase();
    const nodes = await Promise.all([1, 2, 3].map(() => postgres(db.url)));
    for (const n of nodes) expect(await n.schemaVersion).toBe(PG_MIGRATIONS.length);
    await nodes[0]!.putChannel('b', 'x', cfg, 1);
    expect(await nodes[2]!.getChannel('b', 'x')).toMatchObject({ name: 'x' });
  });

  it('gives a contended lease to exactly one of many nodes', async () => {
    const db = await testDatabase();
    const nodes = await Promise.all([1, 2, 3, 4].map(() => postgres(db.url)));
    const results = await Promise.all(
      nodes.flatMap((n, i) => [0, 1, 2].map((j) => n.acquireLease({ bucket: 'b', channel: 'hot', nodeId: `N${i}.${j}`, remoteAddr: 'r', ttlMs: TTL, now: 0 }))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(new Set(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.holder.nodeId))).size).toBe(1);
  });

  it('wakes the lease holder through LISTEN/NOTIFY when its channel is disabled on another node', async () => {
    const db = await testDatabase();
    const [owner, other] = await Promise.all([postgres(db.url), postgres(db.url)]);
    await owner.putChannel('b', 'x', cfg);
    await owner.acquireLease({ bucket: 'b', channel: 'x', nodeId: 'A', remoteAddr: 'r', ttlMs: 60_000, now: Date.now() });
    let woken = 0;
    owner.onStopRequested(() => woken++);
    await new Promise((r) => setTimeout(r, 300)); // LISTEN set up (it also wakes once on connect)
    const before = woken;
    await other.setChannelStatus('b', 'x', 'disabled', Date.now());
    const deadline = Date.now() + 2000;
    while (woken === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(woken).toBeGreaterThan(before);
    expect(await owner.pendingStops('A', Date.now())).toEqual([{ bucket: 'b', channel: 'x', token: 1, reason: 'disabled' }]);
  });

  it('refuses a catalog written by a newer version', async () => {
    const db = await testDatabase();
    const first = await postgres(db.url);
    await (first as unknown as { pool: { query(s: string): Promise<unknown> } }).pool.query(`UPDATE schema_version SET version = ${PG_MIGRATIONS.length + 1}`);
    await expect(postgres(db.url)).rejects.toThrow(/newer than this build supports/);
  });
});
