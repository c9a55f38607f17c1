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

test('sqlite: the per-lead and per-click reads stay on indexes after migration 6 made some partial', async () => {
  const dir = tempDir();
  const path = `${dir.path}/plans.db`;
  await openSqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  const plan = (query: string) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${query}`).all() as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('; ');
  try {
    for (const query of [
      'SELECT id, event FROM conversions WHERE lead_id = 1 ORDER BY at, id',
      "SELECT 1 FROM conversions WHERE lead_id = 1 AND once_key = 'registration'",
      "SELECT id FROM conversions WHERE lead_id = 1 AND tid_key = 'money:1'",
      'SELECT max(at) FROM conversions WHERE lead_id = 1',
      "SELECT id FROM leads WHERE clickid = 'x' AND workspace_id = 1",
      "SELECT id FROM leads WHERE workspace_id = 1 AND external_id = 'chat'",
    ]) {
      const detail = plan(query);
      assert.match(
        detail,
        /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/,
        `${query}: ${detail}`,
      );
      assert.doesNotMatch(detail, /^SCAN|; SCAN/, `${query}: ${detail}`);
    }
    const indexes = db
      .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")
      .all() as Array<{ name: string; sql: string }>;
    const byName = new Map(indexes.map((i) => [i.name, i.sql]));
    assert.equal(byName.has('postback_logs_clickid'), false);
    assert.match(byName.get('conversions_once') ?? '', /WHERE once_key IS NOT NULL/);
    assert.match(byName.get('leads_workspace_external') ?? '', /WHERE external_id IS NOT NULL/);
  } finally {
    db.close();
    dir.remove();
  }
});
