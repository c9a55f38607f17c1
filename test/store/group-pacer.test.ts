// Group commit's pacing on PostgreSQL, without a database: which writes go
// together, how many groups run at once, and how long a write may wait.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { GroupPacer } from '../../src/store/postgres/group-pacer.js';

/** A pacer whose groups finish when the test says so. */
function pacer(options: { maxGroup: number; maxInFlight: number; waitMs: number }) {
  const groups: number[][] = [];
  const finish: Array<(fail?: boolean) => void> = [];
  const p = new GroupPacer<number>(
    (group) =>
      new Promise<void>((resolve, reject) => {
        groups.push(group);
        finish.push((fail) => (fail ? reject(new Error('group failed')) : resolve()));
      }),
    options,
  );
  return { p, groups, finish };
}

test('the writes of one turn go together; the rest wait for a slot and form the next group', async () => {
  const { p, groups, finish } = pacer({ maxGroup: 3, maxInFlight: 1, waitMs: 60_000 });
  for (let i = 0; i < 2; i++) p.push(i);
  assert.deepEqual(groups, [], 'nothing starts before the turn ends');
  await turn();
  assert.deepEqual(groups, [[0, 1]]);
  for (let i = 2; i < 7; i++) p.push(i);
  await turn();
  assert.equal(groups.length, 1, 'one group at a time');
  assert.equal(p.running, 1);
  finish[0]?.();
  await turn();
  await turn();
  // Those that waited go together, up to the group's size.
  assert.deepEqual(groups, [
    [0, 1],
    [2, 3, 4],
  ]);
  finish[1]?.();
  await turn();
  await turn();
  assert.deepEqual(groups[2], [5, 6]);
  finish[2]?.();
  await turn();
  assert.equal(p.running, 0);
});

test('two groups run at once when two may', async () => {
  const { p, groups } = pacer({ maxGroup: 2, maxInFlight: 2, waitMs: 60_000 });
  for (let i = 0; i < 5; i++) p.push(i);
  await turn();
  assert.deepEqual(groups, [
    [0, 1],
    [2, 3],
  ]);
  assert.equal(p.running, 2);
});

test('a write waits at most waitMs for a slot: behind a group that hangs, another starts', async () => {
  const { p, groups } = pacer({ maxGroup: 10, maxInFlight: 1, waitMs: 30 });
  p.push(0);
  await turn();
  p.push(1);
  p.push(2);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(groups.length, 1, 'it waits for the slot first');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(groups, [[0], [1, 2]]);
  assert.equal(p.running, 2);
});

test('a group that fails frees its slot like one that succeeds', async () => {
  const { p, groups, finish } = pacer({ maxGroup: 1, maxInFlight: 1, waitMs: 60_000 });
  p.push(0);
  p.push(1);
  await turn();
  finish[0]?.(true);
  await turn();
  await turn();
  assert.deepEqual(groups, [[0], [1]]);
});
