import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LookupCache } from '../../src/http/lookup-cache.js';

test('find answers a cached row at once, and loads (a promise) only on a miss, an invalidation or expiry', async () => {
  let now = 1_000;
  const loads: string[] = [];
  const rows: Record<string, { name: string }> = { a: { name: 'A' } };
  const cache = new LookupCache(
    async (key) => {
      loads.push(key);
      return rows[key] ?? null;
    },
    () => now,
  );
  const loaded = (key: string) => {
    const found = cache.find(key);
    assert.ok(found instanceof Promise, `${key} should have been loaded`);
    return found;
  };
  const cached = (key: string) => {
    const found = cache.find(key);
    assert.ok(!(found instanceof Promise), `${key} should have been answered from the cache`);
    return found;
  };

  assert.deepEqual(await loaded('a'), { name: 'A' });
  assert.deepEqual(cached('a'), { name: 'A' });
  assert.equal(await loaded('missing'), null);
  assert.equal(cached('missing'), null, 'a key known not to exist is cached too');
  assert.deepEqual(loads, ['a', 'missing']);

  rows.a = { name: 'A2' };
  cache.invalidate('a');
  assert.deepEqual(await loaded('a'), { name: 'A2' });
  assert.deepEqual(cached('a'), { name: 'A2' });

  now += 2_000;
  assert.equal(await loaded('missing'), null, 'an expired entry is loaded again');
  assert.deepEqual(await loaded('a'), { name: 'A2' });
  assert.deepEqual(loads, ['a', 'missing', 'a', 'missing', 'a']);
});

test('a load under way when its key is invalidated answers its caller but is not kept', async () => {
  let row = { enabled: true };
  let release: () => void = () => {};
  let slow = true;
  const cache = new LookupCache(
    async () => {
      const read = row;
      // The row is read, then the answer is delayed (a network round trip).
      if (slow) await new Promise<void>((resolve) => (release = resolve));
      return read;
    },
    () => 1_000,
  );
  const first = cache.find('t');
  // The change commits and invalidates while the first load is under way.
  row = { enabled: false };
  cache.invalidate('t');
  release();
  assert.deepEqual(await first, { enabled: true });
  slow = false;
  const next = cache.find('t');
  assert.ok(next instanceof Promise, 'the row read before the change was not kept');
  assert.deepEqual(await next, { enabled: false });
});

test('cached answers a fresh entry without loading, and nothing for a miss, an invalidation or expiry', async () => {
  let now = 1_000;
  let loads = 0;
  const cache = new LookupCache(
    async (key) => {
      loads++;
      return key === 'a' ? { name: 'A' } : null;
    },
    () => now,
  );
  assert.equal(cache.cached('a'), undefined, 'nothing before a load');
  await cache.find('a');
  await cache.find('missing');
  assert.deepEqual(cache.cached('a'), { name: 'A' });
  assert.equal(cache.cached('missing'), null, 'a key known not to exist');
  assert.equal(loads, 2, 'cached never loads');
  now += 1_999;
  assert.deepEqual(cache.cached('a'), { name: 'A' });
  now += 1;
  assert.equal(cache.cached('a'), undefined, 'expired');
  await cache.find('a');
  cache.invalidate('a');
  assert.equal(cache.cached('a'), undefined, 'invalidated');
});
