import { describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { crashLoop } from './support/crash-loop.js';

describe('crash safety under repeated kill -9', () => {
  it('keeps the catalog intact, playlists honest and pushes closed across 4 kills mid-push and mid-write', async () => {
    const r = await crashLoop(4, await fixture('main.flv'), 42);
    expect(r.problems).toEqual([]);
  }, 180_000);
});
