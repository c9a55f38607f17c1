// bench:store's WAL frame count: frames read off the WAL file of a real store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { describeFrames, walFrames } from '../../bench/wal-frames.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';

/**
 * A migrated database with one more table no write touches; each write is a
 * click through the store (its group commit), with a time-ordered clickid.
 */
async function fixture(path: string) {
  const store = openSqliteStore({ path });
  await store.close();
  const db = new Database(path);
  db.exec('CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  db.close();
  return (store: Store) => {
    const account = store.createAccount({
      email: 'frames@example.com',
      passwordHash: 'x',
      workspaceName: 'Frames',
      at: 0,
    });
    const campaign = account.then(async (a) => {
      if (a === 'email_taken') throw new Error('taken');
      return store.createCampaign(
        a.workspace.id,
        { name: 'F', description: '', buyer: '', destinationUrl: 'https://t.me/b?start=x' },
        () => 'framescp',
        0,
      );
    });
    return async (n: number) => {
      await store.recordClick({
        campaign: await campaign,
        params: { sub1: String(n) },
        ip: null,
        userAgent: null,
        referrer: null,
        at: n,
        newClickid: () => `c${String(n).padStart(9, '0')}`,
      });
      return 'recorded';
    };
  };
}

test('WAL frames: counted per write and commit, by the table or index each page belongs to', async () => {
  const dir = tempDir();
  try {
    const path = `${dir.path}/frames.db`;
    const writer = await fixture(path);
    const f = await walFrames(path, writer, { callers: 10, warm: 100, writes: 1000 });
    assert.equal(f.writes, 1000);
    // Ten callers, one group commit per turn: 100 commits of 10.
    assert.equal(f.commits, 100);
    const trees = new Map(f.byTree);
    // Each commit rewrites at least the last page of the clicks table.
    assert.ok((trees.get('clicks') ?? 0) >= 0.1, describeFrames('clicks', f));
    assert.ok((trees.get('leads') ?? 0) >= 0.1, describeFrames('clicks', f));
    assert.equal(trees.get('probe'), undefined, 'a table no write touched');
    const sum = f.byTree.reduce((total, [, perWrite]) => total + perWrite, 0);
    assert.ok(Math.abs(sum * f.writes - f.frames) < 1e-6, 'the trees add up to the frames');
    assert.match(describeFrames('clicks', f), /^clicks: \d\.\d{3} frames per write, 10\.0 writes/);
  } finally {
    dir.remove();
  }
});
