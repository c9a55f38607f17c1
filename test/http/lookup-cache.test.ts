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
