// npm run crash-loop -- --iterations N [--seed S]: kill -9 the gateway at random points during
// pushes and API writes, restart it, and check the catalog, playlists and history each time.
import { parseArgs } from 'node:util';
import { crashLoop } from '../test/support/crash-loop.js';
import { fixture } from './lib/fixtures.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20' }, seed: { type: 'string', default: String(Date.now() % 1e9) } } });
const r = await crashLoop(Number(values.iterations), await fixture('main.flv'), Number(values.seed), (s) => console.log(s));
for (const p of r.problems) console.log(`problem: ${p}`);
console.log(`${r.problems.length === 0 ? r.iterations : 0} passed, ${r.problems.length === 0 ? 0 : 1} failed`);
process.exit(r.problems.length === 0 ? 0 : 1);
