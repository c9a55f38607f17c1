// Another process holding the SQLite file's write lock (an operator's sqlite3
// shell, a second server on the same file) must not stop this one serving:
// its writes wait for the lock without holding up the thread, then land, or
// after a bound fail as unavailable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { newClickid } from '../../src/domain/random-id.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { isStorageUnavailable } from '../../src/store/unavailable.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './contract.js';
import { lockHolder } from './lock-holder.js';

/** The longest the event loop went without turning, from now until stop(). */
function loopLag(): { stop(): number } {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(worst, performance.now() - last);
    },
  };
}

async function workspace(store: SqliteStore): Promise<string> {
  const account = await store.createAccount({
    email: 'lock@example.com',
    passwordHash: 'x',
    workspaceName: 'L',
    at: 0,
  });
  if (account === 'email_taken') throw new Error('email taken');
  return account.workspace.id;
}

function newLead(store: SqliteStore, workspaceId: string, externalId: string) {
  return store.createLead(workspaceId, {
    campaignId: null,
    externalId,
    username: null,
    params: {},
    at: 1,
    newClickid,
  });
}

test('sqlite: while another process holds the write lock, reads are served at once and writes wait for it, then land', async () => {
  const dir = tempDir();
  const path = `${dir.path}/locked.db`;
  const store = openSqliteStore({ path });
  const other = await lockHolder(path);
  try {
    const workspaceId = await workspace(store);
    const before = await newLead(store, workspaceId, 'before');
    await other.hold();
    const lag = loopLag();
    let settled = false;
    const writes = Promise.all(
      Array.from({ length: 5 }, (_, i) => newLead(store, workspaceId, `during-${i}`)),
    ).finally(() => {
      settled = true;
    });
    await sleep(400);
    const readStart = performance.now();
    await store.ping();
    assert.equal((await store.getLead(workspaceId, before.clickid))?.externalId, 'before');
    const readMs = performance.now() - readStart;
    assert.ok(readMs < 50, `a read took ${readMs.toFixed(0)} ms while the lock was held`);
    assert.equal(settled, false, 'a write was answered while another process held the lock');
    await other.release();
    const leads = await writes;
    const worstLag = lag.stop();
    assert.ok(worstLag < 100, `the event loop stood still for ${worstLag.toFixed(0)} ms`);
    for (const [i, lead] of leads.entries()) {
      const stored = await store.getLead(workspaceId, lead.clickid);
      assert.equal(stored?.externalId, `during-${i}`);
    }
  } finally {
    await other.stop();
    await store.close();
    dir.remove();
  }
});

test('sqlite: a write lock held past the wait bound fails the waiting writes as unavailable (503), and the next writes land', async () => {
  const dir = tempDir();
  const path = `${dir.path}/held.db`;
  const store = openSqliteStore({ path, lockWaitMs: 300 });
  const other = await lockHolder(path);
  try {
    const workspaceId = await workspace(store);
    await other.hold();
    const lag = loopLag();
    const start = performance.now();
    const outcomes = await Promise.allSettled([
      newLead(store, workspaceId, 'a'),
      newLead(store, workspaceId, 'b'),
    ]);
    const waited = performance.now() - start;
    const worstLag = lag.stop();
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      assert.ok(isStorageUnavailable(reason), `not unavailable: ${reason}`);
    }
    assert.ok(waited >= 290 && waited < 1000, `failed after ${waited.toFixed(0)} ms`);
    assert.ok(worstLag < 100, `the event loop stood still for ${worstLag.toFixed(0)} ms`);
    await other.release();
    const lead = await newLead(store, workspaceId, 'after');
    assert.equal((await store.getLead(workspaceId, lead.clickid))?.externalId, 'after');
    assert.equal(store.countRows('leads'), 1, 'a write that was failed was committed');
  } finally {
    await other.stop();
    await store.close();
    dir.remove();
  }
});

test('sqlite: a stop with writes waiting on the lock answers them before the file closes', async () => {
  const dir = tempDir();
  const path = `${dir.path}/stop.db`;
  const store = openSqliteStore({ path });
  const other = await lockHolder(path);
  try {
    const workspaceId = await workspace(store);
    // Let go by the other process itself while close() waits on this thread.
    await other.hold(300);
    const write = newLead(store, workspaceId, 'waiting');
    await sleep(50);
    await store.close();
    const lead = await write;
    const again = openSqliteStore({ path });
    assert.equal((await again.getLead(workspaceId, lead.clickid))?.externalId, 'waiting');
    await again.close();
  } finally {
    await other.stop();
    dir.remove();
  }
});

test('sqlite: a stop while the lock stays held past the wait bound fails the waiting writes as unavailable, and returns', async () => {
  const dir = tempDir();
  const path = `${dir.path}/stop-held.db`;
  const store = openSqliteStore({ path, lockWaitMs: 200 });
  const other = await lockHolder(path);
  try {
    const workspaceId = await workspace(store);
    await other.hold(1500);
    const write = newLead(store, workspaceId, 'waiting');
    write.catch(() => {});
    await sleep(50);
    const start = performance.now();
    await store.close();
    const closeMs = performance.now() - start;
    await assert.rejects(write, (error) => isStorageUnavailable(error));
    assert.ok(closeMs < 1000, `the stop took ${closeMs.toFixed(0)} ms`);
  } finally {
    await other.stop();
    dir.remove();
  }
});

// The whole contract with the lock taken by another process around every call:
// each call starts while the lock is held, and the lock is let go only after
// the call has run up to its first real wait. With SQLite's busy handler off
// on the store's connection, a write that went around the batch queue fails
// with SQLITE_BUSY here, every time.
storeContract('sqlite, every call made while another process holds the write lock', async () => {
  const dir = tempDir();
  const path = `${dir.path}/locked-calls.db`;
  const store = openSqliteStore({ path });
  const other = await lockHolder(path);
  let calls = 0;
  // Calls made at once take turns at starting under the lock.
  let turn: Promise<unknown> = Promise.resolve();
  const locked = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || name === 'onOutbox' || name === 'close') return value;
      return async (...args: unknown[]) => {
        const started = turn.then(async () => {
          await other.hold();
          calls++;
          try {
            const result = Promise.resolve(value.apply(target, args));
            // Observed now; the caller awaits it below.
            result.catch(() => {});
            await sleep(1);
            return { result };
          } finally {
            await other.release();
          }
        });
        turn = started.catch(() => {});
        return (await started).result;
      };
    },
  });
  return {
    store: locked,
    async dispose() {
      await other.stop();
      assert.ok(calls > 100, `only ${calls} calls were made under the lock`);
      assert.equal(store.integrityCheck(), 'ok');
      await store.close();
      dir.remove();
    },
  };
});

// The whole contract again while another process takes the lock a quarter of
// the time: with SQLite's busy handler off on the store's connection, a write
// that went around the batch queue would fail with SQLITE_BUSY here.
storeContract('sqlite, with another process taking the write lock over and over', async () => {
  const dir = tempDir();
  const path = `${dir.path}/contended.db`;
  const store = openSqliteStore({ path });
  const other = await lockHolder(path);
  await other.contend(4, 12);
  return {
    store,
    async dispose() {
      const taken = await other.stop();
      assert.ok(taken > 20, `the other process took the lock only ${taken} times`);
      assert.equal(store.integrityCheck(), 'ok');
      await store.close();
      dir.remove();
    },
  };
});
