import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startTestApp, type TestApp } from './support/test-app.js';

// Retention on a real push: segments past maxAge go, and no stored playlist ever names one.
const MAX_AGE_MS = 4000;
let t: TestApp;
const pushes: PushProcess[] = [];
beforeAll(async () => {
  t = await startTestApp({
    // "open" first: pushes that name no bucket (an IP address) go there
    buckets: [
      { name: 'open', acl: 'public-read-write', retention: { maxAge: `${MAX_AGE_MS}ms`, sweepInterval: '250ms' } },
      { name: 'media', acl: 'private' },
    ],
  });
});
afterAll(async () => {
  for (const p of pushes) p.kill();
  await t.close();
});

const store = () => t.app.storeFor('open');
/** A playlist's segment URIs and its EXT-X-MAP init segment URIs. */
const uris = (playlist: string) =>
  playlist.split('\n').flatMap((l) => (!l.startsWith('#') ? (l ? [l] : []) : l.startsWith('#EXT-X-MAP:') ? [/URI="([^"]+)"/.exec(l)![1]!] : []));

/** Every object under the channel's folder, and every playlist's URIs resolved to keys. */
async function storedState(channel: string) {
  const { objects } = await store().list({ prefix: `${channel}/`, marker: '', maxKeys: 1000, delimiter: '' });
  const keys = new Set(objects.map((o) => o.key));
  const named = new Map<string, string[]>();
  for (const key of keys) {
    if (!key.endsWith('.m3u8')) continue;
    const got = await store().get(key);
    const text = await new Response(got!.body as unknown as ReadableStream).text();
    named.set(key, uris(text).map((u) => decodeURIComponent(new URL(u, `http://x/${key}`).pathname.slice(1))));
  }
  return { keys, named };
}

describe('retention', () => {
  it('deletes segments past maxAge and their index rows, never one a live playlist names, and rewrites or deletes VOD playlists first', async () => {
    const client = t.client('open');
    await client.putChannel('show', { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '1', FragCount: '3', PlaylistName: 'playlist.m3u8' } });
    const startedAt = Math.floor(Date.now() / 1000);
    const push = ffmpegPush(`${t.rtmpBase}/live/show`, await fixture('main.flv'), { loopSeconds: 20 });
    pushes.push(push);
    // a VOD of the first seconds (it will lose every segment) and one of everything so far
    await eventually(async () => ((await t.app.catalog.segmentsBetween('open', 'show', 0, Date.now())).length >= 2 ? true : undefined), 15_000, 'two segments');
    await client.createVod('show', 'first.m3u8', { startTime: startedAt - 60, endTime: Math.floor(Date.now() / 1000) });
    // the whole range, into the future: it keeps what it named when made, not what came later
    await new Promise((r) => setTimeout(r, 2500));
    await client.createVod('show', 'all.m3u8', { startTime: startedAt - 60, endTime: startedAt + 3600 });
    const allAtFirst = (await storedState('show')).named.get('show/all.m3u8')!;
    expect(allAtFirst.length).toBeGreaterThan(2);
    // once its oldest segments age out it is rewritten without them, and still plays
    const partial = await eventually(async () => {
      const state = await storedState('show');
      const refs = state.named.get('show/all.m3u8');
      return refs && refs.length < allAtFirst.length ? { ...state, refs } : undefined;
    }, 15_000, 'all.m3u8 rewritten');
    expect(partial.refs.length).toBeGreaterThan(0);
    expect(partial.refs).toEqual(allAtFirst.slice(allAtFirst.length - partial.refs.length)); // what is left, in order
    for (const ref of partial.refs) expect(partial.keys.has(ref)).toBe(true);
    expect(await ffmpegWarnings(`${t.endpoint}/open/show/all.m3u8`)).toBe('');
    expect(await push.exited).toBe(0);
    const endedAt = Date.now();

    // the sweeper keeps up while the push runs; once it ended, wait until what is left is young or live
    await eventually(async () => {
      const left = await t.app.catalog.segmentsBetween('open', 'show', 0, Number.MAX_SAFE_INTEGER);
      return left.length <= 3 ? left : undefined;
    }, MAX_AGE_MS + 15_000, 'old segments deleted');
    await new Promise((r) => setTimeout(r, Math.max(0, endedAt + MAX_AGE_MS + 1000 - Date.now())));
    const indexed = await t.app.catalog.segmentsBetween('open', 'show', 0, Number.MAX_SAFE_INTEGER);
    const { keys, named } = await storedState('show');

    // what stays: the live playlist's window (it still names them), nothing else
    const live = named.get('show/playlist.m3u8')!;
    expect(live).toHaveLength(3);
    expect(indexed.map((s) => s.key).sort()).toEqual([...live].sort());
    // no stored playlist names a missing object; nothing is stored that the catalog does not know
    for (const [playlist, refs] of named) for (const ref of refs) expect(keys.has(ref), `${playlist} names ${ref}`).toBe(true);
    const segmentsStored = [...keys].filter((k) => k.endsWith('.ts')).sort();
    expect(segmentsStored).toEqual([...live].sort());
    // both VODs named only segments now past maxAge (not the live window's): both gone
    expect(keys.has('show/first.m3u8')).toBe(false);
    expect(keys.has('show/all.m3u8')).toBe(false);
    expect(await t.app.catalog.vodPlaylists('open')).toEqual([]);
    expect(await ffmpegWarnings(`${t.endpoint}/open/show/playlist.m3u8`)).toBe('');
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_retention_deleted_total\{reason="age"\} [1-9]\d*/m);
    expect(metrics).toMatch(/^livechannel_retention_deleted_total\{reason="vod_emptied"\} 2$/m);
  }, 90_000);

  it("deletes an fMP4 push's init segment once its segments are gone; the live window keeps the one it names", async () => {
    const client = t.client('open');
    await client.putChannel('cmaf', { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '1', FragCount: '3', PlaylistName: 'playlist.m3u8', SegmentFormat: 'fMP4' } });
    const inits = async () => [...(await storedState('cmaf')).keys].filter((k) => k.endsWith('.mp4')).sort();
    // two pushes: an init segment each (the one the newest segment names, which the live window keeps)
    const initKeys: (string | undefined)[] = [];
    for (let n = 0; n < 2; n++) {
      const push = ffmpegPush(`${t.rtmpBase}/live/cmaf`, await fixture('main.flv'), { loopSeconds: 4 });
      pushes.push(push);
      expect(await push.exited).toBe(0);
      initKeys.push((await t.app.catalog.segmentsBetween('open', 'cmaf', 0, Number.MAX_SAFE_INTEGER)).at(-1)?.initKey);
    }
    const [first, second] = initKeys;
    expect(first).toMatch(/^cmaf\/playlist-init\d+\.mp4$/);
    expect(second).toMatch(/^cmaf\/playlist-init\d+\.mp4$/);
    expect(second).not.toBe(first);
    const endedAt = Date.now();
    await eventually(async () => ((await inits()).length === 1 ? true : undefined), MAX_AGE_MS + 15_000, "the first push's init segment deleted");
    await new Promise((r) => setTimeout(r, Math.max(0, endedAt + MAX_AGE_MS + 1000 - Date.now())));

    const { keys, named } = await storedState('cmaf');
    const live = named.get('cmaf/playlist.m3u8')!;
    // what stays is what the live playlist names: its three segments and the second push's init segment
    expect(live.filter((k) => k.endsWith('.m4s'))).toHaveLength(3);
    expect(new Set(live.filter((k) => k.endsWith('.mp4')))).toEqual(new Set([second]));
    expect([...keys].filter((k) => k !== 'cmaf/playlist.m3u8').sort()).toEqual([...new Set(live)].sort());
    expect(await ffmpegWarnings(`${t.endpoint}/open/cmaf/playlist.m3u8`)).toBe('');
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_retention_deleted_total\{reason="init_segment"\} 1$/m);
  }, 60_000);

  it("deletes a channel's snapshots in its DestBucket once past that bucket's maxAge", async () => {
    const client = t.client('open');
    await client.putChannel('thumbs', {
      Description: '',
      Status: 'enabled',
      Target: { Type: 'HLS', FragDuration: '1', FragCount: '3', PlaylistName: 'playlist.m3u8' },
      Snapshot: { RoleName: 'role', DestBucket: 'open', NotifyTopic: 'topic', Interval: '1' },
    });
    const jpegs = async () => [...(await storedState('thumbs')).keys].filter((k) => k.endsWith('.jpg'));
    const push = ffmpegPush(`${t.rtmpBase}/live/thumbs`, await fixture('main.flv'), { loopSeconds: 5 });
    pushes.push(push);
    await eventually(async () => ((await jpegs()).length >= 2 ? true : undefined), 15_000, 'two snapshots stored');
    expect(await push.exited).toBe(0);
    const made = (await t.app.catalog.oldestSnapshots('open', Number.MAX_SAFE_INTEGER, 100)).filter((s) => s.channel === 'thumbs');
    expect(made.length).toBeGreaterThanOrEqual(2);
    // the last one is at most maxAge old at the push's end: all gone within maxAge and a few sweeps
    await eventually(async () => ((await jpegs()).length === 0 ? true : undefined), MAX_AGE_MS + 10_000, 'snapshots deleted');
    expect((await t.app.catalog.oldestSnapshots('open', Number.MAX_SAFE_INTEGER, 100)).filter((s) => s.channel === 'thumbs')).toEqual([]);
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(metrics).toMatch(/^livechannel_retention_deleted_total\{reason="snapshot"\} [1-9]\d*$/m);
  }, 60_000);
});
