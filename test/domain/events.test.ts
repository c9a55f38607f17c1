import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CountInput,
  countingPlan,
  DEPOSIT,
  EVENT_NAME_PATTERN,
  FIRST_DEPOSIT,
  isMoneyEvent,
  normaliseEvent,
  REGISTRATION,
  signedAmount,
  WITHDRAWAL,
} from '../../src/domain/events.js';

function event(raw: string): string {
  const result = normaliseEvent(raw);
  assert.ok(result.ok, `expected "${raw}" to be an event`);
  return result.event;
}

function invalid(raw: string): string {
  const result = normaliseEvent(raw);
  assert.equal(result.ok, false, `expected "${raw}" to be refused`);
  assert.ok(!result.ok);
  return result.reason;
}

function plan(input: Partial<CountInput> & { event: string }) {
  return countingPlan({ micros: null, currency: 'USD', tid: null, ...input });
}

describe('normaliseEvent', () => {
  test('our own names', () => {
    assert.equal(event('registration'), REGISTRATION);
    assert.equal(event('first_deposit'), FIRST_DEPOSIT);
    assert.equal(event('deposit'), DEPOSIT);
  });

  test("Chatterfy's sale is a first deposit, resale a deposit", () => {
    assert.equal(event('sale'), 'first_deposit');
    assert.equal(event('resale'), 'deposit');
  });

  test('other aliases', () => {
    assert.equal(event('reg'), 'registration');
    assert.equal(event('signup'), 'registration');
    assert.equal(event('lead'), 'registration');
    assert.equal(event('ftd'), 'first_deposit');
    assert.equal(event('rebill'), 'deposit');
    assert.equal(event('redeposit'), 'deposit');
    assert.equal(event('dep'), 'deposit');
    assert.equal(event('rd'), 'deposit');
    assert.equal(event('emailconf'), 'email_confirmation');
    assert.equal(event('conf'), 'email_confirmation');
  });

  test('any case, surrounding whitespace ignored', () => {
    assert.equal(event('Registration'), 'registration');
    assert.equal(event('REGISTRATION'), 'registration');
    assert.equal(event('SALE'), 'first_deposit');
    assert.equal(event('ReSale'), 'deposit');
    assert.equal(event('  reg  '), 'registration');
  });

  test('custom names pass through, lower-cased', () => {
    assert.equal(event('withdrawal'), WITHDRAWAL);
    assert.equal(event('commission'), 'commission');
    assert.equal(event('Custom_Event_2'), 'custom_event_2');
    assert.equal(event('a'), 'a');
    assert.equal(event('x'.repeat(32)), 'x'.repeat(32));
  });

  test('invalid names are refused', () => {
    assert.match(invalid('first-deposit'), /1-32 characters/);
    invalid('x'.repeat(33));
    invalid('with space');
    invalid('dot.ted');
    invalid('café');
    invalid('a/b');
    invalid('{event}');
  });

  test('an empty name says the event is missing', () => {
    assert.match(invalid(''), /missing/);
    assert.match(invalid('   '), /missing/);
  });

  test('the reason clips a long name', () => {
    assert.ok(invalid('y'.repeat(1000)).length < 200);
  });

  test('Object prototype keys are plain custom names, not alias lookups', {}, () => {
    for (const name of ['constructor', '__proto__']) {
      const result = normaliseEvent(name);
      assert.ok(result.ok);
      assert.equal(typeof result.event, 'string', `${name} gave ${typeof result.event}`);
      assert.equal(result.event, name);
    }
  });

  test('names as written by networks answer as their other spellings do', () => {
    const names = ['registration', 'reg', 'signup', 'lead', 'first_deposit', 'sale', 'ftd'];
    names.push('deposit', 'resale', 'rebill', 'redeposit', 'dep', 'rd', 'conf', 'emailconf');
    names.push('email_confirmation', 'withdrawal', 'custom_event');
    for (const name of names) {
      // Padded and upper-cased, a name takes the trim-lowercase-check path.
      assert.deepEqual(normaliseEvent(name), normaliseEvent(` ${name.toUpperCase()}\t`), name);
    }
  });

  test('every normalised event matches the event name pattern', () => {
    for (const raw of ['sale', 'resale', 'reg', 'Registration', 'emailconf', 'withdrawal']) {
      assert.match(event(raw), EVENT_NAME_PATTERN);
    }
  });
});

describe('isMoneyEvent', () => {
  test('first deposits and deposits only', () => {
    assert.equal(isMoneyEvent(FIRST_DEPOSIT), true);
    assert.equal(isMoneyEvent(DEPOSIT), true);
    assert.equal(isMoneyEvent(REGISTRATION), false);
    assert.equal(isMoneyEvent(WITHDRAWAL), false);
    assert.equal(isMoneyEvent('commission'), false);
    assert.equal(isMoneyEvent('sale'), false, 'aliases are resolved before this');
  });
});

describe('countingPlan', () => {
  test('registration: once per lead, whatever the tid', () => {
    const expected = [
      { event: 'registration', onceKey: 'registration', tidKey: null, fingerprint: null },
    ];
    assert.deepEqual(plan({ event: REGISTRATION }), expected);
    assert.deepEqual(plan({ event: REGISTRATION, tid: 't1' }), expected);
  });

  test('first deposit without tid: once per lead', () => {
    assert.deepEqual(plan({ event: FIRST_DEPOSIT, micros: 100_000_000n }), [
      { event: 'first_deposit', onceKey: 'first_deposit', tidKey: null, fingerprint: null },
    ]);
  });

  test('first deposit with tid: once per lead, then a deposit with the same tid key', () => {
    assert.deepEqual(plan({ event: FIRST_DEPOSIT, micros: 100_000_000n, tid: 'e1' }), [
      { event: 'first_deposit', onceKey: 'first_deposit', tidKey: 'money:e1', fingerprint: null },
      { event: 'deposit', onceKey: null, tidKey: 'money:e1', fingerprint: null },
    ]);
  });

  test('deposit with tid: once per tid in the money space', () => {
    assert.deepEqual(plan({ event: DEPOSIT, micros: 5n, tid: 'e2' }), [
      { event: 'deposit', onceKey: null, tidKey: 'money:e2', fingerprint: null },
    ]);
  });

  test('deposit without tid: a fingerprint of event, amount and currency', () => {
    const [attempt, ...rest] = plan({ event: DEPOSIT, micros: 25_500_000n, currency: 'EUR' });
    assert.equal(rest.length, 0);
    assert.ok(attempt);
    assert.equal(attempt.event, 'deposit');
    assert.equal(attempt.onceKey, null);
    assert.equal(attempt.tidKey, null);
    assert.equal(typeof attempt.fingerprint, 'string');
  });

  test('fingerprints differ by amount, currency and event, and repeat for the same input', () => {
    const fp = (input: Partial<CountInput> & { event: string }) => plan(input)[0]?.fingerprint;
    const base = fp({ event: DEPOSIT, micros: 10n, currency: 'USD' });
    assert.ok(base);
    assert.equal(fp({ event: DEPOSIT, micros: 10n, currency: 'USD' }), base);
    assert.notEqual(fp({ event: DEPOSIT, micros: 11n, currency: 'USD' }), base);
    assert.notEqual(fp({ event: DEPOSIT, micros: 10n, currency: 'EUR' }), base);
    assert.notEqual(fp({ event: 'commission', micros: 10n, currency: 'USD' }), base);
    assert.notEqual(
      fp({ event: 'emailconf', micros: null }),
      fp({ event: 'emailconf', micros: 0n }),
      'no amount is not a zero amount',
    );
  });

  test('deposit and first deposit share the money tid space', () => {
    const ftd = plan({ event: FIRST_DEPOSIT, micros: 1n, tid: 'same' });
    const dep = plan({ event: DEPOSIT, micros: 1n, tid: 'same' });
    assert.equal(ftd[0]?.tidKey, dep[0]?.tidKey);
    assert.equal(ftd[1]?.tidKey, dep[0]?.tidKey);
  });

  test('a custom event with tid has its own tid space, not money:', () => {
    const [attempt, ...rest] = plan({ event: WITHDRAWAL, micros: -10_000_000n, tid: 'e1' });
    assert.equal(rest.length, 0);
    assert.ok(attempt);
    assert.equal(attempt.event, 'withdrawal');
    assert.equal(attempt.onceKey, null);
    assert.equal(attempt.fingerprint, null);
    assert.ok(attempt.tidKey);
    assert.ok(!attempt.tidKey.startsWith('money:'), attempt.tidKey);
    assert.notEqual(attempt.tidKey, plan({ event: DEPOSIT, micros: 1n, tid: 'e1' })[0]?.tidKey);
  });

  test('two custom events with the same tid do not collide', () => {
    const a = plan({ event: 'withdrawal', tid: 'x' })[0]?.tidKey;
    const b = plan({ event: 'commission', tid: 'x' })[0]?.tidKey;
    assert.ok(a && b);
    assert.notEqual(a, b);
  });

  test('a custom event named like a tid space cannot reach the money space', () => {
    const custom = plan({ event: 'money', tid: 'e1' })[0]?.tidKey;
    assert.notEqual(custom, 'money:e1');
  });

  test('custom event without tid: fingerprint window', () => {
    const [attempt] = plan({ event: 'commission', micros: 3n });
    assert.ok(attempt);
    assert.equal(attempt.tidKey, null);
    assert.equal(attempt.onceKey, null);
    assert.equal(typeof attempt.fingerprint, 'string');
  });
});

describe('signedAmount', () => {
  test('a positive withdrawal becomes negative', () => {
    assert.equal(signedAmount(WITHDRAWAL, 10_000_000n), -10_000_000n);
  });

  test('a negative withdrawal stays negative', () => {
    assert.equal(signedAmount(WITHDRAWAL, -10_000_000n), -10_000_000n);
  });

  test('zero stays zero', () => {
    assert.equal(signedAmount(WITHDRAWAL, 0n), 0n);
  });

  test('other events keep their sign', () => {
    assert.equal(signedAmount(DEPOSIT, 5n), 5n);
    assert.equal(signedAmount(FIRST_DEPOSIT, 5n), 5n);
    assert.equal(signedAmount('commission', -5n), -5n);
    assert.equal(signedAmount('commission', 5n), 5n);
  });
});
