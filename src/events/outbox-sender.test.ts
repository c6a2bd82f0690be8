import { describe, expect, it } from 'vitest';
import { retryDelay } from './outbox-sender.js';

describe('retryDelay', () => {
  it('doubles from the base to the cap, jittered over the upper half of each step', () => {
    const low = (a: number) => retryDelay(a, 1000, 300_000, () => 0);
    const high = (a: number) => retryDelay(a, 1000, 300_000, () => 1);
    expect([0, 1, 2, 3].map(low)).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map(high)).toEqual([1000, 2000, 4000, 8000]);
    expect(high(20)).toBe(300_000);
    expect(low(1000)).toBe(150_000); // no overflow past the cap, however many attempts
  });
});
