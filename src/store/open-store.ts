import type { Config } from '../config.js';
import type { Store } from './store.js';

/**
 * The engine named by DATABASE_URL, migrated and ready. Each engine's module
 * (and its driver) is loaded only when it is the one used: `pg` alone is
 * about 40 ms of an embedded server's start-up.
 */
export async function openStore(
  config: Pick<
    Config,
    'databaseUrl' | 'databasePoolSize' | 'databaseConnectTimeoutMs' | 'databaseQueryTimeoutMs'
  >,
): Promise<Store> {
  const url = config.databaseUrl;
  if (url.startsWith('sqlite:')) {
    const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
    return openSqliteStore({ path: url.slice('sqlite:'.length) });
  }
  const { openPostgresStore } = await import('./postgres/postgres-store.js');
  return openPostgresStore({
    url,
    poolSize: config.databasePoolSize,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    queryTimeoutMs: config.databaseQueryTimeoutMs,
  });
}
