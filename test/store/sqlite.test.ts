import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './contract.js';
import { rollupLifecycle } from './stats-model.js';

storeContract('sqlite', async () => {
  const dir = tempDir();
  const store = openSqliteStore({ path: `${dir.path}/contract.db` });
  return {
    store,
    async dispose() {
      assert.equal(store.integrityCheck(), 'ok');
      await store.close();
      dir.remove();
    },
  };
});

test('sqlite: migrations are versioned and re-opening applies none twice', async () => {
  const dir = tempDir();
  const path = `${dir.path}/m.db`;
  await openSqliteStore({ path }).close();
  const again = openSqliteStore({ path });
  await again.ping();
  await again.close();
  dir.remove();
});

test('sqlite: statistics rollups are backfilled by migration 5 and follow deletes and updates', async () => {
  const dir = tempDir();
  const path = `${dir.path}/rollups.db`;
  const sql = (text: string) => {
    const db = new Database(path);
    try {
      db.exec(text);
    } finally {
      db.close();
    }
  };
  await rollupLifecycle(
    {
      open: async () => openSqliteStore({ path }),
      async forgetRollups() {
        const db = new Database(path);
        const triggers = db
          .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%_rollup_%'",
          )
          .pluck()
          .all() as string[];
        assert.equal(triggers.length, 9);
        db.close();
        sql(`
          ${triggers.map((t) => `DROP TRIGGER ${t};`).join('\n')}
          DROP TABLE conversion_rollups; DROP TABLE click_rollups; DROP TABLE lead_rollups;
          DELETE FROM schema_migrations WHERE version = 5;
        `);
      },
      exec: async (text) => sql(text),
    },
    assert,
  );
  dir.remove();
});
