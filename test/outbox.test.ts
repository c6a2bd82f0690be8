import { afterAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../src/catalog/catalog.js';
import type { OutboxEntry } from '../src/catalog/outbox.js';
import { FencedError } from '../src/catalog/catalog.js';
import { EventRecorder } from '../src/events/event-recorder.js';
import { Metrics } from '../src/metrics.js';
import { catalogBackends, closeCatalogs } from './support/catalog-backends.js';

afterAll(closeCatalogs);

const cfg = { description: '', status: 'enabled' as const, fragDuration: 5, fragCount: 3, playlistName: 'playlist.m3u8' };
const TTL = 10_000;
const recorder = (targets = [{ url: 'http://a.test/e', events: ['*'] }]) => new EventRecorder(targets, 'node-1', new Metrics());
const bodies = async (c: Catalog) => {
  const out: { type: string; channel: string; body: Record<string, unknown> }[] = [];
  for (const head of await c.outbox.heads(Number.MAX_SAFE_INTEGER, 1000)) {
    for (const r of [head, ...(await c.outbox.nextInChannel(head, 1000))]) out.push({ type: r.type, channel: r.channel, body: JSON.parse(r.body) });
  }
  return out;
};

describe.each(catalogBackends)('events outbox on %s', (_name, make) => {
  it('stores an event in the transaction of its change, and only when the change is made', async () => {
    const c = await make();
    const r = recorder();
    const put = (name: string) => c.putChannel('b', name, cfg, undefined, (existed) => r.entries(existed ? 'channel.updated' : 'channel.created', 'b', name, { ...cfg }));
    await put('x');
    await put('x');
    expect(await c.setChannelStatus('b', 'missing', 'disabled', undefined, r.entries('channel.status', 'b', 'missing', { status: 'disabled' }))).toBe(false);
    expect(await c.deleteChannel('b', 'missing', r.entries('channel.deleted', 'b', 'missing'))).toBe(false);
    const lease = await c.acquireLease({ bucket: 'b', channel: 'x', nodeId: 'A', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    if (!lease.ok) throw new Error('lease');
    const push = await c.startPush('b', 'x', 'r', 0, 'A', lease.token, (p) => r.entries('publish.started', 'b', 'x', { pushId: p.id }));
    const seg = { bucket: 'b', channel: 'x', pushId: push.id, sequence: 0, key: 'x/p0.ts', startTime: 1, durationMs: 2000, discontinuity: false };
    await c.addSegment(seg, lease.token, r.entries('segment.stored', 'b', 'x', { sequence: 0 }));
    // a stale token changes nothing, so it records nothing
    await expect(c.addSegment({ ...seg, sequence: 1 }, lease.token + 5, r.entries('segment.stored', 'b', 'x', { sequence: 1 }))).rejects.toBeInstanceOf(FencedError);
    await expect(
      c.savePlaylistState('b', 'x', 'playlist.m3u8', { nextSequence: 1 } as never, lease.token + 5, r.entries('playlist.updated', 'b', 'x')),
    ).rejects.toBeInstanceOf(FencedError);
    await c.endPush(push.id, 5, 'unpublished', lease.token, r.entries('publish.ended', 'b', 'x', { pushId: push.id, reason: 'unpublished' }));
    await c.endPush(push.id, 6, 'unpublished', lease.token, r.entries('publish.ended', 'b', 'x', { pushId: push.id, reason: 'again' }));
    await c.setChannelStatus('b', 'x', 'disabled', undefined, r.entries('channel.status', 'b', 'x', { status: 'disabled' }));
    await c.deleteChannel('b', 'x', r.entries('channel.deleted', 'b', 'x'));

    const seen = await bodies(c);
    expect(seen.map((e) => e.type)).toEqual([
      'channel.created',
      'channel.updated',
      'publish.started',
      'segment.stored',
      'publish.ended',
      'channel.status',
      'channel.deleted',
    ]);
    expect(seen[2]!.body).toMatchObject({ type: 'publish.started', bucket: 'b', channel: 'x', nodeId: 'node-1', pushId: push.id });
    expect(new Set(seen.map((e) => e.body.id)).size).toBe(seen.length);
    expect(await c.outbox.pending()).toBe(7);
  });

  it('records publish.ended (node-lost) for the pushes it closes after their node died, with their segment counts', async () => {
    const c = await make();
    const r = recorder();
    await c.putChannel('b', 'y', cfg);
    await c.putChannel('b', 'z', cfg);
    const a = await c.acquireLease({ bucket: 'b', channel: 'y', nodeId: 'dead', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    const z = await c.acquireLease({ bucket: 'b', channel: 'z', nodeId: 'dead', remoteAddr: 'r', ttlMs: TTL, now: 0 });
    if (!a.ok || !z.ok) throw new Error('lease');
    const py = await c.startPush('b', 'y', '10.0.0.1:5000', 100, 'dead', a.token);
    const pz = await c.startPush('b', 'z', '10.0.0.2:5000', 100, 'dead', z.token);
    for (let i = 0; i < 3; i++) await c.addSegment({ bucket: 'b', channel: 'y', pushId: py.id, sequence: i, key: `y/${i}.ts`, startTime: 200 + i, durationMs: 1, discontinuity: false }, a.token);
    // another node takes y over once the lease expired: y's push is closed with it
    const taken = await c.acquireLease({ bucket: 'b', channel: 'y', nodeId: 'B', remoteAddr: 'r', ttlMs: TTL, now: TTL + 1 }, r.lostPushes);
    expect(taken).toMatchObject({ ok: true, closedPushes: 1 });
    // a sweep closes z's; a second sweep finds nothing more
    expect(await c.closeOpenPushes(TTL + 2, r.lostPushes)).toBe(1);
    expect(await c.closeOpenPushes(TTL + 3, r.lostPushes)).toBe(0);
    const seen = await bodies(c);
    expect(seen.map((e) => [e.channel, e.body.reason, e.body.pushId, e.body.segments])).toEqual([
      ['y', 'node-lost', py.id, 3],
      ['z', 'node-lost', pz.id, 0],
    ]);
    expect(seen[0]!.body).toMatchObject({ type: 'publish.ended', remoteAddr: '10.0.0.1:5000', lostNodeId: 'dead', durationMs: TTL + 1 - 100, bytesIn: null, nodeId: 'node-1' });
  });

  it("holds a channel's later events behind a failing one, lets other channels go on, and moves on once it is dead", async () => {
    const c = await make();
    const r = recorder([
      { url: 'http://a.test/e', events: ['*'] },
      { url: 'http://b.test/e', events: ['publish.started'] },
    ]);
    const append = (channel: string, type: 'publish.started' | 'segment.stored') => c.outbox.append(r.entries(type, 'b', channel));
    await append('p', 'publish.started');
    await append('p', 'segment.stored');
    await append('q', 'publish.started');
    const heads = await c.outbox.heads(0, 10);
    expect(heads.map((h) => [h.target, h.channel, h.type])).toEqual([
      ['http://a.test/e', 'p', 'publish.started'],
      ['http://b.test/e', 'p', 'publish.started'],
      ['http://a.test/e', 'q', 'publish.started'],
      ['http://b.test/e', 'q', 'publish.started'],
    ]);
    await c.outbox.retryAt(heads[0]!.id, 1000, 'HTTP 503');
    // p on a.test waits, and its second event with it
    expect((await c.outbox.heads(999, 10)).map((h) => `${h.channel}@${new URL(h.target).host}`)).toEqual(['p@b.test', 'q@a.test', 'q@b.test']);
    expect((await c.outbox.heads(1000, 10))[0]).toMatchObject({ id: heads[0]!.id, attempts: 1 });
    await c.outbox.markDead(heads[0]!.id, 2000, 'HTTP 503');
    const next = (await c.outbox.heads(2000, 10)).find((h) => h.target === 'http://a.test/e' && h.channel === 'p')!;
    expect([next.channel, next.type]).toEqual(['p', 'segment.stored']);
    await c.outbox.delivered([next.id]);
    expect(await c.outbox.nextInChannel(heads[0]!, 10)).toEqual([]);
    expect(await c.outbox.pending()).toBe(3); // the dead one is not pending
  });

  it('keeps the outbox bounded: dead events go first, then the oldest droppable ones; publish and channel events stay', async () => {
    const c = await make();
    const r = recorder();
    const entries: OutboxEntry[] = [];
    for (let i = 0; i < 10; i++) entries.push(...r.entries('publish.started', 'b', `c${i}`));
    for (let i = 0; i < 140; i++) entries.push(...r.entries(i % 2 ? 'segment.stored' : 'playlist.updated', 'b', `c${i % 10}`, { i }));
    await c.outbox.append(entries);
    const dead = (await c.outbox.heads(0, 1))[0]!;
    await c.outbox.markDead(dead.id, 1, 'gone');
    expect(await c.outbox.trim(100)).toEqual({ deadRemoved: 1, dropped: { 'playlist.updated': 25, 'segment.stored': 24 }, pending: 100 });
    expect(await c.outbox.pending()).toBe(100);
    const left = await bodies(c);
    expect(left.filter((e) => e.type === 'publish.started')).toHaveLength(9);
    // the newest droppable ones were kept
    expect(Math.min(...left.filter((e) => e.type !== 'publish.started').map((e) => e.body.i as number))).toBe(49);
    expect(await c.outbox.trim(100)).toEqual({ deadRemoved: 0, dropped: {}, pending: 100 });
  });

  it('lets one node at a time send, and another take over once its lease expired', async () => {
    const c = await make();
    const t = await c.outbox.acquireSender('A', 1000, 0);
    expect(t).toBeDefined();
    expect(await c.outbox.acquireSender('B', 1000, 500)).toBeUndefined();
    expect(await c.outbox.acquireSender('A', 1000, 900)).toBe(t); // renewed
    expect(await c.outbox.acquireSender('B', 1000, 1500)).toBeUndefined();
    expect(await c.outbox.acquireSender('B', 1000, 1900)).toBe(t! + 1);
    await c.outbox.releaseSender('B');
    expect(await c.outbox.acquireSender('A', 1000, 2000)).toBe(t! + 2);
  });
});
