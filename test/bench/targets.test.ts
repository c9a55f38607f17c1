// The bench's verdict on the project's targets (bench/targets.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTargets, type MeasuredScenario } from '../../bench/targets.js';

const baseline: MeasuredScenario = { kind: 'baseline', ratio: 1, p99Ms: 2, peakRssMb: 90 };
const clicks: MeasuredScenario = { kind: 'clicks', ratio: 0.53, p99Ms: 4.1, peakRssMb: 192 };
const postbacks: MeasuredScenario = { kind: 'postbacks', ratio: 0.41, p99Ms: 15.3, peakRssMb: 191 };
const duplicates: MeasuredScenario = {
  kind: 'postbacks_duplicates',
  ratio: 0.45,
  p99Ms: 12,
  peakRssMb: 163,
};

const verdicts = (results: ReturnType<typeof checkTargets>) =>
  Object.fromEntries(results.map((r) => [r.target, `${r.measured} ${r.met ? 'met' : 'missed'}`]));

test('every target of a full run, met', () => {
  assert.deepEqual(
    verdicts(
      checkTargets([baseline, clicks, postbacks, duplicates], {
        dayMedianMs: 25.5,
        startupMedianMs: 320.7,
      }),
    ),
    {
      'clicks ≥ 0.50 × baseline': '0.53 met',
      'clicks p99 ≤ 25 ms': '4.1 ms met',
      'postbacks ≥ 0.40 × baseline': '0.41, 0.45 met',
      'postbacks p99 ≤ 25 ms': '15.3 ms, 12 ms met',
      'server peak RSS ≤ 250 MB under load': '192 MB met',
      'statistics, 30 days by day ≤ 300 ms': '25.5 ms met',
      'start-up to ready ≤ 1,000 ms': '320.7 ms met',
    },
  );
});

test('a target over two scenarios is missed when one of them misses it', () => {
  const results = verdicts(
    checkTargets([baseline, clicks, { ...postbacks, ratio: 0.3, p99Ms: 25.1 }, duplicates], null),
  );
  assert.equal(results['postbacks ≥ 0.40 × baseline'], '0.30, 0.45 missed');
  assert.equal(results['postbacks p99 ≤ 25 ms'], '25.1 ms, 12 ms missed');
  assert.equal(results['clicks ≥ 0.50 × baseline'], '0.53 met');
});

test('the limits themselves are met; memory is the highest of the loaded scenarios', () => {
  const results = verdicts(
    checkTargets(
      [
        { ...baseline, peakRssMb: 400 },
        { ...clicks, ratio: 0.5, p99Ms: 25 },
        { kind: 'forwarded', ratio: 0.1, p99Ms: 40, peakRssMb: 251 },
      ],
      { dayMedianMs: 300, startupMedianMs: 1000 },
    ),
  );
  assert.equal(results['clicks ≥ 0.50 × baseline'], '0.50 met');
  assert.equal(results['clicks p99 ≤ 25 ms'], '25 ms met');
  // The bare server's memory is not the app's; the forwarded run's is.
  assert.equal(results['server peak RSS ≤ 250 MB under load'], '251 MB missed');
  assert.equal(results['statistics, 30 days by day ≤ 300 ms'], '300 ms met');
  assert.equal(results['start-up to ready ≤ 1,000 ms'], '1,000 ms met');
  // The forwarded scenario has no throughput target of its own.
  assert.equal(results['postbacks ≥ 0.40 × baseline'], undefined);
});

test('only the targets of the scenarios that ran', () => {
  assert.deepEqual(checkTargets([baseline], null), []);
});
