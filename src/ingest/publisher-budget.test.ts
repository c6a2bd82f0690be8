import { describe, expect, it } from 'vitest';
import { PublisherBudget } from './publisher-budget.js';

function admitAll(b: PublisherBudget, offered: number): number {
  let admitted = 0;
  for (let i = 0; i < offered; i++) {
    if (b.refusal() === undefined) {
      b.admitted();
      admitted++;
    }
  }
  return admitted;
}

describe('PublisherBudget', () => {
  it('caps admissions per second until the cost of a publisher is known', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    expect(admitAll(b, 175)).toBe(50);
    expect(b.refusal()).toBe('50 publishers admitted in the last second, their cost not measured yet');
    // a window full of newcomers teaches nothing: set-up costs more than steady media
    b.observe(0.3, 50);
    expect(admitAll(b, 175)).toBe(50);
  });

  it('admits a burst only as far as the measured cost per publisher leaves room', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    admitAll(b, 10);
    b.observe(0.05, 0);
    b.observe(0.1, 10);
    b.observe(0.1, 10); // calm: 1 % of the loop per publisher
    // 0.1 now, 0.6 allowed: 50 more fit, the 51st would make it 0.61
    expect(admitAll(b, 300)).toBe(50);
    expect(b.refusal()).toBe('event loop 10 % busy, 61 % with one more publisher (limit 60 %)');
    // the newcomers still count against the next second, their load only partly measured yet
    b.observe(0.35, 10);
    expect(admitAll(b, 300)).toBe(0);
    b.observe(0.6, 60);
    expect(admitAll(b, 300)).toBe(0);
  });

  it('makes room again when publishers leave', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    b.observe(0.6, 60);
    b.observe(0.6, 60);
    expect(admitAll(b, 10)).toBe(0);
    b.observe(0.4, 60); // 20 left during that second
    b.observe(0.4, 40);
    // the cost is a running mean (1 %, 0.67 %, 1 % → 0.92 %): 0.4 + 21 × 0.0092 ≤ 0.6
    expect(admitAll(b, 100)).toBe(21);
  });

  it('refuses on the measured share alone while the cost is unknown', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    b.observe(0.9, 0); // busy with something else than publishers (playback, say)
    expect(b.refusal()).toBe('event loop 90 % busy (limit 60 %)');
  });
});
