import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combine, type Measured, median } from '../../bench/rounds.js';

const round = (over: Partial<Measured>): Measured => ({
  rps: 1000,
  requests: 5000,
  p50Ms: 1,
  p99Ms: 5,
  errors: 0,
  result: { ok: 5000 },
  cpuUs: 100_000,
  cpuUsPerRequest: 50,
  mainThreadBusy: 0.9,
  loadCpuUsPerRequest: 20,
  databaseCpuUsPerRequest: null,
  seconds: 5,
  ...over,
});

test("rounds put together: requests/s over all their seconds, costs over all their requests, the worst round's p99", () => {
  const all = combine([
    round({ rps: 2000, requests: 10_000, cpuUsPerRequest: 40, p99Ms: 4, p50Ms: 1 }),
    round({ rps: 1000, requests: 5000, cpuUsPerRequest: 70, p99Ms: 9, p50Ms: 3, errors: 2 }),
    round({ rps: 1000, requests: 5000, result: { ok: 4000, duplicate: 1000 }, p50Ms: 2 }),
  ]);
  assert.equal(all.requests, 20_000);
  // 20,000 requests in 5 + 5 + 5 s of load.
  assert.equal(all.rps, 20_000 / 15);
  assert.equal(all.cpuUsPerRequest, (40 * 10_000 + 70 * 5000 + 50 * 5000) / 20_000);
  assert.equal(all.p99Ms, 9);
  assert.equal(all.p50Ms, 2);
  assert.equal(all.errors, 2);
  assert.deepEqual(all.result, { ok: 14_000, duplicate: 1000 });
  assert.equal(all.cpuUs, 300_000);
  assert.equal(all.seconds, 15);
  assert.equal(all.loadCpuUsPerRequest, 20);
  assert.ok(Math.abs((all.mainThreadBusy as number) - 0.9) < 1e-9);
  // A figure one round could not read is not made up from the others.
  assert.equal(all.databaseCpuUsPerRequest, null);
  assert.equal(combine([round({}), round({ cpuUsPerRequest: null })]).cpuUsPerRequest, null);
});

test('the median of an even count is the mean of the middle two, not the upper one', () => {
  assert.equal(median([0.5, 0.3, 0.4]), 0.4);
  assert.equal(median([0.3, 0.5]), 0.4);
  assert.equal(median([0.2, 0.5, 0.3, 0.4]), 0.35);
  assert.equal(median([7]), 7);
});
