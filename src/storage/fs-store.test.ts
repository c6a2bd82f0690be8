import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from './fs-store.js';
import { InvalidObjectKeyError } from './object-store.js';

let dir: string;
let store: FsObjectStore;
const ownTmp = () => join(dir, '.lc-tmp', `${hostname()}-${process.pid}`);
const tmpFiles = () => (existsSync(ownTmp()) ? readdirSync(ownTmp()) : []);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-store-'));
  store = new FsObjectStore(dir);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('FsObjectStore', () => {
  it('writes strings, buffers and chunk lists, and replaces an object whole', async () => {
    await store.put('a/playlist.m3u8', '#EXTM3U\n');
    await store.put('a/one.bin', Buffer.from('single'));
    const chunks = [new Uint8Array(70_000).fill(1), new Uint8Array(100_000).fill(2), new Uint8Array(3).fill(3)];
    const info = await store.put('a/seg0.ts', chunks, 'video/MP2T');
    expect(info.size).toBe(170_003);
    expect(readFileSync(join(dir, 'a/seg0.ts'))).toEqual(Buffer.concat(chunks));
    expect(readFileSync(join(dir, 'a/playlist.m3u8'), 'utf8')).toBe('#EXTM3U\n');
    expect(readFileSync(join(dir, 'a/one.bin'), 'utf8')).toBe('single');
    await store.put('a/playlist.m3u8', '#EXTM3U\n#EXT-X-ENDLIST\n');
    expect(readFileSync(join(dir, 'a/playlist.m3u8'), 'utf8')).toBe('#EXTM3U\n#EXT-X-ENDLIST\n');
    expect((await store.head('a/seg0.ts'))!.etag).toBe(info.etag);
  });

  it('never shows a partial object to a reader polling while it is replaced', async () => {
    const versions = [Buffer.alloc(300_000, 'a'), Buffer.alloc(200_000, 'b')];
    await store.put('k', versions[0]!);
    let seen = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const body = readFileSync(join(dir, 'k'));
        expect(versions.some((v) => v.equals(body))).toBe(true);
        seen++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 40; i++) await store.put('k', versions[i % 2]!);
    writing = false;
    await reader;
    expect(seen).toBeGreaterThan(0);
  });

  it('refuses a key whose path clashes with another object, leaving no temp file behind', async () => {
    await store.put('a', 'file');
    await expect(store.put('a/b', 'x')).rejects.toBeInstanceOf(InvalidObjectKeyError);
    await store.put('c/d', 'file');
    await expect(store.put('c', 'x')).rejects.toBeInstanceOf(InvalidObjectKeyError);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('file');
    // only the spare files kept open for the next writes remain, and close() removes them
    await store.close();
    expect(tmpFiles()).toEqual([]);
  });

  it('refuses keys that would leave its folder', async () => {
    for (const key of ['../x', 'a/../../x', '/abs', 'a//b', '.lc-tmp/x', 'a\\b']) {
      await expect(store.put(key, 'x'), key).rejects.toBeInstanceOf(InvalidObjectKeyError);
    }
  });

  it('keeps writing when its spare temp files vanish, and cleanUp clears leftovers of a crash', async () => {
    await store.put('x/1', 'one');
    writeFileSync(join(ownTmp(), 'left-by-a-crash'), 'partial');
    // another process sharing the root (alive: this test's parent), a dead one, another host
    const live = join(dir, '.lc-tmp', `${hostname()}-${process.ppid}`);
    const dead = join(dir, '.lc-tmp', `${hostname()}-999999999`);
    const elsewhere = join(dir, '.lc-tmp', 'other-host-1');
    for (const d of [live, dead, elsewhere]) mkdirSync(d, { recursive: true });
    await store.cleanUp();
    expect(existsSync(ownTmp())).toBe(false);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(elsewhere)).toBe(true);
    await store.put('x/2', Buffer.alloc(100_000, 7));
    expect(readFileSync(join(dir, 'x/2')).length).toBe(100_000);
    expect(readFileSync(join(dir, 'x/1'), 'utf8')).toBe('one');
  });

  it('writes many objects at once, each complete', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.put(`many/${i}.ts`, [Buffer.alloc(80_000, i)])));
    for (let i = 0; i < 50; i++) expect(readFileSync(join(dir, `many/${i}.ts`)).equals(Buffer.alloc(80_000, i))).toBe(true);
    await store.close();
    expect(tmpFiles()).toEqual([]);
  });
});
