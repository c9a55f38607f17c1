// PostgreSQL for tests: TEST_DATABASE_URL or the local server; every store in
// a fresh schema of its own. Under CI an unreachable server fails the run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../src/store/postgres/postgres-store.js';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

/** Whether PostgreSQL answers; throws under CI when it does not. */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      connectionTimeoutMillis: 3000,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      if (process.env.CI) {
        throw new Error(
          `PostgreSQL at ${TEST_DATABASE_URL} is unreachable: ${(error as Error).message}`,
        );
      }
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

export function freshSchema(): string {
  return `t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export async function openTestPostgres(schema = freshSchema()): Promise<{
  store: PostgresStore;
  schema: string;
  dispose(): Promise<void>;
}> {
  const store = await openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 8, schema });
  return {
    store,
    schema,
    async dispose() {
      await store.dropSchema(schema);
      await store.close();
    },
  };
}
