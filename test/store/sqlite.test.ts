import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers.js';
import { storeContract } from './contract.js';

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

test('sqlite: migrations are versioned and re-opening applies none twice', async () => {
  const dir = tempDir();
  const path = `${dir.path}/m.db`;
  await openSqliteStore({ path }).close();
  const again = openSqliteStore({ path });
  await again.ping();
  await again.close();
  dir.remove();
});
