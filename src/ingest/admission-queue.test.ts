import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionQueue, type Admission } from './admission-queue.js';

// The load guard's answers are scripted here (the real one reads the event loop); the queue's
// order, pacing, deadlines and refusals are what is tested.
let queues: AdmissionQueue[] = [];
afterEach(() => {
  for (const q of queues) q.close('test over');
  queues = [];
});

function setUp(o: { slots: number; full?: string; maxWaitMs?: number; maxWaiting?: number }) {
  const state = { slots: o.slots, full: o.full as string | undefined, time: 0 };
  const guard = {
    admit: () => (state.slots > 0 ? (state.slots--, undefined) : 'no room this instant'),
    full: () => state.full,
  };
  const q = new AdmissionQueue(guard, { maxWaitMs: o.maxWaitMs ?? 1000, maxWaiting: o.maxWaiting ?? 100, tickMs: 1_000_000, now: () => state.time });
  queues.push(q);
  return { q, state };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('AdmissionQueue', () => {
  it('admits at once while there is room, then holds newcomers and lets them in first come first served as room appears', async () => {
    const { q, state } = setUp({ slots: 2 });
    const results: [number, Admission][] = [];
    const all = Array.from({ length: 5 }, (_, i) => q.enter().then((a) => results.push([i, a])));
    await settle();
    expect(results.map(([i]) => i)).toEqual([0, 1]);
    expect(q.size).toBe(3);
    state.slots = 2;
    state.time = 300;
    q.tick();
    await settle();
    expect(results.map(([i]) => i)).toEqual([0, 1, 2, 3]);
    state.slots = 1;
    state.time = 600;
    q.tick();
    await Promise.all(all);
    expect(results.map(([i, a]) => [i, a.admitted, a.waitedMs])).toEqual([
      [0, true, 0],
      [1, true, 0],
      [2, true, 300],
      [3, true, 300],
      [4, true, 600],
    ]);
  });

  it('refuses a waiter whose wait ran out with the last reason it was held for', async () => {
    const { q, state } = setUp({ slots: 0, maxWaitMs: 500 });
    const early = q.enter(200);
    const late = q.enter();
    state.time = 250;
    q.tick();
    expect(await early).toEqual({ admitted: false, reason: 'no room this instant', waitedMs: 250 });
    state.time = 500;
    q.tick();
    expect(await late).toEqual({ admitted: false, reason: 'no room this instant', waitedMs: 500 });
  });

  it('refuses at once when the process is full for good, and refuses those waiting once it becomes so', async () => {
    const { q, state } = setUp({ slots: 0 });
    const waiting = q.enter();
    state.full = 'no room while those live stay';
    expect(await q.enter()).toEqual({ admitted: false, reason: 'no room while those live stay', waitedMs: 0 });
    state.time = 100;
    q.tick();
    expect(await waiting).toEqual({ admitted: false, reason: 'no room while those live stay', waitedMs: 100 });
  });

  it('bounds how many wait, and forgets a publisher that left', async () => {
    const { q, state } = setUp({ slots: 0, maxWaiting: 2 });
    let gone = false;
    const leaving = q.enter(undefined, () => gone);
    const staying = q.enter();
    expect(await q.enter()).toEqual({ admitted: false, reason: '2 publishers already waiting for room', waitedMs: 0 });
    gone = true;
    state.slots = 1;
    q.tick();
    expect(await leaving).toMatchObject({ admitted: false, reason: 'the publisher left' });
    expect(await staying).toMatchObject({ admitted: true });
  });
});
