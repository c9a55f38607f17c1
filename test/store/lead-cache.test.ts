import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeadCache } from '../../src/store/lead-cache.js';

test('lead cache: entries appear only when committed, per workspace', () => {
  const cache = new LeadCache(10);
  cache.stage(1, 'abc', { id: 7, campaignId: 3 });
  assert.equal(cache.get(1, 'abc'), undefined, 'not before the commit');
  cache.commit();
  assert.deepEqual(cache.get(1, 'abc'), { id: 7, campaignId: 3 });
  assert.equal(cache.get(2, 'abc'), undefined, 'another workspace');
});

test('lead cache: a discarded batch and a write rolled back alone leave nothing', () => {
  const cache = new LeadCache(10);
  cache.stage(1, 'gone', { id: 1, campaignId: null });
  cache.discard();
  cache.stage(1, 'kept', { id: 2, campaignId: null });
  const mark = cache.mark();
  cache.stage(1, 'undone', { id: 3, campaignId: null });
  cache.rollbackTo(mark);
  cache.commit();
  assert.equal(cache.get(1, 'gone'), undefined);
  assert.equal(cache.get(1, 'undone'), undefined);
  assert.deepEqual(cache.get(1, 'kept'), { id: 2, campaignId: null });
});

test('lead cache: bounded, the oldest entries go first', () => {
  const cache = new LeadCache(3);
  for (let i = 0; i < 5; i++) cache.stage(1, `c${i}`, { id: i, campaignId: null });
  cache.commit();
  assert.equal(cache.get(1, 'c0'), undefined);
  assert.equal(cache.get(1, 'c1'), undefined);
  for (const i of [2, 3, 4]) assert.equal(cache.get(1, `c${i}`)?.id, i);
  // Re-adding a present key does not evict another.
  cache.stage(1, 'c4', { id: 4, campaignId: null });
  cache.commit();
  assert.equal(cache.get(1, 'c2')?.id, 2);
});
