// PostgreSQL ends the server's connections under load, again and again: a
// restart, a failover, an operator's pg_terminate_backend. The real process
// keeps answering (200, or 503 with Retry-After for what it could not commit),
// never 500 and never a dropped connection, and stays up. Once the database
// is back, every deposit sent again after a 503 ends up stored exactly once,
// with its amount, and every one answered 200 is there under the id it was told.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { freshSchema, postgresAvailable, TEST_DATABASE_URL } from '../pg.js';
import { killAll, startServer } from '../process/server.js';
import { attempt, deposit, type Outcome, setUpTracker, storedEvents, sum } from './support.js';

const LEADS = 40;
const CONCURRENCY = 32;
const LOAD_MS = 3_000;
/** How often every connection of the server is ended while the load runs. */
const KILL_EVERY_MS = 100;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const pgAvailable = await postgresAvailable();

test('PostgreSQL ending the connections under load: 200 or 503, never 500 nor a crash; after retries every deposit is stored once', {
  skip: !pgAvailable && 'PostgreSQL unreachable',
}, async (ctx) => {
  const schema = freshSchema();
  const application = `clickback-drop-${schema}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  cleanups.push(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  // Only this server's connections are ended: other tests share the database.
  url.searchParams.set('application_name', application);

  const server = await startServer('unused', { LOG_LEVEL: 'warn', DATABASE_URL: url.toString() });
  const tracker = await setUpTracker(server, LEADS);

  let killed = 0;
  let loading = true;
  const killer = (async () => {
    while (loading) {
      const { rows } = await admin.query<{ ended: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [application],
      );
      killed += rows.filter((r) => r.ended).length;
      await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
    }
  })();

  const sent = new Map<string, ReturnType<typeof deposit>>();
  const first = new Map<string, Outcome>();
  let next = 0;
  const deadline = Date.now() + LOAD_MS;
  const loop = async () => {
    while (Date.now() < deadline) {
      const d = deposit(tracker, next++);
      sent.set(d.tid, d);
      first.set(d.tid, await attempt(`${server.base}${d.path}`));
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  } finally {
    loading = false;
    await killer;
  }

  /** tid → the conversionId answered. */
  const counted = new Map<string, string>();
  let duplicates = 0;
  const refused: string[] = [];
  const unexpected: string[] = [];
  for (const [tid, o] of first) {
    if (o.kind !== 'answer') unexpected.push(`${tid}: ${JSON.stringify(o)}`);
    else if (o.status === 200 && (o.body.status === 'recorded' || o.body.status === 'duplicate')) {
      // `duplicate` on a first call: its group's COMMIT went through but the
      // connection ended before saying so, and the write, run again on its
      // own, found its conversion there. Counted once either way.
      if (o.body.status === 'duplicate') duplicates++;
      counted.set(tid, String(o.body.conversionId));
    } else if (o.status === 503 && o.body.error !== undefined) {
      assert.equal(o.headers.get('retry-after'), '1', `${tid}: Retry-After on the 503`);
      assert.equal((o.body.error as { code: string }).code, 'storage_unavailable');
      refused.push(tid);
    } else unexpected.push(`${tid}: ${o.status} ${JSON.stringify(o.body)}`);
  }
  ctx.diagnostic(
    `${sent.size} deposits: ${counted.size} counted (${duplicates} of them answered duplicate), ${refused.length} answered 503; ${killed} connections ended`,
  );
  assert.deepEqual(unexpected.slice(0, 5), [], `every answer is 200 or 503\n${server.stderr()}`);
  assert.ok(server.running(), `the server is still up\n${server.stderr()}`);
  assert.ok(killed > 0, 'connections were ended while the load ran');
  assert.ok(counted.size >= 100, `the load got going (${counted.size} counted)`);

  // The network retries what it was refused; a refused one that committed
  // after all (its COMMIT done, the answer lost with the connection) is a duplicate.
  for (const tid of refused) {
    const d = sent.get(tid) as ReturnType<typeof deposit>;
    const o = await attempt(`${server.base}${d.path}`);
    assert.ok(
      o.kind === 'answer' &&
        o.status === 200 &&
        (o.body.status === 'recorded' || o.body.status === 'duplicate'),
      `${tid}: the retry is counted: ${JSON.stringify(o)}`,
    );
  }

  const events = await storedEvents(server, tracker);
  const stored = new Map<string, { id: string; micros: bigint }>();
  for (const e of events) {
    assert.ok(e.tid !== null && !stored.has(e.tid), `tid ${e.tid} stored once`);
    stored.set(e.tid, e);
  }
  assert.equal(stored.size, sent.size, 'every deposit sent is stored, once');
  for (const [tid, d] of sent) assert.equal(stored.get(tid)?.micros, d.micros, `${tid}: amount`);
  for (const [tid, conversionId] of counted) {
    assert.equal(stored.get(tid)?.id, conversionId, `${tid}: the answered conversionId`);
  }
  const micros = await admin.query<{ micros: string }>(
    `SELECT coalesce(sum(amount_micros), 0)::text AS micros FROM "${schema}".conversions`,
  );
  assert.equal(BigInt(micros.rows[0]?.micros ?? '0'), sum([...sent.values()].map((d) => d.micros)));

  const exit = await server.stop();
  assert.equal(exit.code, 0, `the server stopped cleanly\n${server.stderr()}`);
});
