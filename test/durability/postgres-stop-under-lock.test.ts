// PostgreSQL: SIGTERM while deposits wait on a lock another session holds (a
// long migration, an operator's LOCK TABLE). The stop waits for them as long
// as a statement may take, so each gets its answer and the process exits 0.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { postgresAvailable } from '../pg.js';
import { exitWithin, killAll, startServer } from '../process/server.js';
import { attempt, deposit, postgresSchema, setUpTracker, storedEvents } from './support.js';

const available = await postgresAvailable();
const cleanups: (() => Promise<void> | void)[] = [];

after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('SIGTERM while deposits wait 11 s on a lock: every one is answered and counted, exit 0', {
  skip: !available && 'PostgreSQL unreachable',
}, async () => {
  const { url } = await postgresSchema(cleanups);
  // Statements may wait 15 s: longer than the 10 s a stop used to allow.
  const env = {
    DATABASE_URL: url().toString(),
    DATABASE_QUERY_TIMEOUT_MS: '15000',
    LOG_LEVEL: 'error',
  };
  const server = await startServer(null, { ...env, SECRET_KEY: 'c'.repeat(64) });
  const tracker = await setUpTracker(server, 4);
  const locker = new pg.Client({ connectionString: url().toString() });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE conversions IN ACCESS EXCLUSIVE MODE');
    const deposits = Array.from({ length: 8 }, (_, i) => deposit(tracker, i));
    const answers = Promise.all(deposits.map((d) => attempt(`${server.base}${d.path}`, 30_000)));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    server.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    assert.ok(server.running(), 'the stop gave up while writes still waited on the lock');
    await locker.query('ROLLBACK');
    const outcomes = await answers;
    for (const o of outcomes) {
      assert.ok(o.kind === 'answer' && o.status === 200, JSON.stringify(o));
      assert.equal(o.body.status, 'recorded');
    }
    const exit = await exitWithin(server, 10_000);
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${server.stderr()}`);
  } finally {
    await locker.end();
  }
  const again = await startServer(null, { ...env, SECRET_KEY: 'c'.repeat(64) });
  try {
    assert.equal((await storedEvents(again, tracker)).length, 8);
  } finally {
    await again.stop();
  }
});
