import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CachedLead, LeadCache } from '../../src/store/lead-cache.js';

/** What the store reads of an entry. */
const lead = (entry: CachedLead | undefined) =>
  entry && { id: entry.id, campaignId: entry.campaignId };

test('lead cache: entries appear only when committed, per workspace', () => {
  const cache = new LeadCache(10);
  cache.stage(1, 'abc', { id: 7, campaignId: 3 });
  assert.equal(cache.get(1, 'abc'), undefined, 'not before the commit');
  cache.commit();
  assert.deepEqual(lead(cache.get(1, 'abc')), { id: 7, campaignId: 3 });
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
  assert.deepEqual(lead(cache.get(1, 'kept')), { id: 2, campaignId: null });
});

test('lead cache: bounded, the oldest entries go first', () => {
  const cache = new LeadCache(4);
  for (let i = 0; i < 5; i++) cache.stage(1, `c${i}`, { id: i, campaignId: null });
  cache.commit();
  // Generations of two: c0 and c1 were dropped when c4 started a third.
  assert.equal(cache.get(1, 'c0'), undefined);
  assert.equal(cache.get(1, 'c1'), undefined);
  for (const i of [2, 3, 4]) assert.equal(cache.get(1, `c${i}`)?.id, i);
  for (let i = 5; i < 1000; i++) cache.stage(1, `c${i}`, { id: i, campaignId: null });
  cache.commit();
  const kept = Array.from({ length: 1000 }, (_, i) => cache.get(1, `c${i}`)).filter(Boolean);
  assert.ok(kept.length <= 4, `${kept.length} entries kept`);
  assert.equal(cache.get(1, 'c999')?.id, 999);
});
