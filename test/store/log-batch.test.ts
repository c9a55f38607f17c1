// The postback-log rows of a batch, written as multi-row INSERTs into the real
// table (the store's own migrations, on a SQLite file).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { LOG_COLUMNS, LogBatch } from '../../src/store/sqlite/log-batch.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();
after(() => dir.remove());

/** A database file with the store's schema, opened bare. */
async function schemaDb(name: string): Promise<Database.Database> {
  const path = join(dir.path, `${name}.db`);
  const store = await openSqliteStore({ path });
  await store.close();
  return new Database(path);
}

function row(i: number): unknown[] {
  return [
    1,
    2,
    1_000 + i,
    'GET',
    `/api/postbacks/t/deposit?n=${i}`,
    null,
    null,
    null,
    200,
    'recorded',
    null,
    'deposit',
    `c${i}`,
    null,
  ];
}

function stored(db: Database.Database): Array<{ at: number; url: string; clickid: string }> {
  return db.prepare('SELECT at, url, clickid FROM postback_logs ORDER BY id').all() as Array<{
    at: number;
    url: string;
    clickid: string;
  }>;
}

test('log batch: every row, in the order added, whatever the count', async () => {
  const db = await schemaDb('counts');
  const batch = new LogBatch(db);
  let next = 0;
  // 64 rows fit one INSERT; 65 and 130 take more than one.
  for (const count of [0, 1, 2, 63, 64, 65, 130]) {
    const first = next;
    db.transaction(() => {
      for (let i = 0; i < count; i++) batch.add(row(next++));
      assert.equal(batch.size, count);
      batch.write();
      assert.equal(batch.size, 0);
    })();
    const rows = stored(db).slice(first);
    assert.equal(rows.length, count, `${count} rows`);
    rows.forEach((r, i) => {
      assert.equal(r.at, 1_000 + first + i);
      assert.equal(r.clickid, `c${first + i}`);
      assert.equal(r.url, `/api/postbacks/t/deposit?n=${first + i}`);
    });
  }
  assert.equal(stored(db).length, next);
  db.close();
});

test('log batch: a cleared batch writes nothing; a failed write leaves nothing to write again', async () => {
  const db = await schemaDb('failures');
  const batch = new LogBatch(db);
  batch.add(row(1));
  batch.clear();
  batch.write();
  assert.equal(stored(db).length, 0);

  // url is NOT NULL: the one bad row fails the INSERT, and so the whole write.
  const bad = row(3);
  bad[LOG_COLUMNS.indexOf('url')] = null;
  batch.add(row(2));
  batch.add(bad);
  assert.throws(() => db.transaction(() => batch.write())(), /NOT NULL/);
  assert.equal(batch.size, 0);
  batch.write();
  assert.equal(stored(db).length, 0);

  assert.throws(() => batch.add([1, 2, 3]), /one value per column/);
  db.close();
});
