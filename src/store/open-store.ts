import type { Config } from '../config.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The engine named by DATABASE_URL, migrated and ready. */
export async function openStore(
  config: Pick<Config, 'databaseUrl' | 'databasePoolSize'>,
): Promise<Store> {
  const url = config.databaseUrl;
  if (url.startsWith('sqlite:')) return openSqliteStore({ path: url.slice('sqlite:'.length) });
  return openPostgresStore({ url, poolSize: config.databasePoolSize });
}
