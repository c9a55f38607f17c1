// A write that failed because the database cannot take it now (the disk is
// full, the file cannot be written, PostgreSQL is down, restarting or out of
// connections), not because of what was asked. The caller answers 503 with
// Retry-After: a network retries the postback later and it counts then.

/** SQLite's result codes that say so (better-sqlite3 names them, extended codes included). */
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)(_|$)/;

/** PostgreSQL SQLSTATE classes and codes that say so. */
const POSTGRES_UNAVAILABLE = /^(08|53|57P0[1-3])/; // connection exceptions, insufficient resources, shutdowns

/** Node's socket errors when PostgreSQL cannot be reached. */
const NETWORK_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Messages of `pg` and its pool that carry no code. */
const POSTGRES_CLIENT_UNAVAILABLE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/;

export function isStorageUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SQLITE_UNAVAILABLE.test(code)) return true;
    if (NETWORK_UNAVAILABLE.has(code)) return true;
    // SQLSTATEs are five characters of digits and capitals.
    if (/^[0-9A-Z]{5}$/.test(code) && POSTGRES_UNAVAILABLE.test(code)) return true;
  }
  return POSTGRES_CLIENT_UNAVAILABLE.test(error.message) || error.message === 'the store is closed';
}
