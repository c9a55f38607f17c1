import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { countingPlan } from '../../src/domain/events.js';
import { randomAlphanumeric } from '../../src/domain/random-id.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { Reader } from '../../src/store/sqlite/reader.js';
import { bucketOf } from '../../src/store/sqlite/rollups.js';
import {
  clickidPrefix,
  DESTINATION_HEALTH_SQL,
  DESTINATIONS_LAST_FAILED_SQL,
  leadPageSql,
  leadSearch,
  migrate,
  openSqliteStore,
  postbackLogPageSql,
} from '../../src/store/sqlite/sqlite-store.js';
import { tempDir, workspaceWithPostback } from '../helpers.js';
import { storeContract } from './contract.js';
import { lockHolder } from './lock-holder.js';
import { checkRenamed, saveUnderAliases } from './saved-events.js';
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

test("sqlite: the lead cache keeps the database's copy of a clickid, not the request's slice of its URL", async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = tempDir();
  const store = openSqliteStore({ path: `${dir.path}/slices.db` });
  t.after(async () => {
    await store.close();
    dir.remove();
  });
  const { workspaceId } = await workspaceWithPostback(store, 'slices');
  const clickids: string[] = [];
  for (let i = 0; i < 400; i++) {
    const lead = await store.createLead(workspaceId, {
      campaignId: null,
      externalId: null,
      username: null,
      params: {},
      at: 0,
      newClickid: () => `slice${i}x${randomAlphanumeric(24)}`,
    });
    clickids.push(lead.clickid);
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  // Each postback's clickid is a slice of a 256 KB string, as a parsed
  // query's value is of its URL: keeping the slice keeps the whole string.
  const PAD = 256 * 1024;
  for (const clickid of clickids) {
    const url = `${'u'.repeat(PAD)}${clickid}`;
    const plan = countingPlan({ event: 'registration', micros: null, currency: 'USD', tid: null });
    const outcome = await store.recordEvent({
      workspaceId,
      scopeCampaignId: null,
      clickid: url.slice(PAD),
      postbackId: null,
      micros: null,
      currency: 'USD',
      tid: null,
      fields: {},
      at: 0,
      windowMs: 60_000,
      log: null,
      note: null,
      plan,
    });
    assert.equal(outcome.status, 'recorded');
  }
  gc();
  const grownMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  // Keeping the slices would keep 400 × 256 KB = 100 MB.
  assert.ok(grownMb < 20, `the heap grew by ${grownMb.toFixed(1)} MB`);
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

test('sqlite: a migration another process applies meanwhile is skipped, not applied twice', async () => {
  const dir = tempDir();
  const path = `${dir.path}/race.db`;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  migrate(db, []);
  const other = await lockHolder(path);
  try {
    // The other process is applying migration 2 and holds the write lock:
    // this one finds it not applied yet, then waits for the lock, which it
    // gets only once the other has committed.
    await other.write(
      "CREATE TABLE two (x); INSERT INTO schema_migrations VALUES (2, 'two', 0);",
      200,
    );
    migrate(db, [{ version: 2, name: 'two', sql: 'CREATE TABLE two (x)' }]);
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [2]);
  } finally {
    await other.stop();
    db.close();
    dir.remove();
  }
});

test('sqlite: migration 12 renames the events of destinations saved under aliases, and those events reach them', async () => {
  const dir = tempDir();
  const path = `${dir.path}/aliases.db`;
  const before = openSqliteStore({ path });
  const saved = await saveUnderAliases(before, 'aliases');
  await before.close();
  const db = new Database(path);
  db.prepare('DELETE FROM schema_migrations WHERE version = 12').run();
  db.close();
  const store = openSqliteStore({ path });
  try {
    await checkRenamed(store, saved);
    assert.equal(store.integrityCheck(), 'ok');
  } finally {
    await store.close();
    dir.remove();
  }
});

test("sqlite: migration 11 drops the database's check of a conversion's lead and keeps every row", async () => {
  const dir = tempDir();
  const path = `${dir.path}/v10.db`;
  // A database as migrations 1-10 left it, with a conversion in it.
  const old = new Database(path);
  old.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((m) => m.version <= 10)) {
    old.exec(m.sql as string);
    old.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  old.pragma('foreign_keys = ON');
  old.exec(`
    INSERT INTO workspaces (id, name, created_at) VALUES (1, 'w', 0);
    INSERT INTO leads (id, workspace_id, clickid, created_at) VALUES (7, 1, 'c7', 0);
    INSERT INTO conversions (workspace_id, lead_id, event, amount_micros, currency, tid_key, at)
      VALUES (1, 7, 'deposit', 12500000, 'USD', 'money:t1', 0);
  `);
  assert.equal((old.pragma('foreign_key_list(conversions)') as unknown[]).length, 1);
  const columns = old.pragma('table_info(conversions)');
  assert.throws(
    () =>
      old
        .prepare(
          "INSERT INTO conversions (workspace_id, lead_id, event, currency, at) VALUES (1, 8, 'x', 'USD', 0)",
        )
        .run(),
    /FOREIGN KEY/,
  );
  old.close();

  const store = openSqliteStore({ path });
  assert.equal(store.integrityCheck(), 'ok');
  await store.close();
  const db = new Database(path);
  try {
    db.pragma('foreign_keys = ON');
    assert.deepEqual(db.pragma('foreign_key_list(conversions)'), []);
    assert.deepEqual(db.pragma('table_info(conversions)'), columns);
    assert.deepEqual(db.prepare('SELECT lead_id, amount_micros, tid_key FROM conversions').all(), [
      { lead_id: 7, amount_micros: 12500000, tid_key: 'money:t1' },
    ]);
    // The other references are still the database's to check.
    assert.throws(
      () =>
        db
          .prepare(
            "INSERT INTO postbacks (workspace_id, token, name, network, clickid_param, currency, macros, created_at) VALUES (99, 't', 'n', 'custom', 'clickid', 'USD', '{}', 0)",
          )
          .run(),
      /FOREIGN KEY/,
    );
    assert.equal(
      (
        db.prepare('SELECT version FROM schema_migrations WHERE version = 11').get() as {
          version: number;
        }
      ).version,
      11,
    );
  } finally {
    db.close();
  }
  // Opening again applies nothing twice.
  await openSqliteStore({ path }).close();
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
        // Since migration 7 inserts have no trigger: the store writes their rollups.
        assert.equal(triggers.length, 6);
        db.close();
        sql(`
          ${triggers.map((t) => `DROP TRIGGER ${t};`).join('\n')}
          DROP TABLE conversion_rollups; DROP TABLE click_rollups; DROP TABLE lead_rollups;
          DELETE FROM schema_migrations WHERE version IN (5, 7);
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

test("sqlite: a page of the postback log looks each row's conversion up by primary key, after the limit", async () => {
  const dir = tempDir();
  const path = `${dir.path}/log-plans.db`;
  await openSqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  try {
    // The log's own conditions as listPostbackLogs writes them: none, a cursor, every filter.
    for (const [where, params] of [
      ['workspace_id = ?', [1]],
      ['workspace_id = ? AND id < ?', [1, 100]],
      [
        "workspace_id = ? AND postback_id = ? AND status = ? AND (clickid = ? OR url LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\')",
        [1, 2, 'duplicate', 'x', '%x%', '%x%'],
      ],
    ] as const) {
      const plan = (
        db.prepare(`EXPLAIN QUERY PLAN ${postbackLogPageSql(where)}`).all(...params, 51) as Array<{
          detail: string;
        }>
      ).map((r) => r.detail);
      const detail = plan.join('; ');
      assert.ok(
        plan.includes('SEARCH c USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN'),
        `${where}: ${detail}`,
      );
      assert.match(detail, /SEARCH postback_logs USING INDEX postback_logs_workspace/, where);
      // Only the page (the limited subquery, l) is scanned; never a table.
      assert.deepEqual(
        plan.filter((d) => d.startsWith('SCAN')),
        ['SCAN l'],
        `${where}: ${detail}`,
      );
      assert.doesNotMatch(detail, /TEMP B-TREE/, `${where}: ${detail}`);
    }
  } finally {
    db.close();
    dir.remove();
  }
});

test("sqlite: a source's health reads its destination's indexes, never a whole log", async () => {
  const dir = tempDir();
  const path = `${dir.path}/health-plans.db`;
  await openSqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  try {
    const plan = (
      db
        .prepare(`EXPLAIN QUERY PLAN ${DESTINATION_HEALTH_SQL}`)
        .all({ d: 1, window: 1000, pending: 10_000 }) as Array<{ detail: string }>
    ).map((r) => r.detail);
    const detail = plan.join('; ');
    assert.ok(
      plan.includes('SEARCH deliveries USING INDEX deliveries_delivered (destination_id=?)'),
      detail,
    );
    assert.ok(
      plan.includes(
        'SEARCH deliveries USING INDEX deliveries_destination (destination_id=? AND id>?)',
      ),
      detail,
    );
    assert.ok(
      plan.includes('SEARCH outbox USING COVERING INDEX outbox_pending (destination_id=?)'),
      detail,
    );
    // Scans are of the bounded parts only (the last delivery, the newest rows, the waiting ones).
    for (const scan of plan.filter((d) => d.startsWith('SCAN'))) {
      assert.match(
        scan,
        /^SCAN (CONSTANT ROW|delivered|recent|failed|last_failed|\(subquery-\d+\))$/,
        detail,
      );
    }
    assert.doesNotMatch(detail, /TEMP B-TREE/, detail);
  } finally {
    db.close();
    dir.remove();
  }
});

test("sqlite: the workspace's sources whose last attempt failed are found by index, one step into each one's log", async () => {
  const dir = tempDir();
  const path = `${dir.path}/last-failed-plan.db`;
  await openSqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  try {
    const plan = (
      db.prepare(`EXPLAIN QUERY PLAN ${DESTINATIONS_LAST_FAILED_SQL}`).all({ ws: 1 }) as Array<{
        detail: string;
      }>
    ).map((r) => r.detail);
    assert.deepEqual(plan, [
      'SEARCH c USING INDEX campaigns_workspace (workspace_id=?)',
      'SEARCH d USING INDEX destinations_campaign (campaign_id=?)',
      'CORRELATED SCALAR SUBQUERY 1',
      // Newest first, LIMIT 1: no sort, and the walk stops at the first attempt.
      'SEARCH deliveries USING INDEX deliveries_destination (destination_id=?)',
    ]);
  } finally {
    db.close();
    dir.remove();
  }
});

test("sqlite: a clickid's start is a range its index answers; a lead search walks the workspace's leads newest first, with no sort", async () => {
  const dir = tempDir();
  const path = `${dir.path}/lead-search-plan.db`;
  await openSqliteStore({ path }).close();
  const db = new Database(path, { readonly: true });
  const plan = (sql: string, params: unknown[]) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map(
      (r) => r.detail,
    );
  try {
    const prefix = clickidPrefix('3qt8d');
    assert.deepEqual(prefix.params, ['3qt8d', '3qt8e']);
    assert.deepEqual(plan(`SELECT l.id FROM leads l WHERE ${prefix.sql}`, prefix.params), [
      'SEARCH l USING COVERING INDEX sqlite_autoindex_leads_1 (clickid>? AND clickid<?)',
    ]);
    // With part of a username in the same OR (no index holds that), the
    // search is a filter on the newest-first walk, which stops at a full page.
    const search = leadSearch('3qt8d');
    const page = plan(leadPageSql(`l.workspace_id = ? AND ${search.sql}`), [
      1,
      ...search.params,
      51,
    ]);
    assert.equal(
      page[0],
      'SEARCH l USING INDEX leads_workspace_id (workspace_id=?)',
      page.join('; '),
    );
    assert.doesNotMatch(page.join('; '), /TEMP B-TREE|SCAN l\b/, page.join('; '));
  } finally {
    db.close();
    dir.remove();
  }
});

test('sqlite: under writes that never pause, the WAL starts over instead of growing without bound, in a file that keeps its size', async () => {
  const dir = tempDir();
  const path = `${dir.path}/wal.db`;
  const restartFrames = 256;
  const store = openSqliteStore({
    path,
    checkpoint: { intervalMs: 10, restartFrames, readyFrames: 64 },
  });
  try {
    const { workspaceId, postback } = await workspaceWithPostback(store, 'wal');
    const pageSize = 4096;
    let written = 0;
    let largest = 0;
    /**
     * The largest from round 1,000 (some 35 MB in) on. Until the checkpoint
     * worker has started (a thread loading its own copy of the driver),
     * nothing checkpoints, and the log grows by however long that takes:
     * 11-33 MB here, more on a busy machine.
     */
    let largestLater = 0;
    /** A log that starts over keeps its file, up to twice the threshold. */
    const kept = 2 * restartFrames * pageSize;
    let shrunk: string | null = null;
    // Each round is one batch of 16 rows of about 2 KB: some 8 frames.
    // 4,000 rounds write about 140 MB, over 130 times the restart threshold.
    for (let round = 0; round < 4000; round++) {
      const rows = Array.from({ length: 16 }, (_, i) =>
        store.appendPostbackLog(
          {
            postbackId: postback.id,
            workspaceId,
            at: round,
            method: 'POST',
            url: `/api/postbacks/${postback.token}?n=${round}-${i}`,
            ip: null,
            userAgent: null,
            body: 'x'.repeat(2000),
          },
          {
            httpStatus: 200,
            status: 'recorded',
            error: null,
            event: null,
            clickid: null,
            conversionId: null,
          },
        ),
      );
      await Promise.all(rows);
      written += rows.length;
      const size = statSync(`${path}-wal`).size;
      if (size < Math.min(largest, kept)) {
        shrunk ??= `cut from ${largest} to ${size} bytes in round ${round}`;
      }
      largest = Math.max(largest, size);
      if (round >= 1000) largestLater = Math.max(largestLater, size);
    }
    assert.equal(store.countRows('postback_logs'), written);
    // Without restarts the log would pass 130 MB here; with them, once the
    // worker runs, it stays within a few times the threshold (11-12 MB seen).
    assert.ok(
      largestLater <= 32 * restartFrames * pageSize,
      `the WAL reached ${(largestLater / 2 ** 20).toFixed(1)} MB after round 1,000`,
    );
    // Cut back at a restart, the file would be truncated by the commit after
    // it and grown again by the next ones, on the thread that answers.
    assert.equal(shrunk, null, `the WAL file was ${shrunk}`);
  } finally {
    await store.close();
    const again = openSqliteStore({ path });
    assert.equal(again.integrityCheck(), 'ok');
    await again.close();
    dir.remove();
  }
});

test("sqlite: a batch's rollup buckets are the ones migration 5's SQL computes, before 1970 too", () => {
  const db = new Database(':memory:');
  const sqlBucket = db.prepare('SELECT $at - (($at % 900000) + 900000) % 900000').pluck();
  for (const at of [
    0,
    1,
    899_999,
    900_000,
    900_001,
    -1,
    -899_999,
    -900_000,
    -900_001,
    1_795_689_000_123,
    Date.parse('2026-11-20T10:14:59.999Z'),
    Date.parse('2026-11-20T10:15:00Z'),
  ]) {
    assert.equal(bucketOf(at), sqlBucket.get({ at }), String(at));
  }
  db.close();
});

test('sqlite: a long read (a log search that matches nothing) runs off the thread that writes', async () => {
  const dir = tempDir();
  const path = `${dir.path}/reader.db`;
  const store = openSqliteStore({ path });
  try {
    const { workspaceId, postback } = await workspaceWithPostback(store, 'reader');
    // Enough rows that scanning them all takes a while.
    const db = new Database(path);
    const insert = db.prepare(
      `INSERT INTO postback_logs (workspace_id, postback_id, at, method, url, http_status, status, clickid)
       VALUES (?, ?, ?, 'GET', ?, 200, 'recorded', ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < 300_000; i++) {
        insert.run(
          workspaceId,
          postback.id,
          i,
          `/api/postbacks/${postback.token}?clickid=c${i}`,
          `c${i}`,
        );
      }
    })();
    db.close();

    const done: string[] = [];
    const search = store
      .listPostbackLogs(workspaceId, { q: 'matches-nothing', limit: 50 })
      .then((page) => {
        done.push('search');
        return page;
      });
    const write = store
      .appendPostbackLog(
        {
          postbackId: postback.id,
          workspaceId: workspaceId,
          at: 1,
          method: 'GET',
          url: `/api/postbacks/${postback.token}?clickid=new`,
          ip: null,
          userAgent: null,
          body: null,
        },
        {
          httpStatus: 200,
          status: 'unmatched',
          error: null,
          event: null,
          clickid: 'new',
          conversionId: null,
        },
      )
      .then(() => done.push('write'));
    const [page] = await Promise.all([search, write]);
    assert.equal(page.items.length, 0);
    assert.deepEqual(done, ['write', 'search'], 'the write committed while the search ran');
    // What the store acknowledged, the reader sees.
    const after = await store.listPostbackLogs(workspaceId, { q: 'new', limit: 5 });
    assert.deepEqual(
      after.items.map((e) => e.clickid),
      ['new'],
    );
  } finally {
    // Closing again (a second signal during shutdown) finishes too.
    await Promise.all([store.close(), store.close()]);
    await store.close();
    dir.remove();
  }
});

test('sqlite: the queries of one read share one snapshot, whatever commits while they run', async () => {
  const dir = tempDir();
  const path = `${dir.path}/snapshot.db`;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (n INTEGER)');
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  insert.run(1);
  const reader = new Reader(path);
  try {
    // A first query that reads t, then counts for a while; the second counts t.
    const slow = {
      sql: `WITH RECURSIVE r(i) AS (SELECT (SELECT count(*) FROM t) UNION ALL
              SELECT i + 1 FROM r WHERE i < ?) SELECT max(i) AS m FROM r`,
      params: [3_000_000],
    };
    const count = { sql: 'SELECT count(*) AS n FROM t', params: [] };
    await reader.read([count]); // the worker is up
    // Timed, so that the write below lands in the first quarter of the slow query.
    const started = performance.now();
    await reader.read([slow]);
    const slowMs = performance.now() - started;
    assert.ok(slowMs > 40, `the slow query took only ${slowMs} ms`);

    const reading = reader.read([slow, count]);
    await new Promise((resolve) => setTimeout(resolve, slowMs / 4));
    insert.run(2);
    const [, counted = []] = await reading;
    assert.equal(counted[0]?.n, 1, 'the second query saw a row committed after the read began');
    const [now = []] = await reader.read([count]);
    assert.equal(now[0]?.n, 2);
  } finally {
    await reader.close();
    db.close();
    dir.remove();
  }
});

test('sqlite: a batch SQLite rolls back itself (a full disk) fails whole; no write of it commits on its own', async () => {
  const dir = tempDir();
  const store = openSqliteStore({ path: `${dir.path}/full.db` });
  try {
    const { workspaceId, postback } = await workspaceWithPostback(store, 'full');
    const log = (body: string) =>
      store.appendPostbackLog(
        {
          postbackId: postback.id,
          workspaceId,
          at: 1,
          method: 'POST',
          url: `/api/postbacks/${postback.token}`,
          ip: null,
          userAgent: null,
          body,
        },
        {
          httpStatus: 200,
          status: 'unmatched',
          error: null,
          event: null,
          clickid: null,
          conversionId: null,
        },
      );
    const before = store.countRows('postback_logs');
    // Small rows fit in the file's free pages; a large one needs new pages.
    store.capPages(store.pageCount());
    const outcomes = await Promise.allSettled([
      log('small'),
      log('x'.repeat(200_000)),
      log('small too'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(store.countRows('postback_logs'), before, 'a refused write was committed');
    for (const o of outcomes) {
      assert.equal((o as PromiseRejectedResult).reason.code, 'SQLITE_FULL');
    }
    // With room again, the same writes go through.
    store.capPages(1_073_741_823);
    await Promise.all([log('small'), log('x'.repeat(200_000)), log('small too')]);
    assert.equal(store.countRows('postback_logs'), before + 3);
  } finally {
    await store.close();
    dir.remove();
  }
});
