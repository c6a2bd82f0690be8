import { join } from 'node:path';
import type { CatalogConfig } from '../config.js';
import type { Catalog } from './catalog.js';
import { PostgresCatalog } from './postgres-catalog.js';
import { SqliteCatalog } from './sqlite-catalog.js';

/** The configured catalog: the embedded SQLite file in dataDir, or a shared PostgreSQL. */
export function createCatalog(config: CatalogConfig, dataDir: string, onError?: (err: Error, what: string) => void): Catalog {
  return config.type === 'postgres'
    ? new PostgresCatalog({ url: config.url, poolSize: config.poolSize, onError })
    : new SqliteCatalog(join(dataDir, 'catalog.db'));
}
