import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshSchema, openTestPostgres, postgresAvailable, TEST_DATABASE_URL } from '../pg.js';
import { storeContract } from './contract.js';

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
