// Forwarding rules: which route keys a destination listens on, how a Facebook
// mapping picks an event, the event id every attempt shares, and the backoff.
// Backoff properties run under fast-check with a fixed seed (FUZZ_SEED to vary).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ALL_CONVERSIONS,
  DEFAULT_FACEBOOK_MAPPING,
  type DestinationSettings,
  eventId,
  isRetryableStatus,
  mappedFacebookEvent,
  normaliseForwardEvent,
  normaliseSavedSettings,
  type RetryPolicy,
  retryDelay,
  routeEvents,
} from '../../src/domain/forwarding.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_120);

function facebook(mapping: Record<string, string>): DestinationSettings {
  return {
    kind: 'facebook',
    facebook: { pixelId: '1', testEventCode: null, mapping, actionSource: 'website' },
  };
}

function webhook(events: string[]): DestinationSettings {
  return { kind: 'webhook', webhook: { url: 'https://example.com/pb', method: 'GET', events } };
}

describe('routeEvents', () => {
  test('a pixel listens on the keys of its mapping, numbered ones included', () => {
    assert.deepEqual(routeEvents(facebook({ ...DEFAULT_FACEBOOK_MAPPING })).sort(), [
      'click',
      'contact',
      'first_deposit',
      'registration',
    ]);
    assert.deepEqual(
      routeEvents(facebook({ deposit: 'Purchase', 'deposit#2': 'Subscribe' })).sort(),
      ['deposit', 'deposit#2'],
    );
    assert.deepEqual(routeEvents(facebook({})), []);
  });

  test('a webhook without events listens on every conversion, else on the ones it chose', () => {
    assert.deepEqual(routeEvents(webhook([])), [ALL_CONVERSIONS]);
    assert.equal(ALL_CONVERSIONS, '*');
    assert.deepEqual(routeEvents(webhook(['first_deposit', 'deposit#3'])), [
      'first_deposit',
      'deposit#3',
    ]);
  });

  test('an auto action listens on its one event', () => {
    assert.deepEqual(
      routeEvents({
        kind: 'auto_action',
        autoAction: { event: 'deposit#2', url: 'https://bot.example/hook', payload: {} },
      }),
      ['deposit#2'],
    );
  });
});

describe('normaliseForwardEvent', () => {
  test('the names inbound postbacks are counted under, numbered ones too', () => {
    const cases: Array<[string, string]> = [
      ['emailconf', 'email_confirmation'],
      ['conf', 'email_confirmation'],
      ['email_confirmation', 'email_confirmation'],
      ['sale', 'first_deposit'],
      ['resale', 'deposit'],
      ['resale#2', 'deposit#2'],
      ['deposit#3', 'deposit#3'],
      ['reg', 'registration'],
      ['click', 'click'],
      ['contact', 'contact'],
      ['withdrawal', 'withdrawal'],
      ['commission', 'commission'],
    ];
    for (const [given, event] of cases) assert.equal(normaliseForwardEvent(given), event, given);
  });
});

describe('normaliseSavedSettings', () => {
  test("an alias's mapping entry gives way to its event's, and the first of two aliases wins", () => {
    const saved = normaliseSavedSettings({
      kind: 'facebook',
      facebook: {
        pixelId: '1',
        testEventCode: null,
        actionSource: 'chat',
        mapping: {
          sale: 'Subscribe',
          first_deposit: 'Purchase',
          emailconf: 'Lead',
          conf: 'Contact',
          'resale#2': 'Donate',
          click: 'ViewContent',
        },
      },
    });
    assert.equal(saved.kind, 'facebook');
    if (saved.kind !== 'facebook') return;
    assert.deepEqual(saved.facebook.mapping, {
      first_deposit: 'Purchase',
      click: 'ViewContent',
      email_confirmation: 'Lead',
      'deposit#2': 'Donate',
    });
    assert.equal(saved.facebook.pixelId, '1');
  });

  test("a webhook's events and an auto action's event, once each", () => {
    assert.deepEqual(
      normaliseSavedSettings({
        kind: 'webhook',
        webhook: {
          url: 'https://h.example/',
          method: 'POST',
          events: ['sale', 'first_deposit', 'reg'],
        },
      }),
      {
        kind: 'webhook',
        webhook: {
          url: 'https://h.example/',
          method: 'POST',
          events: ['first_deposit', 'registration'],
        },
      },
    );
    const action = normaliseSavedSettings({
      kind: 'auto_action',
      autoAction: { event: 'emailconf', url: 'https://bot.example/hook', payload: { a: 1 } },
    });
    assert.deepEqual(action, {
      kind: 'auto_action',
      autoAction: {
        event: 'email_confirmation',
        url: 'https://bot.example/hook',
        payload: { a: 1 },
      },
    });
  });
});

describe('mappedFacebookEvent', () => {
  const mapping = { deposit: 'Purchase', 'deposit#2': 'Subscribe', registration: 'Lead' };

  test('the numbered occurrence wins over the plain event', () => {
    assert.equal(mappedFacebookEvent(mapping, 'deposit', 2), 'Subscribe');
    assert.equal(mappedFacebookEvent(mapping, 'deposit', 1), 'Purchase');
    assert.equal(mappedFacebookEvent(mapping, 'deposit', 3), 'Purchase');
  });

  test('only a numbered row: the other occurrences are unmapped', () => {
    const only = { 'deposit#2': 'Purchase' };
    assert.equal(mappedFacebookEvent(only, 'deposit', 2), 'Purchase');
    assert.equal(mappedFacebookEvent(only, 'deposit', 1), null);
    assert.equal(mappedFacebookEvent(only, 'deposit', 3), null);
  });

  test('unmapped events give null', () => {
    assert.equal(mappedFacebookEvent(mapping, 'withdrawal', 1), null);
    assert.equal(mappedFacebookEvent({}, 'registration', 1), null);
  });

  test('event names that are also Object.prototype members are unmapped too', () => {
    // `constructor` and `__proto__` are valid event names (a-z, 0-9, _).
    assert.equal(mappedFacebookEvent({}, 'constructor', 1), null);
    assert.equal(mappedFacebookEvent({}, '__proto__', 1), null);
  });
});

describe('eventId', () => {
  test('one prefix per subject, the subject id kept as is', () => {
    assert.equal(eventId('conversion', '42'), 'cb-cv-42');
    assert.equal(eventId('click', '42'), 'cb-ck-42');
    assert.equal(eventId('contact', '42'), 'cb-ct-42');
  });

  test('stable for one subject, distinct across subjects and ids', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('conversion' as const, 'click' as const, 'contact' as const),
        fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String),
        fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String),
        (subject, a, b) => {
          assert.equal(eventId(subject, a), eventId(subject, a));
          assert.equal(eventId(subject, a) === eventId(subject, b), a === b);
          const ids = new Set(
            (['conversion', 'click', 'contact'] as const).map((s) => eventId(s, a)),
          );
          assert.equal(ids.size, 3);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('retryDelay', () => {
  const policies = fc
    .record({
      baseMs: fc.integer({ min: 1, max: 3_600_000 }),
      extra: fc.integer({ min: 0, max: 86_400_000 }),
    })
    .map(
      ({ baseMs, extra }): RetryPolicy => ({
        baseMs,
        maxDelayMs: baseMs + extra,
        maxAttempts: 12,
        maxAgeMs: 86_400_000,
      }),
    );
  const randoms = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
  const nominal = (p: RetryPolicy, attempt: number) =>
    Math.min(p.maxDelayMs, p.baseMs * 2 ** Math.max(0, attempt - 1));

  test('jitter stays within 0.5x-1.5x of the nominal delay, never above 1.5x the cap', () => {
    fc.assert(
      fc.property(policies, fc.integer({ min: 0, max: 2_000 }), randoms, (p, attempt, r) => {
        const delay = retryDelay(p, attempt, r);
        const n = nominal(p, attempt);
        assert.ok(Number.isInteger(delay), `${delay} is not whole milliseconds`);
        assert.ok(delay >= Math.floor(n * 0.5), `${delay} < 0.5 x ${n}`);
        assert.ok(delay <= Math.ceil(n * 1.5), `${delay} > 1.5 x ${n}`);
        assert.ok(delay <= Math.ceil(p.maxDelayMs * 1.5));
        assert.ok(delay >= 1, 'a retry is never due at once');
      }),
      { seed: SEED, numRuns: 2_000 },
    );
  });

  test('the nominal delay (random 0.5) doubles per attempt until the cap, then stays there', () => {
    fc.assert(
      fc.property(policies, fc.integer({ min: 1, max: 60 }), (p, attempt) => {
        const now = retryDelay(p, attempt, 0.5);
        const next = retryDelay(p, attempt + 1, 0.5);
        assert.equal(now, nominal(p, attempt));
        if (p.baseMs * 2 ** attempt <= p.maxDelayMs) assert.equal(next, 2 * now);
        else assert.equal(next, p.maxDelayMs);
      }),
      { seed: SEED + 1, numRuns: 2_000 },
    );
  });

  test('a larger random never gives a shorter delay', () => {
    fc.assert(
      fc.property(policies, fc.integer({ min: 0, max: 40 }), randoms, randoms, (p, n, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        assert.ok(retryDelay(p, n, lo) <= retryDelay(p, n, hi));
      }),
      { seed: SEED + 2, numRuns: 1_000 },
    );
  });

  test('worked examples: base 10 s, cap 1 h', () => {
    const p: RetryPolicy = { baseMs: 10_000, maxDelayMs: 3_600_000, maxAttempts: 12, maxAgeMs: 1 };
    assert.equal(retryDelay(p, 0, 0.5), 10_000, 'attempt 0 is treated as the first');
    assert.equal(retryDelay(p, 1, 0.5), 10_000);
    assert.equal(retryDelay(p, 2, 0.5), 20_000);
    assert.equal(retryDelay(p, 3, 0), 20_000, '0.5 x 40 s');
    assert.equal(retryDelay(p, 3, 0.99), 59_600, '1.49 x 40 s');
    assert.equal(retryDelay(p, 9, 0.5), 2_560_000);
    assert.equal(retryDelay(p, 10, 0.5), 3_600_000, 'capped');
    assert.equal(retryDelay(p, 5_000, 0.5), 3_600_000, 'no overflow past the cap');
  });
});

describe('isRetryableStatus', () => {
  test('timeouts, too early, rate limits and server errors are retried', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504, 599]) {
      assert.equal(isRetryableStatus(status), true, String(status));
    }
  });

  test('other client errors, redirects and successes are not', () => {
    for (const status of [200, 204, 301, 302, 304, 400, 401, 403, 404, 409, 410, 413, 422, 451]) {
      assert.equal(isRetryableStatus(status), false, String(status));
    }
  });

  test('every status from 100 to 599', () => {
    for (let status = 100; status < 600; status++) {
      const expected = status >= 500 || status === 408 || status === 425 || status === 429;
      assert.equal(isRetryableStatus(status), expected, String(status));
    }
  });
});
