// kill -9 mid-load: the real process, deposits fired at full speed, SIGKILL after
// a second, a restart on the same database. Every postback answered `recorded`
// is there, nothing is there that was neither answered nor in flight, the sums
// agree, and the database is intact.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers.js';
import { postgresAvailable } from '../pg.js';
import { exitWithin, killAll, type Server, startServer } from '../process/server.js';
import {
  attempt,
  deposit,
  type Outcome,
  postgresSchema,
  type StoredEvent,
  setUpTracker,
  storedEvents,
  sum,
  type Tracker,
} from './support.js';

const LEADS = 50;
const CONCURRENCY = 64;
const LOAD_MS = 1_000;
const BURST = 256;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Fired {
  sent: Map<string, ReturnType<typeof deposit>>;
  outcomes: Map<string, Outcome>;
}

/** Deposits with distinct tids from `CONCURRENCY` loops until `ms` have passed, then SIGKILL. */
async function fireThenKill(server: Server, tracker: Tracker, ms: number): Promise<Fired> {
  const sent = new Map<string, ReturnType<typeof deposit>>();
  const outcomes = new Map<string, Outcome>();
  let next = 0;
  let killed = false;
  const fire = async () => {
    const d = deposit(tracker, next++);
    sent.set(d.tid, d);
    const outcome = await attempt(`${server.base}${d.path}`, 10_000);
    outcomes.set(d.tid, outcome);
    return outcome;
  };
  const loop = async () => {
    // No request starts after the kill: everything sent is answered or in flight.
    while (!killed) {
      if ((await fire()).kind !== 'answer') return;
    }
  };
  const kill = () => {
    if (killed) return;
    killed = true;
    server.process.kill('SIGKILL');
  };
  // The client here is slower than the server, whose queue is mostly empty: a
  // burst on top of the loops, and the kill as soon as its first answer is in,
  // catch the server in the middle of it.
  const burst: Promise<unknown>[] = [];
  let timer = setTimeout(() => {
    for (let i = 0; i < BURST; i++) burst.push(fire().then(kill));
    timer = setTimeout(kill, 2_000);
  }, ms);
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    await Promise.all(burst);
  } finally {
    clearTimeout(timer);
  }
  const exit = await exitWithin(server, 10_000);
  assert.equal(exit.signal, 'SIGKILL', `the server died of the kill: ${JSON.stringify(exit)}`);
  return { sent, outcomes };
}

interface Storage {
  conversions: number;
  micros: bigint;
  recordedLogs: number;
  /** Recorded log rows whose conversion is missing, and the reverse. */
  dangling: number;
  /** 'ok' when the engine's own check finds nothing wrong. */
  integrity: string;
}

/**
 * The whole scenario on one engine: `env` starts a server on the same database
 * each time; `inspect` reads the storage directly once the last server is stopped.
 */
async function crashAndRecover(
  ctx: { diagnostic(message: string): void },
  dbPath: string | null,
  env: Record<string, string>,
  inspect: () => Promise<Storage>,
) {
  const server = await startServer(dbPath, { LOG_LEVEL: 'warn', ...env });
  const tracker = await setUpTracker(server, LEADS);
  const { sent, outcomes } = await fireThenKill(server, tracker, LOAD_MS);

  const recorded = new Map<string, Outcome & { kind: 'answer' }>();
  const inFlight = new Set<string>();
  const unexpected: string[] = [];
  for (const [tid, outcome] of outcomes) {
    if (outcome.kind === 'answer') {
      if (outcome.status === 200 && outcome.body.status === 'recorded') recorded.set(tid, outcome);
      else unexpected.push(`${tid}: ${outcome.status} ${JSON.stringify(outcome.body)}`);
    } else if (outcome.kind === 'hang') {
      unexpected.push(`${tid}: no answer and no error within 10 s after the kill`);
    } else {
      inFlight.add(tid);
    }
  }
  assert.equal(outcomes.size, sent.size, 'every request sent settled');
  assert.deepEqual(unexpected.slice(0, 5), [], 'every answer before the kill is a 200 recorded');
  ctx.diagnostic(
    `sent ${sent.size}: ${recorded.size} answered recorded, ${inFlight.size} in flight at the kill`,
  );
  assert.ok(recorded.size >= 50, `the load got going before the kill (${recorded.size} answers)`);

  const again = await startServer(dbPath, { LOG_LEVEL: 'warn', ...env });
  let events: StoredEvent[];
  try {
    events = await storedEvents(again, tracker);
  } finally {
    const exit = await again.stop();
    assert.equal(exit.code, 0, `the restarted server stopped cleanly\n${again.stderr()}`);
  }

  const stored = new Map<string, StoredEvent>();
  for (const e of events) {
    assert.equal(e.event, 'deposit');
    assert.ok(e.tid !== null, 'every stored deposit carries its tid');
    assert.ok(!stored.has(e.tid), `tid ${e.tid} stored once`);
    stored.set(e.tid, e);
  }
  // Every acknowledged write survived, on the right lead, with the right amount.
  const lost = [...recorded.keys()].filter((tid) => !stored.has(tid));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} postbacks answered "recorded" were lost`);
  for (const [tid, answer] of recorded) {
    const e = stored.get(tid) as StoredEvent;
    const d = sent.get(tid) as ReturnType<typeof deposit>;
    assert.equal(e.clickid, d.clickid, `${tid}: lead`);
    assert.equal(e.micros, d.micros, `${tid}: amount`);
    assert.equal(e.id, String(answer.body.conversionId), `${tid}: the answered conversionId`);
  }
  // Nothing appeared that was neither answered nor in flight.
  const phantoms = [...stored.keys()].filter((tid) => !recorded.has(tid) && !inFlight.has(tid));
  assert.deepEqual(phantoms.slice(0, 10), [], 'stored conversions nobody was waiting for');
  for (const [tid, e] of stored) {
    assert.equal(e.micros, sent.get(tid)?.micros, `${tid}: amount of an in-flight deposit`);
  }
  const answeredMicros = sum([...recorded.keys()].map((tid) => sent.get(tid)?.micros ?? 0n));
  const inFlightMicros = sum([...inFlight].map((tid) => sent.get(tid)?.micros ?? 0n));
  const storedMicros = sum([...stored.values()].map((e) => e.micros));
  assert.ok(answeredMicros <= storedMicros, `answered ${answeredMicros} ≤ stored ${storedMicros}`);
  assert.ok(
    storedMicros <= answeredMicros + inFlightMicros,
    `stored ${storedMicros} ≤ answered ${answeredMicros} + in flight ${inFlightMicros}`,
  );
  ctx.diagnostic(`${stored.size - recorded.size} in-flight deposits were committed`);

  // The storage itself: the API's view is the whole table, the postback log
  // committed with its conversions, the engine's check clean.
  const storage = await inspect();
  assert.equal(storage.integrity, 'ok');
  assert.equal(storage.conversions, stored.size, 'conversions in the table = seen through the API');
  assert.equal(storage.micros, storedMicros, 'sum in the table = sum through the API');
  assert.equal(storage.recordedLogs, storage.conversions, 'one recorded log row per conversion');
  assert.equal(storage.dangling, 0, 'log rows, conversions and leads point at each other');
}

test('SQLite: kill -9 under load loses no recorded postback; the file passes integrity_check', async (ctx) => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const dbPath = join(dir.path, 'clickback.db');
  await crashAndRecover(ctx, dbPath, {}, async () => {
    const db = new Database(dbPath);
    try {
      const integrity = db.pragma('integrity_check', { simple: true }) as string;
      const foreignKeys = db.pragma('foreign_key_check') as unknown[];
      assert.deepEqual(foreignKeys, [], 'foreign_key_check');
      const totals = db
        .prepare('SELECT count(*) AS n, coalesce(sum(amount_micros), 0) AS micros FROM conversions')
        .safeIntegers()
        .get() as { n: bigint; micros: bigint };
      const logs = db
        .prepare("SELECT count(*) AS n FROM postback_logs WHERE status = 'recorded'")
        .get() as { n: number };
      const dangling = db
        .prepare(
          `SELECT
             (SELECT count(*) FROM postback_logs l WHERE l.status = 'recorded'
                AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.id = l.conversion_id))
           + (SELECT count(*) FROM conversions c WHERE NOT EXISTS
                (SELECT 1 FROM postback_logs l WHERE l.status = 'recorded' AND l.conversion_id = c.id))
           -- No foreign key checks a conversion's lead here (migration 11).
           + (SELECT count(*) FROM conversions c WHERE NOT EXISTS
                (SELECT 1 FROM leads WHERE leads.id = c.lead_id))
           AS n`,
        )
        .get() as { n: number };
      return {
        integrity,
        conversions: Number(totals.n),
        micros: totals.micros,
        recordedLogs: logs.n,
        dangling: dangling.n,
      };
    } finally {
      db.close();
    }
  });
});

const pgAvailable = await postgresAvailable();

test('PostgreSQL: kill -9 under load loses no recorded postback; constraints and indexes hold', {
  skip: !pgAvailable && 'PostgreSQL unreachable',
}, async (ctx) => {
  const { schema, admin, url } = await postgresSchema(cleanups);
  await crashAndRecover(ctx, null, { DATABASE_URL: url().toString() }, async () => {
    const q = async <T>(sql: string) => (await admin.query(sql)).rows[0] as T;
    const s = `"${schema}"`;
    const totals = await q<{ n: string; micros: string }>(
      `SELECT count(*) AS n, coalesce(sum(amount_micros), 0)::text AS micros FROM ${s}.conversions`,
    );
    const logs = await q<{ n: string }>(
      `SELECT count(*) AS n FROM ${s}.postback_logs WHERE status = 'recorded'`,
    );
    const dangling = await q<{ n: string }>(
      `SELECT
         (SELECT count(*) FROM ${s}.postback_logs l WHERE l.status = 'recorded'
            AND NOT EXISTS (SELECT 1 FROM ${s}.conversions c WHERE c.id = l.conversion_id))
       + (SELECT count(*) FROM ${s}.conversions c WHERE NOT EXISTS
            (SELECT 1 FROM ${s}.postback_logs l WHERE l.status = 'recorded' AND l.conversion_id = c.id))
       AS n`,
    );
    // PostgreSQL's own equivalent of integrity_check: every index of the schema
    // agrees with its table (amcheck), when the extension can be had.
    let integrity = 'ok';
    const amcheck = await admin
      .query(`CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA ${s}`)
      .then(() => true)
      .catch(() => false);
    if (amcheck) {
      const { rows } = await admin.query<{ index: string; schema: string }>(
        `SELECT c.relname AS index, e.extnamespace::regnamespace::text AS schema
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_am a ON a.oid = c.relam, pg_extension e
         WHERE c.relnamespace = $1::regnamespace AND a.amname = 'btree' AND e.extname = 'amcheck'`,
        [schema],
      );
      for (const row of rows) {
        const failed = await admin
          .query(`SELECT "${row.schema}".bt_index_parent_check($1::regclass, true)`, [
            `${s}."${row.index}"`,
          ])
          .then(() => null)
          .catch((error: Error) => `${row.index}: ${error.message}`);
        if (failed) integrity = failed;
      }
      ctx.diagnostic(`amcheck: ${rows.length} indexes checked`);
    } else {
      ctx.diagnostic('amcheck unavailable: index check skipped');
    }
    return {
      integrity,
      conversions: Number(totals.n),
      micros: BigInt(totals.micros),
      recordedLogs: Number(logs.n),
      dangling: Number(dangling.n),
    };
  });
});
