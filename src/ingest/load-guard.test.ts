import { afterEach, describe, expect, it } from 'vitest';
import { LoadGuard } from './load-guard.js';

const guards: LoadGuard[] = [];
afterEach(() => guards.splice(0).forEach((g) => g.close()));

function guard(o: Partial<ConstructorParameters<typeof LoadGuard>[0]> = {}): LoadGuard {
  const g = new LoadGuard({
    maxEventLoopDelayMs: 50,
    maxUnwrittenBytes: 1000,
    maxEventLoopUtilization: 1,
    coldStartAdmissions: 1000,
    unwrittenBytes: () => 0,
    publishers: () => 0,
    ...o,
  });
  guards.push(g);
  return g;
}

const blockFor = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

describe('LoadGuard', () => {
  it('is busy while segments waiting for storage pass the bound, and says how much', () => {
    let unwritten = 0;
    const g = guard({ maxUnwrittenBytes: 2 * 1048576, unwrittenBytes: () => unwritten });
    expect(g.busy()).toBeUndefined();
    unwritten = 3 * 1048576;
    expect(g.busy()).toBe('3 MiB of segments waiting for storage (limit 2 MiB)');
    unwritten = 1048576;
    expect(g.busy()).toBeUndefined();
  });

  it('is busy after a second in which the event loop ran late, and recovers after a calm one', async () => {
    const g = guard();
    await new Promise((r) => setTimeout(r, 1100));
    expect(g.busy()).toBeUndefined();
    const blocker = setInterval(() => blockFor(120), 150);
    await new Promise((r) => setTimeout(r, 1300));
    clearInterval(blocker);
    expect(g.busy()).toMatch(/^event loop \d+ ms late \(limit 50 ms\)$/);
    await new Promise((r) => setTimeout(r, 2200));
    expect(g.busy()).toBeUndefined();
  });
});
