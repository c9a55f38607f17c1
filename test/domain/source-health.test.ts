import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type DeliveryFacts,
  FAILING_RETRIED_MS,
  sourceHealth,
} from '../../src/domain/source-health.js';

const NOW = Date.parse('2026-11-20T10:00:00Z');
const MIN = 60_000;

const facts = (patch: Partial<DeliveryFacts> = {}): DeliveryFacts => ({
  lastDeliveredAt: NOW - 60 * MIN,
  failedInARow: 0,
  gaveUp: 0,
  failingSince: null,
  lastFailedAt: null,
  lastError: null,
  pending: 0,
  ...patch,
});

const failures = (n: number, gaveUp: number, sinceMs: number): Partial<DeliveryFacts> => ({
  failedInARow: n,
  gaveUp,
  failingSince: NOW - sinceMs,
  lastFailedAt: NOW,
  lastError: 'HTTP 400: Invalid OAuth access token (code 190)',
});

const state = (f: DeliveryFacts, enabled = true) => sourceHealth(enabled, f, NOW).state;

test('source health: nothing sent yet is idle; a delivery last is ok; disabled is paused', () => {
  assert.equal(state(facts({ lastDeliveredAt: null })), 'idle');
  assert.equal(state(facts({ lastDeliveredAt: null, pending: 4 })), 'idle', 'waiting, not tried');
  assert.equal(state(facts()), 'ok');
  assert.equal(state(facts(failures(50, 50, MIN)), false), 'paused');
  const h = sourceHealth(true, facts({ pending: 3 }), NOW);
  assert.equal(h.pending, 3, 'the facts are kept next to the state');
});

test('source health: three refusals in a row are failing, delivered before or never', () => {
  assert.equal(state(facts(failures(3, 1, 1_000))), 'failing');
  assert.equal(state(facts({ lastDeliveredAt: null, ...failures(3, 3, 1_000) })), 'failing');
  assert.equal(state(facts(failures(2, 2, 1_000))), 'ok', 'two are not a pattern');
  assert.equal(state(facts({ lastDeliveredAt: null, ...failures(1, 1, 1_000) })), 'ok');
});

test('source health: failures still being retried are failing only after 15 minutes', () => {
  // One transient failure, its retry pending: not failing, however old.
  assert.equal(state(facts(failures(1, 0, 2 * FAILING_RETRIED_MS))), 'ok');
  // A request of 100 events answered 503 once: retried, not failing yet.
  assert.equal(state(facts(failures(100, 0, 1_000))), 'ok');
  assert.equal(state(facts(failures(5, 0, FAILING_RETRIED_MS - 1))), 'ok');
  assert.equal(state(facts(failures(5, 0, FAILING_RETRIED_MS))), 'failing');
});
