// Facebook Conversions API payloads built from hand-made delivery jobs: the
// exact JSON (amounts as the network's decimal, never through a float), the
// click's fbc/fbp/IP/user agent, mapping and age rules, a redacted log.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { FacebookSettings } from '../../src/domain/forwarding.js';
import {
  type FacebookContext,
  facebookErrorText,
  facebookRequest,
  fbcFor,
  isTransientFacebookError,
  refusesAnEvent,
  sha256,
} from '../../src/forwarders/facebook.js';
import type { PreparedDelivery } from '../../src/forwarders/outbound-http.js';
import type { DeliveryJob } from '../../src/store/store.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const CLICK_AT = NOW - 3_600_000 + 123;
const TOKEN = 'EAAB+secret/token=xyz';
const CONTEXT: FacebookContext = {
  graphUrl: 'https://graph.facebook.test',
  graphVersion: 'v24.0',
  publicUrl: 'https://track.example',
  now: NOW,
};

function job(patch: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    outboxId: '7',
    lease: { owner: 'test:1:job', until: 0 },
    workspaceId: '1',
    campaignId: '3',
    campaignSlug: 'fbru2026',
    destination: {
      id: '5',
      workspaceId: '1',
      campaignId: '3',
      name: 'Pixel',
      enabled: true,
      settings: { kind: 'facebook', facebook: settings() },
      secret: 'v1:sealed',
      createdAt: NOW,
      updatedAt: NOW,
      deleted: false,
      revision: 0,
    },
    subject: 'conversion',
    subjectId: '42',
    event: 'first_deposit',
    occurrence: 1,
    eventAt: NOW - 60_000,
    attempts: 0,
    budgetAttempts: 0,
    queuedAt: NOW - 60_000,
    conversion: { micros: 100_500_000n, currency: 'USD', tid: 'tx-1' },
    lead: {
      clickid: 'AbCdEf123456',
      externalId: '777',
      username: 'bob',
      params: {},
      createdAt: CLICK_AT,
    },
    click: {
      at: CLICK_AT,
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 Test',
      referrer: null,
      params: { fbclid: 'IwAR3xYz_CaseMatters', fbp: 'fb.1.1700000000000.42' },
    },
    fields: {},
    ...patch,
  };
}

function settings(patch: Partial<FacebookSettings> = {}): FacebookSettings {
  return {
    pixelId: '1234567890',
    testEventCode: null,
    mapping: {
      click: 'Lead',
      contact: 'Contact',
      registration: 'CompleteRegistration',
      first_deposit: 'Purchase',
      deposit: 'Purchase',
      'deposit#2': 'Subscribe',
    },
    actionSource: 'website',
    ...patch,
  };
}

function sent(prepared: PreparedDelivery) {
  assert.equal(prepared.kind, 'send', JSON.stringify(prepared));
  if (prepared.kind !== 'send') throw new Error('unreachable');
  return prepared;
}

type Event = {
  event_name: string;
  event_time: number;
  event_id: string;
  action_source: string;
  event_source_url?: string;
  user_data: Record<string, unknown>;
  custom_data?: Record<string, unknown>;
};

function eventOf(prepared: PreparedDelivery): Event {
  const body = JSON.parse(sent(prepared).request.body ?? '') as { data: Event[] };
  assert.equal(body.data.length, 1);
  return body.data[0] as Event;
}

const hashed = (text: string) => createHash('sha256').update(text).digest('hex');

describe('facebookRequest', () => {
  test('a Purchase: the exact request, amount as the decimal it arrived as', () => {
    const prepared = sent(
      facebookRequest(job(), settings({ testEventCode: 'TEST123' }), TOKEN, CONTEXT),
    );
    assert.equal(prepared.destinationEvent, 'Purchase');
    assert.equal(prepared.request.method, 'POST');
    assert.equal(
      prepared.request.url,
      `https://graph.facebook.test/v24.0/1234567890/events?access_token=${encodeURIComponent(TOKEN)}`,
    );
    assert.deepEqual(prepared.request.headers, { 'content-type': 'application/json' });
    const expected =
      '{"data":[{"event_name":"Purchase",' +
      `"event_time":${Math.floor((NOW - 60_000) / 1000)},` +
      '"event_id":"cb-cv-42","action_source":"website",' +
      `"user_data":{"fbc":"fb.1.${CLICK_AT}.IwAR3xYz_CaseMatters","fbp":"fb.1.1700000000000.42",` +
      '"client_ip_address":"203.0.113.9","client_user_agent":"Mozilla/5.0 Test",' +
      `"external_id":["${hashed('abcdef123456')}"]},` +
      '"event_source_url":"https://track.example/c/fbru2026",' +
      '"custom_data":{"value":100.5,"currency":"USD"}}],' +
      '"test_event_code":"TEST123"}';
    assert.equal(prepared.request.body, expected);
  });

  test('amounts go out exactly: tiny, huge, whole, zero; never a float rendering', () => {
    const cases: Array<[bigint, string]> = [
      [1n, '0.000001'],
      [123_456_789_012_500_000n, '123456789012.5'],
      [999_999_999_999_999_999n, '999999999999.999999'],
      [100_000_000n, '100'],
      [10_000n, '0.01'],
      [0n, '0'],
    ];
    for (const [micros, text] of cases) {
      const body =
        sent(
          facebookRequest(
            job({ conversion: { micros, currency: 'EUR', tid: null } }),
            settings(),
            TOKEN,
            CONTEXT,
          ),
        ).request.body ?? '';
      assert.ok(
        body.includes(`"custom_data":{"value":${text},"currency":"EUR"}`),
        `${micros}: ${body}`,
      );
      assert.ok(!/e[+-]?\d/.test(body.slice(body.indexOf('"value":'))), 'no exponent');
      JSON.parse(body);
    }
  });

  test('stablecoins are dollars to Facebook; other currencies pass through', () => {
    for (const [currency, expected] of [
      ['USDT', 'USD'],
      ['USDC', 'USD'],
      ['EUR', 'EUR'],
      ['RUB', 'RUB'],
    ] as const) {
      const event = eventOf(
        facebookRequest(
          job({ conversion: { micros: 5_000_000n, currency, tid: null } }),
          settings(),
          TOKEN,
          CONTEXT,
        ),
      );
      assert.deepEqual(event.custom_data, { value: 5, currency: expected });
    }
  });

  test("an amount in a coin Facebook does not take is skipped, not sent to fail the request's other events", () => {
    for (const currency of ['BTC', 'ETH', 'TRX', 'TON']) {
      const prepared = facebookRequest(
        job({ conversion: { micros: 5_000_000n, currency, tid: null } }),
        settings(),
        TOKEN,
        CONTEXT,
      );
      assert.deepEqual(prepared, {
        kind: 'skip',
        destinationEvent: 'Purchase',
        reason: `Facebook takes ISO 4217 currencies only, and ${currency} is not one`,
      });
    }
    // Without money on it, the event goes: a registration says no currency.
    const registration = eventOf(
      facebookRequest(
        job({ event: 'registration', conversion: { micros: null, currency: 'BTC', tid: null } }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.equal(registration.custom_data, undefined);
  });

  test("a click's parameters cannot reach the amount, whatever they hold", () => {
    for (const fbp of ['\u0000value\u0000', '"value":1', '},"custom_data":{"value":9']) {
      const prepared = sent(
        facebookRequest(
          job({
            click: {
              at: CLICK_AT,
              ip: '203.0.113.9',
              userAgent: 'UA',
              referrer: null,
              params: { fbp, fbc: fbp },
            },
          }),
          settings(),
          TOKEN,
          CONTEXT,
        ),
      );
      const event = eventOf(prepared);
      assert.equal(event.user_data.fbp, fbp);
      assert.equal(event.user_data.fbc, fbp);
      assert.deepEqual(event.custom_data, { value: 100.5, currency: 'USD' });
    }
  });

  test('fbc from the click time and the fbclid, its case kept', () => {
    const event = eventOf(
      facebookRequest(
        job({
          click: {
            at: 1_700_000_000_123,
            ip: null,
            userAgent: null,
            referrer: null,
            params: { fbclid: 'AbC_dEf-GhI' },
          },
        }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.equal(event.user_data.fbc, 'fb.1.1700000000123.AbC_dEf-GhI');
    assert.equal(fbcFor(1_700_000_000_123, 'AbC_dEf-GhI'), 'fb.1.1700000000123.AbC_dEf-GhI');
    assert.deepEqual(Object.keys(event.user_data), ['fbc', 'external_id']);
  });

  test('an fbc the click carried is used as is; _fbp stands in for fbp', () => {
    const event = eventOf(
      facebookRequest(
        job({
          click: {
            at: CLICK_AT,
            ip: null,
            userAgent: null,
            referrer: null,
            params: { fbc: 'fb.1.1600000000000.Given', fbclid: 'Other', _fbp: 'fb.1.2.3' },
          },
        }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.equal(event.user_data.fbc, 'fb.1.1600000000000.Given');
    assert.equal(event.user_data.fbp, 'fb.1.2.3');
  });

  test('a lead without a click: only the hashed clickid identifies it', () => {
    const event = eventOf(
      facebookRequest(job({ click: null, event: 'registration' }), settings(), TOKEN, CONTEXT),
    );
    assert.deepEqual(event.user_data, { external_id: [sha256('AbCdEf123456')] });
    assert.equal(sha256(' AbC '), hashed('abc'), 'trimmed and lower-cased before hashing');
  });

  test('registration, click and contact carry no custom_data', () => {
    for (const patch of [
      { event: 'registration', conversion: { micros: null, currency: 'USD', tid: null } },
      { event: 'click', subject: 'click' as const, conversion: null },
      { event: 'contact', subject: 'contact' as const, conversion: null },
    ]) {
      const event = eventOf(facebookRequest(job(patch), settings(), TOKEN, CONTEXT));
      assert.equal(event.custom_data, undefined, patch.event);
    }
    const click = eventOf(
      facebookRequest(
        job({ event: 'click', subject: 'click', conversion: null }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.equal(click.event_name, 'Lead');
    assert.equal(click.event_id, 'cb-ck-42');
  });

  test('a deposit without an amount still says its currency; a negative amount no value', () => {
    const noAmount = eventOf(
      facebookRequest(
        job({ event: 'deposit', conversion: { micros: null, currency: 'USDT', tid: 't' } }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.deepEqual(noAmount.custom_data, { currency: 'USD' });
    const refund = eventOf(
      facebookRequest(
        job({ event: 'deposit', conversion: { micros: -5_000_000n, currency: 'USD', tid: 't' } }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.deepEqual(refund.custom_data, { currency: 'USD' });
  });

  test('the Nth deposit takes its own mapping row', () => {
    const second = facebookRequest(
      job({ event: 'deposit', occurrence: 2 }),
      settings(),
      TOKEN,
      CONTEXT,
    );
    assert.equal(sent(second).destinationEvent, 'Subscribe');
    assert.equal(eventOf(second).event_name, 'Subscribe');
    const third = facebookRequest(
      job({ event: 'deposit', occurrence: 3 }),
      settings(),
      TOKEN,
      CONTEXT,
    );
    assert.equal(eventOf(third).event_name, 'Purchase');
  });

  test('test_event_code only when set', () => {
    for (const code of [null, '']) {
      const body = sent(facebookRequest(job(), settings({ testEventCode: code }), TOKEN, CONTEXT))
        .request.body;
      assert.ok(!body?.includes('test_event_code'), String(code));
    }
    const body = JSON.parse(
      sent(facebookRequest(job(), settings({ testEventCode: 'TEST9' }), TOKEN, CONTEXT)).request
        .body ?? '',
    ) as { test_event_code?: string };
    assert.equal(body.test_event_code, 'TEST9');
  });

  test('event_source_url only for website events', () => {
    const chat = eventOf(
      facebookRequest(job(), settings({ actionSource: 'chat' }), TOKEN, CONTEXT),
    );
    assert.equal(chat.action_source, 'chat');
    assert.equal(chat.event_source_url, undefined);
  });

  test('a website event without a user agent (a lead the bot made, no click) goes as chat', () => {
    const noClick = eventOf(facebookRequest(job({ click: null }), settings(), TOKEN, CONTEXT));
    assert.equal(noClick.action_source, 'chat');
    assert.equal(noClick.event_source_url, undefined);
    const withClick = eventOf(facebookRequest(job(), settings(), TOKEN, CONTEXT));
    assert.equal(withClick.action_source, 'website');
    assert.equal(withClick.user_data.client_user_agent, 'Mozilla/5.0 Test');
    assert.equal(withClick.event_source_url, 'https://track.example/c/fbru2026');
    const noAgent = eventOf(
      facebookRequest(
        job({
          click: { at: CLICK_AT, ip: '203.0.113.9', userAgent: null, referrer: null, params: {} },
        }),
        settings(),
        TOKEN,
        CONTEXT,
      ),
    );
    assert.equal(noAgent.action_source, 'chat');
  });

  test('unmapped events are skipped', () => {
    const prepared = facebookRequest(job({ event: 'withdrawal' }), settings(), TOKEN, CONTEXT);
    assert.deepEqual(prepared, {
      kind: 'skip',
      destinationEvent: null,
      reason: 'withdrawal is not mapped',
    });
    const onlySecond = settings({ mapping: { 'deposit#2': 'Purchase' } });
    assert.equal(
      facebookRequest(job({ event: 'deposit', occurrence: 1 }), onlySecond, TOKEN, CONTEXT).kind,
      'skip',
    );
  });

  test('events older than 7 days expire instead of being sent', () => {
    const week = 7 * 24 * 3_600_000;
    const old = facebookRequest(job({ eventAt: NOW - week - 1 }), settings(), TOKEN, CONTEXT);
    assert.equal(old.kind, 'expire');
    assert.equal(old.destinationEvent, 'Purchase');
    const edge = facebookRequest(job({ eventAt: NOW - week }), settings(), TOKEN, CONTEXT);
    assert.equal(edge.kind, 'send', 'exactly 7 days old is still accepted');
    const unmapped = facebookRequest(
      job({ event: 'withdrawal', eventAt: NOW - week - 1 }),
      settings(),
      TOKEN,
      CONTEXT,
    );
    assert.equal(unmapped.kind, 'skip', 'an unmapped event is skipped whatever its age');
  });

  test('the log text redacts the access token and keeps the body', () => {
    const prepared = sent(facebookRequest(job(), settings(), TOKEN, CONTEXT));
    assert.ok(!prepared.logText.includes(TOKEN));
    assert.ok(!prepared.logText.includes(encodeURIComponent(TOKEN)));
    assert.equal(
      prepared.logText,
      `POST https://graph.facebook.test/v24.0/1234567890/events?access_token=[redacted]\n\n${prepared.request.body}`,
    );
  });

  test('the pixel id is encoded into the path', () => {
    const prepared = sent(
      facebookRequest(job(), settings({ pixelId: '12/../34' }), TOKEN, CONTEXT),
    );
    assert.ok(
      prepared.request.url.startsWith('https://graph.facebook.test/v24.0/12%2F..%2F34/events?'),
    );
  });
});

describe('isTransientFacebookError', () => {
  test('is_transient, unknown and service errors, and every kind of throttling are worth a retry', () => {
    assert.equal(isTransientFacebookError('{"error":{"is_transient":true,"code":100}}'), true);
    for (const code of [1, 2, 4, 17, 32, 341, 613, 80000, 80004, 80014]) {
      assert.equal(isTransientFacebookError(`{"error":{"code":${code}}}`), true, String(code));
    }
  });

  test('other errors, empty or non-JSON bodies are not', () => {
    assert.equal(isTransientFacebookError('{"error":{"code":190,"is_transient":false}}'), false);
    assert.equal(isTransientFacebookError('{"error":{"code":100}}'), false);
    assert.equal(isTransientFacebookError('{"error":{"code":80015}}'), false);
    assert.equal(isTransientFacebookError('{"error":{"code":"4"}}'), false);
    assert.equal(isTransientFacebookError(''), false);
    assert.equal(isTransientFacebookError(null), false);
    assert.equal(isTransientFacebookError('<html>502</html>'), false);
    assert.equal(isTransientFacebookError('null'), false);
  });
});

describe('refusesAnEvent', () => {
  test('an invalid parameter (code 100) is something one event holds; a bad token or anything else is not', () => {
    assert.equal(refusesAnEvent('{"error":{"code":100,"error_subcode":2804019}}'), true);
    assert.equal(refusesAnEvent('{"error":{"code":190}}'), false);
    assert.equal(
      refusesAnEvent('{"error":{"code":100,"error_subcode":33}}'),
      false,
      'a pixel that does not exist',
    );
    assert.equal(refusesAnEvent('{"error":{"code":100}}'), true);
    assert.equal(refusesAnEvent('{"error":{"code":"100"}}'), false);
    assert.equal(refusesAnEvent(''), false);
    assert.equal(refusesAnEvent(null), false);
    assert.equal(refusesAnEvent('<html>400</html>'), false);
  });
});

describe('facebookErrorText', () => {
  test("a Graph API error as the log shows it: its message, the user's text, its codes", () => {
    assert.equal(
      facebookErrorText(
        '{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804019,"error_user_msg":"The currency is not valid.","fbtrace_id":"A1"}}',
      ),
      'Invalid parameter The currency is not valid. (code 100, subcode 2804019)',
    );
    assert.equal(facebookErrorText('{"error":{"message":"Busy"}}'), 'Busy');
    assert.equal(facebookErrorText('{"error":{"code":1}}'), null);
    assert.equal(facebookErrorText('<html>502</html>'), null);
    assert.equal(facebookErrorText('null'), null);
  });
});
