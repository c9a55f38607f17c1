import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LookupCache } from '../../src/http/lookup-cache.js';

test('peek answers only what find has loaded, until it expires or is invalidated', async () => {
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

  assert.equal(cache.peek('a'), undefined, 'nothing loaded yet');
  assert.deepEqual(await cache.find('a'), { name: 'A' });
  assert.deepEqual(cache.peek('a'), { name: 'A' });
  assert.equal(await cache.find('missing'), null);
  assert.equal(cache.peek('missing'), null, 'a key known not to exist is null, not a miss');
  assert.deepEqual(loads, ['a', 'missing']);

  rows.a = { name: 'A2' };
  cache.invalidate('a');
  assert.equal(cache.peek('a'), undefined, 'an invalidated key must be loaded again');
  assert.deepEqual(await cache.find('a'), { name: 'A2' });

  now += 2_000;
  assert.equal(cache.peek('a'), undefined, 'an expired entry is a miss');
  assert.equal(cache.peek('missing'), undefined);
  assert.deepEqual(await cache.find('a'), { name: 'A2' });
  assert.deepEqual(loads, ['a', 'missing', 'a', 'a']);
});
