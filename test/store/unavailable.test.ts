// Which errors mean "the database cannot take this now" (503, retry) rather
// than "this request is wrong", checked on errors the real engines raise.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { isStorageUnavailable } from '../../src/store/unavailable.js';
import { tempDir } from '../helpers.js';
import { postgresAvailable, TEST_DATABASE_URL } from '../pg.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('nothing was thrown');
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('nothing was thrown');
}

test('SQLite: a full file and a lock held elsewhere are unavailability; bad statements are not', () => {
  const dir = tempDir();
  const db = new Database(`${dir.path}/u.db`);
  const other = new Database(`${dir.path}/u.db`);
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)');
    db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'x');

    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
    const full = thrown(() =>
      db.prepare('INSERT INTO t VALUES (?, ?)').run('b', 'x'.repeat(100_000)),
    );
    assert.equal((full as { code: string }).code, 'SQLITE_FULL');
    assert.equal(isStorageUnavailable(full), true);
    db.pragma('max_page_count = 1073741823');

    other.pragma('busy_timeout = 0');
    db.exec('BEGIN IMMEDIATE');
    const busy = thrown(() => other.exec('BEGIN IMMEDIATE'));
    db.exec('ROLLBACK');
    assert.equal((busy as { code: string }).code, 'SQLITE_BUSY');
    assert.equal(isStorageUnavailable(busy), true);

    const unique = thrown(() => db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'y'));
    assert.equal((unique as { code: string }).code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.equal(isStorageUnavailable(unique), false);
    const syntax = thrown(() => db.prepare('SELEC 1'));
    assert.equal(isStorageUnavailable(syntax), false);
  } finally {
    other.close();
    db.close();
    dir.remove();
  }
});

test('PostgreSQL: a terminated session and a refused connection are unavailability; bad statements are not', async (t) => {
  if (!(await postgresAvailable())) {
    t.skip('PostgreSQL is unreachable (CI fails instead)');
    return;
  }
  const victim = new pg.Client({ connectionString: TEST_DATABASE_URL });
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  victim.on('error', () => {}); // the terminated session's own event
  await victim.connect();
  await admin.connect();
  try {
    const divided = await rejected(
      victim.query('SELECT * FROM (VALUES (1), (1)) v(n) GROUP BY n HAVING (SELECT 1/0) = 1'),
    );
    assert.equal((divided as { code: string }).code, '22012'); // division by zero
    assert.equal(isStorageUnavailable(divided), false);
    const syntax = await rejected(victim.query('SELEC 1'));
    assert.equal((syntax as { code: string }).code, '42601');
    assert.equal(isStorageUnavailable(syntax), false);

    const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Caught from the start: the rejection may come before the admin's answer.
    const slow = rejected(victim.query('SELECT pg_sleep(5)'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    const terminated = await slow;
    assert.equal((terminated as { code: string }).code, '57P01');
    assert.equal(isStorageUnavailable(terminated), true);
  } finally {
    await victim.end().catch(() => {});
    await admin.end();
  }

  // A port nothing listens on.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const nobody = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/test` });
  const refused = await rejected(nobody.connect());
  assert.equal((refused as { code: string }).code, 'ECONNREFUSED');
  assert.equal(isStorageUnavailable(refused), true);

  // A statement left unanswered past the client's query timeout.
  const waiting = new pg.Client({ connectionString: TEST_DATABASE_URL, query_timeout: 100 });
  await waiting.connect();
  try {
    const unanswered = await rejected(waiting.query('SELECT pg_sleep(1)'));
    assert.match((unanswered as Error).message, /^Query read timeout/);
    assert.equal(isStorageUnavailable(unanswered), true);
  } finally {
    await waiting.end().catch(() => {});
  }
});

test('what is not an Error is not unavailability', () => {
  assert.equal(isStorageUnavailable('SQLITE_FULL'), false);
  assert.equal(isStorageUnavailable({ code: 'SQLITE_FULL' }), false);
  assert.equal(isStorageUnavailable(null), false);
});
