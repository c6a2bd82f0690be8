import pg from 'pg';

/** A database of its own for this run, dropped at the end. */
export async function createBenchDatabase(server = process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432'): Promise<{ url: string; transactions(): Promise<number>; drop(): Promise<void> }> {
  const name = `lc_bench_${Date.now().toString(36)}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: `${server}/postgres` });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: `${server}/${name}`,
    // the statistics collector's count (flushed every ~1 s): near enough over a run of tens of seconds
    transactions: () =>
      admin(async (c) => {
        const r = await c.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [name]);
        return Number(r.rows[0]?.n ?? 0);
      }),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
