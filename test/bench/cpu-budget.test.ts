// The bench's CPU budget: what a request costs the machine, and the most
// requests/s its cores allow at that cost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuBudget, describeBudget, type ScenarioCpu } from '../../bench/cpu-budget.js';

const scenario = (over: Partial<ScenarioCpu>): ScenarioCpu => ({
  kind: 'postbacks',
  scenario: 's',
  rps: 20_000,
  ratio: 0.2,
  cpuUsPerRequest: 40,
  loadCpuUsPerRequest: 10,
  databaseCpuUsPerRequest: null,
  ...over,
});

test('the ceiling is all cores over the server, load generator and database CPU of a request', () => {
  const [b] = cpuBudget([scenario({})], 2);
  // 2 cores × 1e6 µs / 50 µs = 40,000/s; the baseline was 20,000 / 0.2 = 100,000/s.
  assert.equal(b?.totalUs, 50);
  assert.equal(b?.ceilingRps, 40_000);
  assert.equal(b?.ceilingRatio, 0.4);
  assert.equal(b?.measuredRatio, 0.2);

  const [pg] = cpuBudget([scenario({ databaseCpuUsPerRequest: 30 })], 2);
  assert.equal(pg?.totalUs, 80);
  assert.equal(pg?.ceilingRps, 25_000);
  assert.equal(pg?.ceilingRatio, 0.25);

  const [four] = cpuBudget([scenario({})], 4);
  assert.equal(four?.ceilingRps, 80_000);

  // A scenario as fast as the bare server is still a scenario.
  const [even] = cpuBudget([scenario({ rps: 100_000, ratio: 1 })], 2);
  assert.equal(even?.ceilingRatio, 0.4);
  assert.equal(even?.measuredRatio, 1);
});

test('the bare server has no ratio of its own; a scenario without CPU figures is left out', () => {
  const budgets = cpuBudget(
    [
      scenario({
        kind: 'baseline',
        scenario: 'baseline',
        ratio: 1,
        rps: 95_000,
        cpuUsPerRequest: 10,
      }),
      scenario({ scenario: 'no server figure', cpuUsPerRequest: null }),
      scenario({ scenario: 'no generator figure', loadCpuUsPerRequest: null }),
    ],
    2,
  );
  assert.deepEqual(
    budgets.map((b) => b.scenario),
    ['baseline'],
  );
  assert.equal(budgets[0]?.ceilingRatio, null);
  assert.equal(budgets[0]?.ceilingRps, 100_000);
});

test('the line shows each part, the sum and the ceiling', () => {
  const [b] = cpuBudget([scenario({ scenario: 'postbacks', databaseCpuUsPerRequest: 30 })], 2);
  assert.equal(
    describeBudget(b as NonNullable<typeof b>),
    'postbacks: 40.0 + 10.0 + 30.0 = 80.0 µs → at most 25,000/s = 0.25 × baseline (measured: 0.20)',
  );
});
