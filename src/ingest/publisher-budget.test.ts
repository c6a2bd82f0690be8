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
    // a window full of newcomers teaches no cost (set-up costs more than steady media), only an
    // upper bound that paces the next ones: 0.1 + 0.002 × (50 + n) ≤ 0.6 leaves room for 199,
    // the cold-start cap for 50
    b.observe(0.1, 50);
    expect(admitAll(b, 175)).toBe(50);
    expect(b.cost).toBeUndefined();
    expect(b.full(100)).toBeUndefined();
    // a busier one (0.3 smoothed): 0.3 + 0.01 × (50 + 0 + 1) > 0.6 — wait for a calm window
    b.observe(0.5, 50);
    expect(admitAll(b, 175)).toBe(0);
    expect(b.refusal()).toBe('event loop 30 % busy while publishers join, their cost not measured yet (limit 60 %)');
  });

  it('admits a burst only as far as the measured cost per publisher leaves room', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    admitAll(b, 10);
    b.observe(0.1, 0);
    b.observe(0.1, 10);
    b.observe(0.1, 10); // calm: 1 % of the loop per publisher
    // 0.1 now, 0.6 allowed: 50 more fit, the 51st would make it 0.61
    expect(admitAll(b, 300)).toBe(50);
    expect(b.refusal()).toBe('event loop 10 % busy, 61 % with one more publisher (limit 60 %)');
    // the newcomers still count against the next second, their load only partly measured yet
    b.observe(0.35, 10);
    expect(admitAll(b, 300)).toBe(0);
  });

  it('smooths the busy share: one second of connect work does not close the door', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    for (let i = 0; i < 4; i++) b.observe(0.2, 20); // 1 % each
    b.observe(0.9, 20); // a burst of handshakes: 0.55 smoothed, room for a few more
    expect(b.refusal()).toBeUndefined();
    b.observe(0.2, 20);
    expect(admitAll(b, 100)).toBeGreaterThan(10);
  });

  it('makes room again when publishers leave', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    b.observe(0.6, 60);
    b.observe(0.6, 60);
    expect(admitAll(b, 10)).toBe(0);
    b.observe(0.4, 60); // 20 left during that second
    b.observe(0.4, 40);
    b.observe(0.4, 40);
    // smoothed 0.425; cost a running mean (1 %, 0.67 %, 1 %, 1 % → 0.96 %): 0.425 + 18 × 0.0096 ≤ 0.6
    expect(admitAll(b, 100)).toBe(18);
  });

  it('refuses on the measured share alone while the cost is unknown', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    b.observe(0.9, 0); // busy with something else than publishers (playback, say)
    expect(b.refusal()).toBe('event loop 90 % busy (limit 60 %)');
  });

  it('says full only for what lasts: not while publishers are joining, yes once a calm window shows no room', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50 });
    for (let i = 0; i < 3; i++) b.observe(0.3, 30); // 1 % each
    expect(admitAll(b, 10)).toBe(10);
    // the joiners' set-up makes the loop look full; what lasts is 40 × 1 %
    b.observe(0.9, 30);
    expect(b.full(40)).toBeUndefined();
    // but no estimate leaves room for a 61st
    expect(b.full(60)).toBe('event loop 60 % busy with 60 publishers, 61 % with one more (limit 60 %)');
    b.observe(0.65, 40);
    b.observe(0.65, 40);
    expect(b.full(40)).toMatch(/^event loop \d+ % busy \(limit 60 %\)$/);
  });

  it('starts from a remembered cost: a restart knows what a publisher costs', () => {
    const b = new PublisherBudget({ maxUtilization: 0.6, coldStartAdmissions: 50, rememberedCost: 0.01 });
    expect(b.cost).toBe(0.01);
    // no cold-start cap, and the 61st is refused at once: 60 × 1 % is all there is room for
    expect(admitAll(b, 300)).toBe(60);
    expect(b.full(60)).toBeDefined();
    expect(b.full(30)).toBeUndefined();
  });
});
