import { makeAllFixtures } from '../scripts/lib/fixtures.js';

// Fixtures are generated once, before test files run in parallel.
export default async function setup(): Promise<void> {
  await makeAllFixtures();
}
