import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the tests use; LIVECHANNEL_TEST_PG overrides it (a URL without a database). */
export const PG_SERVER = process.env.LIVECHANNEL_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${PG_SERVER}/postgres`, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_SERVER} (${(err as Error).message}); start it or set LIVECHANNEL_TEST_PG`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A database of its own with a random name, dropped by drop(); fails loudly without a server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `lc_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: `${PG_SERVER}/${name}`,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
