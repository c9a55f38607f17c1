// The real server on the embedded database while another process holds the
// file's write lock (an operator's sqlite3 shell inside a transaction): it
// keeps answering what does not write, and the deposits sent meanwhile are
// answered once the lock is let go, each recorded once.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { tempDir } from '../helpers.js';
import { killAll, startServer } from '../process/server.js';
import { lockHolder } from '../store/lock-holder.js';
import { attempt, deposit, setUpTracker, storedEvents } from './support.js';

const HOLD_MS = 1_500;

after(() => killAll());

test("another process holding the database's write lock: health, statistics and logs are answered at once, deposits after it lets go", async () => {
  const dir = tempDir();
  const path = `${dir.path}/locked.db`;
  const server = await startServer(path);
  const other = await lockHolder(path);
  try {
    const tracker = await setUpTracker(server, 4);
    // Let go by the other process itself, on its own clock.
    await other.hold(HOLD_MS);
    const heldAt = performance.now();
    const deposits = Array.from({ length: 8 }, (_, i) => deposit(tracker, i));
    const answered = deposits.map(async (d) => {
      const outcome = await attempt(`${server.base}${d.path}`);
      return { outcome, ms: performance.now() - heldAt };
    });
    const auth = { headers: { authorization: `Bearer ${tracker.token}` } };
    for (const path of [
      '/healthz',
      '/api/v1/stats?from=2026-01-01&to=2026-01-31',
      '/api/v1/postback-logs?limit=10',
    ]) {
      const start = performance.now();
      const res = await fetch(`${server.base}${path}`, auth);
      await res.body?.cancel();
      const ms = performance.now() - start;
      assert.equal(res.status, 200, path);
      assert.ok(ms < 200, `${path} took ${ms.toFixed(0)} ms while the lock was held`);
    }
    for (const { outcome, ms } of await Promise.all(answered)) {
      assert.equal(outcome.kind, 'answer');
      if (outcome.kind !== 'answer') continue;
      assert.equal(outcome.status, 200, JSON.stringify(outcome.body));
      assert.equal(outcome.body.status, 'recorded');
      assert.ok(ms > HOLD_MS - 200, `a deposit was answered after ${ms.toFixed(0)} ms`);
    }
    const stored = await storedEvents(server, tracker);
    assert.deepEqual(
      stored.map((e) => e.tid).sort(),
      deposits.map((d) => d.tid).sort(),
      'each deposit stored once',
    );
  } finally {
    await other.stop();
    await server.stop();
    dir.remove();
  }
});
