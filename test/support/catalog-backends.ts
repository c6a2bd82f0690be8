import type { Catalog } from '../../src/catalog/catalog.js';
import { PostgresCatalog } from '../../src/catalog/postgres-catalog.js';
import { SqliteCatalog } from '../../src/catalog/sqlite-catalog.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

const databases: TestDatabase[] = [];
const opened: Catalog[] = [];

/** A fresh PostgreSQL database, dropped by closeCatalogs(). */
export async function testDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

/** A PostgreSQL catalog on a new database (or on `url`), closed and dropped by closeCatalogs(). */
export async function postgresCatalog(url?: string): Promise<PostgresCatalog> {
  url ??= (await testDatabase()).url;
  const c = new PostgresCatalog({ url, poolSize: 4 });
  opened.push(c);
  await c.open();
  return c;
}

/** Both catalogs, for describe.each: an in-memory SQLite one and one on a fresh PostgreSQL database. */
export const catalogBackends: [string, () => Promise<Catalog>][] = [
  ['SQLite', async () => new SqliteCatalog(':memory:')],
  ['PostgreSQL', () => postgresCatalog()],
];

export async function closeCatalogs(): Promise<void> {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  await Promise.all(databases.splice(0).map((d) => d.drop()));
}
