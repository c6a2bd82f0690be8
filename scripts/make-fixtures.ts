// Generates the test media under fixtures/generated/ with ffmpeg (skips files already there).
import { makeAllFixtures } from './lib/fixtures.js';

const started = Date.now();
const paths = await makeAllFixtures();
for (const p of paths) console.log(p);
console.log(`fixtures ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
