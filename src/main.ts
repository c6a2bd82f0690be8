// Many channels write files at once: give libuv more than its default 4 threads, before
// anything uses the pool (a user's own setting wins).
process.env.UV_THREADPOOL_SIZE ??= '16';
const { main } = await import('./cli.js');

await main(process.argv);
