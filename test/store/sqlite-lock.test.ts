// Another process holding the SQLite file's write lock (an operator's sqlite3
// shell, a second server on the same file) must not stop this one serving:
// its writes wait for the lock without holding up the thread, then land, or
// after a bound fail as unavailable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { newClickid } from '../../src/domain/random-id.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { isStorageUnavailable } from '../../src/store/unavailable.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './contract.js';
import { type LockHolder, lockHolder } from './lock-holder.js';

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

interface LockedStore {
  store: SqliteStore;
  /** Another process on the same file. */
  other: LockHolder;
  path: string;
  workspaceId: string;
}

/**
 * A store on a file of its own with a workspace in it, and another process on
 * that file; both gone after `fn`, whether or not it closed the store.
 */
async function withLockedStore(
  options: { lockWaitMs?: number },
  fn: (locked: LockedStore) => Promise<void>,
): Promise<void> {
  const dir = tempDir();
  const path = `${dir.path}/store.db`;
  const store = openSqliteStore({ path, ...options });
  const other = await lockHolder(path);
  try {
    await fn({ store, other, path, workspaceId: await workspace(store) });
  } finally {
    await other.stop();
    await store.close();
    dir.remove();
  }
}

test('sqlite: while another process holds the write lock, reads are served at once and writes wait for it, then land', async () => {
  await withLockedStore({}, async ({ store, other, workspaceId }) => {
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
  });
});

test('sqlite: a write lock held past the wait bound fails the waiting writes as unavailable (503), and the next writes land', async () => {
  await withLockedStore({ lockWaitMs: 300 }, async ({ store, other, workspaceId }) => {
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
  });
});

test('sqlite: a write that joins a lock wait late gets a whole bound of its own, and lands after the first write fails', {
  timeout: 10_000,
}, async () => {
  await withLockedStore({ lockWaitMs: 600 }, async ({ store, other, workspaceId }) => {
    await other.hold();
    const early = newLead(store, workspaceId, 'early');
    early.catch(() => {});
    await sleep(400);
    let lateSettled = false;
    const late = newLead(store, workspaceId, 'late').finally(() => {
      lateSettled = true;
    });
    await assert.rejects(early, (error) => isStorageUnavailable(error));
    assert.equal(lateSettled, false, 'the late write was answered with the first one');
    await other.release();
    const lead = await late;
    assert.equal((await store.getLead(workspaceId, lead.clickid))?.externalId, 'late');
    assert.equal(store.countRows('leads'), 1, 'the write that was failed was committed');
  });
});

test('sqlite: a stop with writes waiting on the lock answers them before the file closes', async () => {
  await withLockedStore({}, async ({ store, other, path, workspaceId }) => {
    // Let go by the other process itself while close() waits on this thread.
    await other.hold(300);
    const write = newLead(store, workspaceId, 'waiting');
    await sleep(50);
    await store.close();
    const lead = await write;
    const again = openSqliteStore({ path });
    assert.equal((await again.getLead(workspaceId, lead.clickid))?.externalId, 'waiting');
    await again.close();
  });
});

test('sqlite: a stop waits for the lock as long as its newest waiting write may', {
  timeout: 10_000,
}, async () => {
  await withLockedStore({ lockWaitMs: 1000 }, async ({ store, other, path, workspaceId }) => {
    // Let go by the other process itself, past the first write's bound but
    // within the second's, while close() waits on this thread.
    await other.hold(1100);
    const first = newLead(store, workspaceId, 'first');
    await sleep(500);
    const second = newLead(store, workspaceId, 'second');
    await sleep(100);
    await store.close();
    const leads = await Promise.all([first, second]);
    const again = openSqliteStore({ path });
    for (const lead of leads) assert.ok(await again.getLead(workspaceId, lead.clickid));
    await again.close();
  });
});

test('sqlite: a stop while the lock stays held past the wait bound fails the waiting writes as unavailable, and returns', async () => {
  await withLockedStore({ lockWaitMs: 200 }, async ({ store, other, workspaceId }) => {
    await other.hold(1500);
    const write = newLead(store, workspaceId, 'waiting');
    write.catch(() => {});
    await sleep(50);
    const start = performance.now();
    await store.close();
    const closeMs = performance.now() - start;
    await assert.rejects(write, (error) => isStorageUnavailable(error));
    assert.ok(closeMs < 1000, `the stop took ${closeMs.toFixed(0)} ms`);
  });
});

test('sqlite: the lock taken between a failed group and its one-by-one rerun: the rerun waits for it too, and each write gets its own answer', async () => {
  await withLockedStore({}, async ({ store, path, workspaceId }) => {
    // A connection of this process, so the lock is taken at an exact point.
    const other = new Database(path);
    // Just before the rerun's BEGIN (once), another connection takes the lock for 50 ms.
    const internals = store as unknown as {
      runIsolated: { immediate(ops: unknown[]): unknown };
    };
    const rerun = internals.runIsolated;
    let taken = 0;
    internals.runIsolated = {
      immediate(ops) {
        if (taken++ === 0) {
          other.exec('BEGIN IMMEDIATE');
          setTimeout(() => other.exec('ROLLBACK'), 50);
        }
        return rerun.immediate(ops);
      },
    };
    // One group: an account whose email is taken (it throws, so the group reruns) and a lead.
    const [account, lead] = await Promise.all([
      store.createAccount({
        email: 'lock@example.com',
        passwordHash: 'x',
        workspaceName: 'L',
        at: 0,
      }),
      newLead(store, workspaceId, 'beside'),
    ]);
    assert.equal(taken >= 1, true, 'the rerun was not reached');
    assert.equal(account, 'email_taken');
    assert.equal((await store.getLead(workspaceId, lead.clickid))?.externalId, 'beside');
    other.close();
  });
});

test('sqlite: a lock wait that ends in another failure (a full disk) leaves the next wait its whole bound', async () => {
  await withLockedStore({ lockWaitMs: 400 }, async ({ store, other, workspaceId }) => {
    store.capPages(store.pageCount());
    await other.hold(100);
    // Waits for the lock, then fails for want of room.
    await assert.rejects(
      newLead(store, workspaceId, 'x'.repeat(200_000)),
      (error: { code?: string }) => error.code === 'SQLITE_FULL',
    );
    store.capPages(1_073_741_823);
    await sleep(450);
    await other.hold(200);
    const start = performance.now();
    const lead = await newLead(store, workspaceId, 'after');
    const waited = performance.now() - start;
    assert.ok(
      waited > 100,
      `the write landed after ${waited.toFixed(0)} ms, before the lock was let go`,
    );
    assert.equal((await store.getLead(workspaceId, lead.clickid))?.externalId, 'after');
  });
});

test('sqlite: an API key is found at once while another process holds the write lock; noting its use waits for the lock', async () => {
  await withLockedStore({}, async ({ store, other, workspaceId }) => {
    const account = await store.findLogin('lock@example.com');
    await store.createApiKey({
      workspaceId,
      userId: account?.user.id ?? '',
      name: 'k',
      keyHash: 'hash',
      prefix: 'p',
      at: 0,
    });
    await other.hold();
    // The first write of the lock spell is the note of the key's use: no
    // write was waiting before it, so the store does not know of the lock yet.
    const first = performance.now();
    const found = await store.findApiKey('hash', 120_000);
    const firstMs = performance.now() - first;
    assert.equal(found?.workspace.id, workspaceId);
    assert.ok(firstMs < 50, `finding the key took ${firstMs.toFixed(0)} ms`);
    const waiting = newLead(store, workspaceId, 'waiting');
    await sleep(50);
    // And once writes are known to wait, a key whose use is due again.
    const again = performance.now();
    assert.equal((await store.findApiKey('hash', 240_000))?.workspace.id, workspaceId);
    const againMs = performance.now() - again;
    assert.ok(againMs < 50, `finding the key again took ${againMs.toFixed(0)} ms`);
    assert.equal(
      (await store.listApiKeys(workspaceId))[0]?.lastUsedAt,
      null,
      'not noted while the lock is held',
    );
    await other.release();
    await waiting;
    await newLead(store, workspaceId, 'after');
    assert.equal((await store.listApiKeys(workspaceId))[0]?.lastUsedAt, 240_000);
  });
});

test('sqlite: a write made while the store stops, with the lock taken, fails as unavailable', async () => {
  await withLockedStore({}, async ({ store, other, workspaceId }) => {
    await other.hold();
    const closing = store.close();
    const late = newLead(store, workspaceId, 'late');
    await assert.rejects(late, (error) => isStorageUnavailable(error));
    await closing;
  });
});

// The whole contract with the lock taken by another process around every call:
// each call starts while the lock is held, and the lock is let go only after
// the call has run up to its first real wait. With SQLite's busy handler off
// on the store's connection, a write that went around the batch queue fails
// with SQLITE_BUSY here, every time.
let lockedStores = 0;
storeContract('sqlite, every call made while another process holds the write lock', async () => {
  const first = lockedStores++ === 0;
  const dir = tempDir();
  const path = `${dir.path}/locked-calls.db`;
  const store = openSqliteStore({ path });
  const other = await lockHolder(path);
  // A write that would run outside the queue only after the lock is let go is
  // refused too: a statement that writes, taken outside a batch, throws.
  const internals = store as unknown as {
    sql(text: string, safeIntegers?: boolean): Database.Statement;
    batchRunning: boolean;
  };
  const statement = internals.sql.bind(store);
  internals.sql = (text, safeIntegers) => {
    const prepared = statement(text, safeIntegers);
    if (prepared.readonly || internals.batchRunning) return prepared;
    throw new Error(`a write outside the batch queue: ${text}`);
  };
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
      const integrity = store.integrityCheck();
      await store.close();
      dir.remove();
      // The contract's own store makes hundreds of calls; one a test opens
      // for itself (log retention) a few dozen.
      const least = first ? 100 : 10;
      assert.ok(calls > least, `only ${calls} calls were made under the lock`);
      assert.equal(integrity, 'ok');
    },
  };
});
