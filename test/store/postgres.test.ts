import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshSchema, openTestPostgres, postgresAvailable, TEST_DATABASE_URL } from '../pg.js';
import { storeContract } from './contract.js';
import { rollupLifecycle } from './stats-model.js';

const available = await postgresAvailable();

if (available) {
  storeContract('postgres', () => openTestPostgres());
} else {
  test('Store contract: postgres', {
    skip: `PostgreSQL unreachable at ${TEST_DATABASE_URL} (CI would fail)`,
  }, () => {});
}

test('postgres: nodes starting together migrate once, under the advisory lock', {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const stores = await Promise.all(
    Array.from({ length: 4 }, () =>
      openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 2, schema }),
    ),
  );
  const first = stores[0];
  assert.ok(first);
  await first.ping();
  for (const store of stores.slice(1)) await store.close();
  await first.dropSchema(schema);
  await first.close();
});

test('postgres: statistics rollups are backfilled by migration 5 and follow deletes and updates', {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    await rollupLifecycle(
      {
        // Several connections write, so rows land in several shards.
        open: () => openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 4, schema }),
        async forgetRollups() {
          await client.query(`
            DROP TABLE conversion_rollups, click_rollups, lead_rollups;
            DROP FUNCTION conversion_rollups_apply, click_rollups_apply, lead_rollups_apply CASCADE;
            DELETE FROM schema_migrations WHERE version = 5;
          `);
        },
        exec: async (text) => {
          await client.query(text);
        },
      },
      assert,
    );
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
});
