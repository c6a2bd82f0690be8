import { setFlagsFromString } from 'node:v8';

// Many channels write files at once: give libuv more than its default 4 threads, before
// anything uses the pool (a user's own setting wins).
process.env.UV_THREADPOOL_SIZE ??= '16';
// Ingest allocates tens of MB/s that die young, over a small live heap (~25 MB at 100
// streams). V8's default old-generation limit sits so close to the live size that it marks
// without pause: 3-4 full collections a second, a third of the gateway's CPU. Letting the
// old generation grow to 4x its live size before the next one (V8 reads this flag each time it
// sets the limit) cut the CPU per stream from 0.41 % to 0.27 % of a core (docs/benchmarks.md).
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=300');
const { main } = await import('./cli.js');

await main(process.argv);
