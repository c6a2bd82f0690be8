import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, SqliteCatalog } from './sqlite-catalog.js';

const file = () => join(mkdtempSync(join(tmpdir(), 'lc-cat-')), 'catalog.db');
const cfg = { description: '', status: 'enabled' as const, fragDuration: 5, fragCount: 3, playlistName: 'playlist.m3u8' };

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

  it('lists channels in byte order with prefix, marker and a limit', async () => {
    const c = new SqliteCatalog(':memory:');
    for (const n of ['b', 'a', 'ab', 'B', 'é', 'a b', 'z']) await c.putChannel('bk', n, cfg);
    await c.putChannel('other', 'a0', cfg);
    const all = await c.listChannels('bk', { prefix: '', marker: '', maxKeys: 100 });
    expect(all.channels.map((x) => x.name)).toEqual(['B', 'a', 'a b', 'ab', 'b', 'z', 'é']);
    expect(all.truncated).toBe(false);
    const page = await c.listChannels('bk', { prefix: 'a', marker: 'a', maxKeys: 1 });
    expect(page).toMatchObject({ truncated: true, channels: [{ name: 'a b' }] });
  });

  it('updates status, replaces configurations and deletes', async () => {
    const c = new SqliteCatalog(':memory:');
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

  it('records pushes and closes the ones a crash left open', async () => {
    const c = new SqliteCatalog(':memory:');
    const a = await c.startPush('b', 'x', '1.2.3.4:5', 1000);
    await c.endPush(a.id, 2000, 'replaced');
    await c.endPush(a.id, 2500, 'disconnected'); // a push ends once
    await c.startPush('b', 'x', '1.2.3.4:6', 3000);
    expect(await c.closeOpenPushes(4000)).toBe(1);
    expect(await c.closeOpenPushes(5000)).toBe(0);
    expect((await c.recentPushes('b', 'x', 10)).map((p) => [p.startTime, p.endTime, p.endReason])).toEqual([
      [1000, 2000, 'replaced'],
      [3000, 4000, 'interrupted'],
    ]);
  });

  it('finds segments by start time', async () => {
    const c = new SqliteCatalog(':memory:');
    for (let i = 0; i < 5; i++) {
      await c.addSegment({ bucket: 'b', channel: 'x', pushId: 1, sequence: i, key: `x/${i}.ts`, startTime: 10_000 + i * 2000, durationMs: 2000, discontinuity: i === 0 });
    }
    const found = await c.segmentsBetween('b', 'x', 12_000, 16_000);
    expect(found.map((s) => s.key)).toEqual(['x/1.ts', 'x/2.ts', 'x/3.ts']);
    expect((await c.segmentsBetween('b', 'x', 0, 10_000))[0]).toMatchObject({ discontinuity: true, durationMs: 2000 });
  });
});
