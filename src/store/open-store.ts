import type { Config } from '../config.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The engine named by DATABASE_URL. */
export function openStore(config: Pick<Config, 'databaseUrl'>): Store {
  const url = config.databaseUrl;
  if (url.startsWith('sqlite:')) return openSqliteStore({ path: url.slice('sqlite:'.length) });
  throw new Error(
    'DATABASE_URL: the PostgreSQL engine is not in this version yet; use sqlite:<path> (the default)',
  );
}
