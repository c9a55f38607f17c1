import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import Fastify from 'fastify';
import {
  type InboundConfig,
  type InboundRequest,
  LIMITS,
  looksLikeMacro,
  type ParsedPostback,
  parseInboundPostback,
  plainDecimal,
} from '../../src/domain/inbound-postback.js';

const CONFIG: InboundConfig = { clickidParam: 'sub1', currency: 'USD' };
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_207);

function parse(req: Partial<InboundRequest>, config: Partial<InboundConfig> = {}) {
  return parseInboundPostback(
    { pathEvent: null, query: '', contentType: undefined, body: '', ...req },
    { ...CONFIG, ...config },
  );
}

function ok(req: Partial<InboundRequest>, config: Partial<InboundConfig> = {}): ParsedPostback {
  const result = parse(req, config);
  assert.ok(result.ok, `expected ok, got ${JSON.stringify(result, big)}`);
  return result.postback;
}

function fails(req: Partial<InboundRequest>, code: string, config: Partial<InboundConfig> = {}) {
  const result = parse(req, config);
  assert.equal(result.ok, false, `expected ${code}, got ${JSON.stringify(result, big)}`);
  assert.ok(!result.ok);
  assert.equal(result.code, code, result.message);
  assert.ok(result.message.length > 0);
  return result;
}

function big(_key: string, value: unknown) {
  return typeof value === 'bigint' ? `${value}n` : value;
}

const reg = (query: string, config: Partial<InboundConfig> = {}) =>
  ok({ pathEvent: 'registration', query }, config);

describe('parseInboundPostback: the clickid', () => {
  test('every alias', () => {
    for (const name of [
      'clickid',
      'sub1',
      'click_id',
      'subid',
      'cid',
      'tracker.clickid',
      'cnv_id',
    ]) {
      assert.equal(reg(`${name}=abc`).clickid, 'abc', name);
    }
  });

  test("the configuration's clickidParam", () => {
    assert.equal(reg('sub4=abc', { clickidParam: 'sub4' }).clickid, 'abc');
    fails({ pathEvent: 'registration', query: 'sub4=abc' }, 'missing_clickid');
  });

  test('another network sub is not a clickid', () => {
    fails({ pathEvent: 'registration', query: 'sub1=abc' }, 'missing_clickid', {
      clickidParam: 'sub4',
    });
  });

  test('missing_clickid names every name a clickid is read from, once each', () => {
    const { message } = fails({ pathEvent: 'registration', query: '' }, 'missing_clickid', {
      clickidParam: 'subid',
    });
    assert.equal(
      message,
      'no clickid: send it as clickid, subid, tracker.clickid, click_id, cid or cnv_id',
    );
    assert.match(
      fails({ pathEvent: 'registration', query: '' }, 'missing_clickid', { clickidParam: 'sub1' })
        .message,
      /^no clickid: send it as clickid, sub1, tracker\.clickid, click_id, subid, cid or cnv_id$/,
    );
  });

  test('missing, or empty, is missing_clickid', () => {
    const result = fails({ pathEvent: 'registration', query: 'amount=1' }, 'missing_clickid');
    assert.equal(result.event, 'registration');
    assert.equal(result.clickid, null);
    fails({ pathEvent: 'registration', query: 'clickid=' }, 'missing_clickid');
    fails({ pathEvent: 'registration', query: 'clickid=%20%20' }, 'missing_clickid');
    fails({ pathEvent: 'registration', query: '' }, 'missing_clickid');
    fails({ pathEvent: 'registration', query: 'clickid' }, 'missing_clickid');
  });

  test('the missing_clickid message names the configured parameter', () => {
    const result = fails({ pathEvent: 'registration' }, 'missing_clickid', {
      clickidParam: 'sub7',
    });
    assert.match(result.message, /sub7/);
  });

  test('surrounding whitespace is trimmed, + is a space', () => {
    assert.equal(reg('clickid=%20abc%20').clickid, 'abc');
    assert.equal(reg('clickid=a+b').clickid, 'a b');
  });

  test('an empty alias next to a filled one is not ambiguous', () => {
    assert.equal(reg('clickid=&sub1=abc').clickid, 'abc');
  });

  test('the same value in two aliases is fine', () => {
    assert.equal(reg('clickid=abc&sub1=abc&click_id=abc').clickid, 'abc');
  });

  test('different values in two aliases are ambiguous', () => {
    const result = fails(
      { pathEvent: 'registration', query: 'clickid=a&sub1=b' },
      'ambiguous_parameter',
    );
    assert.match(result.message, /clickid/);
    assert.match(result.message, /sub1/);
    fails({ pathEvent: 'registration', query: 'subid=a&cid=b' }, 'ambiguous_parameter');
  });

  test('the same parameter twice with different values is ambiguous', () => {
    fails({ pathEvent: 'registration', query: 'clickid=a&clickid=b' }, 'ambiguous_parameter');
  });

  test('the same parameter twice with the same value is fine', () => {
    assert.equal(reg('clickid=a&clickid=a').clickid, 'a');
  });

  test('up to 64 characters; longer is invalid_clickid', () => {
    assert.equal(LIMITS.clickid, 64);
    assert.equal(reg(`clickid=${'a'.repeat(64)}`).clickid, 'a'.repeat(64));
    const result = fails(
      { pathEvent: 'registration', query: `clickid=${'a'.repeat(65)}` },
      'invalid_clickid',
    );
    assert.equal(result.event, 'registration');
  });

  test('unresolved macros are ok, flagged as unresolved', () => {
    for (const raw of [
      '{sub1}',
      '{click_id}',
      '{{sub1}}',
      '[subid]',
      '<cid>',
      '$sub1',
      '$\u007Bsub1}',
    ]) {
      const p = reg(`clickid=${encodeURIComponent(raw)}`);
      assert.equal(p.clickid, raw);
      assert.equal(p.unresolvedClickid, true, raw);
    }
    const raw = reg('clickid={sub1}');
    assert.equal(raw.clickid, '{sub1}');
    assert.equal(raw.unresolvedClickid, true);
    assert.equal(reg('clickid=%25sub1%25').unresolvedClickid, true);
  });

  test('a real clickid is not flagged', () => {
    for (const raw of ['AbC123xyz789', 'a-b_c', 'x{y}', '{a}b', 'sub1']) {
      assert.equal(reg(`clickid=${encodeURIComponent(raw)}`).unresolvedClickid, false, raw);
    }
  });
});

describe('looksLikeMacro', () => {
  test('macro shapes', () => {
    for (const v of [
      '{sub1}',
      '{{sub1}}',
      '[subid]',
      '<cid>',
      '%sub1%',
      '$sub1',
      '$\u007Bsub1}',
      '{}',
    ]) {
      assert.equal(looksLikeMacro(v), true, v);
    }
  });

  test('values', () => {
    for (const v of ['abc', '123', 'a{b}', '{a}b', '', '$', '1$', '100%']) {
      assert.equal(looksLikeMacro(v), false, v);
    }
  });
});

describe('parseInboundPostback: the event', () => {
  test('from the path, normalised', () => {
    assert.equal(ok({ pathEvent: 'registration', query: 'clickid=a' }).event, 'registration');
    assert.equal(
      ok({ pathEvent: 'first_deposit', query: 'clickid=a&amount=1' }).event,
      'first_deposit',
    );
    assert.equal(ok({ pathEvent: 'deposit', query: 'clickid=a&amount=1' }).event, 'deposit');
    assert.equal(ok({ pathEvent: 'sale', query: 'clickid=a&amount=1' }).event, 'first_deposit');
    assert.equal(ok({ pathEvent: 'Registration', query: 'clickid=a' }).event, 'registration');
    assert.equal(ok({ pathEvent: 'emailconf', query: 'clickid=a' }).event, 'email_confirmation');
  });

  test('tracker.event: Chatterfy names', () => {
    assert.equal(ok({ query: 'clickid=a&tracker.event=registration' }).event, 'registration');
    assert.equal(
      ok({ query: 'clickid=a&tracker.event=sale&tracker.cost=1' }).event,
      'first_deposit',
    );
    assert.equal(ok({ query: 'clickid=a&tracker.event=resale&tracker.cost=1' }).event, 'deposit');
    assert.equal(
      ok({ query: 'clickid=a&tracker.event=SALE&tracker.cost=1' }).event,
      'first_deposit',
    );
  });

  test('tracker.event: a custom name', () => {
    const p = ok({ query: 'clickid=a&tracker.event=emailconf' });
    assert.equal(p.event, 'email_confirmation');
    assert.equal(ok({ query: 'clickid=a&tracker.event=custom_step_2' }).event, 'custom_step_2');
    assert.equal(
      ok({ query: 'clickid=a&tracker.event=withdrawal&tracker.cost=-10' }).event,
      'withdrawal',
    );
  });

  test('other trackers: status, cnv_status, event', () => {
    assert.equal(ok({ query: 'subid=a&status=sale&payout=1' }).event, 'first_deposit');
    assert.equal(ok({ query: 'cnv_id=a&cnv_status=lead' }).event, 'registration');
    assert.equal(ok({ query: 'cid=a&event=reg' }).event, 'registration');
  });

  test('the path event wins over a parameter', () => {
    assert.equal(
      ok({ pathEvent: 'registration', query: 'clickid=a&tracker.event=sale' }).event,
      'registration',
    );
  });

  test('Binpartner-style flags when there is no path event', () => {
    assert.equal(ok({ query: 'click_id=a&reg=true' }).event, 'registration');
    assert.equal(ok({ query: 'click_id=a&ftd=true&amount=10' }).event, 'first_deposit');
    assert.equal(ok({ query: 'click_id=a&dep=true&amount=10' }).event, 'deposit');
    assert.equal(ok({ query: 'click_id=a&dep=1&amount=10' }).event, 'deposit');
    assert.equal(ok({ query: 'click_id=a&reg=YES' }).event, 'registration');
    assert.equal(ok({ query: 'click_id=a&conf=true' }).event, 'email_confirmation');
  });

  test('the most advanced flag wins', () => {
    assert.equal(ok({ query: 'click_id=a&reg=true&ftd=true&amount=5' }).event, 'first_deposit');
    assert.equal(ok({ query: 'click_id=a&reg=true&ftd=false' }).event, 'registration');
  });

  test('false flags, or none at all, are invalid_event', () => {
    const result = fails({ query: 'click_id=a&reg=false' }, 'invalid_event');
    assert.equal(result.clickid, 'a');
    assert.equal(result.event, null);
    fails({ query: 'click_id=a' }, 'invalid_event');
    fails({ query: 'click_id=a&reg=0' }, 'invalid_event');
  });

  test('an invalid event name', () => {
    fails({ query: 'clickid=a&tracker.event=first-deposit' }, 'invalid_event');
    fails({ query: `clickid=a&tracker.event=${'x'.repeat(33)}` }, 'invalid_event');
    fails({ pathEvent: 'bad name', query: 'clickid=a' }, 'invalid_event');
    fails({ query: 'clickid=a&tracker.event=' }, 'invalid_event');
  });

  test('two different events are ambiguous', () => {
    fails({ query: 'clickid=a&tracker.event=sale&event=resale&amount=1' }, 'ambiguous_parameter');
  });
});

describe('parseInboundPostback: the amount', () => {
  const dep = (query: string) => ok({ pathEvent: 'deposit', query: `clickid=a&${query}` });

  test('every alias', () => {
    for (const name of [
      'tracker.cost',
      'amount',
      'sum',
      'payout',
      'revenue',
      'sumdep',
      'deposit_amount',
    ]) {
      assert.equal(dep(`${name}=150.5`).micros, 150_500_000n, name);
    }
  });

  test('a comma as the decimal separator', () => {
    assert.equal(dep('amount=10,5').micros, 10_500_000n);
    assert.equal(dep('amount=10%2C5').micros, 10_500_000n);
  });

  test('zero is a valid deposit', () => {
    assert.equal(dep('amount=0').micros, 0n);
  });

  test('a money event without an amount is invalid_amount', () => {
    fails({ pathEvent: 'deposit', query: 'clickid=a' }, 'invalid_amount');
    fails({ pathEvent: 'first_deposit', query: 'clickid=a' }, 'invalid_amount');
    fails({ pathEvent: 'first_deposit', query: 'clickid=a&amount=' }, 'invalid_amount');
    const result = fails({ query: 'clickid=a&tracker.event=sale' }, 'invalid_amount');
    assert.equal(result.clickid, 'a');
    assert.equal(result.event, 'first_deposit');
  });

  test('other events need no amount', () => {
    assert.equal(reg('clickid=a').micros, null);
    assert.equal(ok({ pathEvent: 'commission', query: 'clickid=a' }).micros, null);
  });

  test('a negative deposit is invalid_amount', () => {
    fails({ pathEvent: 'deposit', query: 'clickid=a&amount=-10' }, 'invalid_amount');
    fails({ pathEvent: 'first_deposit', query: 'clickid=a&amount=-0.01' }, 'invalid_amount');
    fails({ query: 'clickid=a&tracker.event=resale&tracker.cost=-10' }, 'invalid_amount');
  });

  test('a negative amount on any built-in event is invalid_amount', () => {
    fails({ pathEvent: 'registration', query: 'clickid=a&amount=-25' }, 'invalid_amount');
    for (const query of [
      'clickid=a&tracker.event=reg&tracker.cost=-25',
      'clickid=a&event=signup&amount=-0,01',
      'click_id=a&reg=true&amount=-1',
    ]) {
      fails({ query }, 'invalid_amount');
    }
    fails({ query: 'clickid=a&tracker.event=sale&tracker.cost=-25' }, 'invalid_amount');
    fails(
      {
        pathEvent: 'registration',
        contentType: 'application/json',
        body: '{"clickid":"a","amount":-25}',
      },
      'invalid_amount',
    );
    assert.equal(reg('clickid=a&amount=25').micros, 25_000_000n);
    assert.equal(reg('clickid=a&amount=-0').micros, 0n);
  });

  test('a negative amount is allowed on a custom event (withdrawal)', () => {
    const p = ok({ query: 'clickid=a&tracker.event=withdrawal&tracker.cost=-10' });
    assert.equal(p.micros, -10_000_000n);
    assert.equal(
      ok({ pathEvent: 'chargeback', query: 'clickid=a&amount=-5,5' }).micros,
      -5_500_000n,
    );
  });

  test('not a number is invalid_amount', () => {
    for (const raw of [
      'abc',
      '1e3',
      'NaN',
      'Infinity',
      '1.1234567',
      '1%20000',
      '0x10',
      '{amount}',
    ]) {
      fails({ pathEvent: 'deposit', query: `clickid=a&amount=${raw}` }, 'invalid_amount');
    }
    fails({ pathEvent: 'registration', query: 'clickid=a&amount=abc' }, 'invalid_amount');
  });

  test('two different amounts are ambiguous', () => {
    fails({ pathEvent: 'deposit', query: 'clickid=a&amount=1&amount=2' }, 'ambiguous_parameter');
    fails(
      { pathEvent: 'deposit', query: 'clickid=a&amount=1&tracker.cost=2' },
      'ambiguous_parameter',
    );
    assert.equal(dep('amount=1&amount=1').micros, 1_000_000n);
    assert.equal(dep('amount=1&sum=1').micros, 1_000_000n);
  });
});

describe('parseInboundPostback: the currency', () => {
  test('aliases, any case', () => {
    assert.equal(reg('clickid=a&tracker.currency=usd').currency, 'USD');
    assert.equal(reg('clickid=a&currency=eur').currency, 'EUR');
    assert.equal(reg('clickid=a&currency=USDT').currency, 'USDT');
    assert.equal(reg('clickid=a&cnv_currency=rub').currency, 'RUB');
  });

  test('absent or empty: the configuration default', () => {
    assert.equal(reg('clickid=a', { currency: 'EUR' }).currency, 'EUR');
    assert.equal(reg('clickid=a&currency=', { currency: 'EUR' }).currency, 'EUR');
    assert.equal(reg('clickid=a&tracker.currency=', { currency: 'BRL' }).currency, 'BRL');
  });

  test('not a currency is invalid_currency', () => {
    fails({ pathEvent: 'registration', query: 'clickid=a&currency=dollars' }, 'invalid_currency');
    fails({ pathEvent: 'registration', query: 'clickid=a&currency=US' }, 'invalid_currency');
  });

  test('two different currencies are ambiguous; the same in two cases is too', () => {
    fails(
      { pathEvent: 'registration', query: 'clickid=a&currency=usd&tracker.currency=eur' },
      'ambiguous_parameter',
    );
    assert.equal(reg('clickid=a&currency=usd&tracker.currency=usd').currency, 'USD');
  });
});

describe('parseInboundPostback: the transaction id', () => {
  const dep = (query: string) => ok({ pathEvent: 'deposit', query: `clickid=a&amount=1&${query}` });

  test('every alias', () => {
    for (const name of [
      'tracker.tid',
      'tid',
      'transaction_id',
      'event_id',
      'txid',
      'transaction',
    ]) {
      assert.equal(dep(`${name}=T-1`).tid, 'T-1', name);
    }
  });

  test('absent or empty is null', () => {
    assert.equal(dep('x=1').tid, null);
    assert.equal(dep('tid=').tid, null);
  });

  test('an unresolved macro is dropped with a warning', () => {
    const p = dep('tid=%7Bevent_id%7D');
    assert.equal(p.tid, null);
    assert.equal(p.warnings.length, 1);
    assert.match(p.warnings[0] ?? '', /\{event_id\}/);
    assert.equal(dep('tracker.tid={tid}').tid, null);
    assert.deepEqual(dep('tid=T1').warnings, []);
  });

  test('up to 128 characters; longer is invalid_tid', () => {
    assert.equal(LIMITS.tid, 128);
    assert.equal(dep(`tid=${'t'.repeat(128)}`).tid, 't'.repeat(128));
    const result = fails(
      { pathEvent: 'deposit', query: `clickid=a&amount=1&tid=${'t'.repeat(129)}` },
      'invalid_tid',
    );
    assert.equal(result.clickid, 'a');
  });

  test('two different tids are ambiguous', () => {
    fails(
      { pathEvent: 'deposit', query: 'clickid=a&amount=1&tid=1&txid=2' },
      'ambiguous_parameter',
    );
  });
});

describe('parseInboundPostback: custom fields', () => {
  test('fields.<key>', () => {
    assert.deepEqual(reg('clickid=a&fields.user_id=42&fields.last_dep=10.5').fields, {
      user_id: '42',
      last_dep: '10.5',
    });
  });

  test('decoded values', () => {
    assert.deepEqual(reg('clickid=a&fields.name=J%C3%B6rg+M&fields.x=a%26b').fields, {
      name: 'Jörg M',
      x: 'a&b',
    });
  });

  test('trader_id, user_id and player_id are captured as fields', () => {
    assert.deepEqual(reg('clickid=a&trader_id=777').fields, { trader_id: '777' });
    assert.deepEqual(reg('clickid=a&user_id=1&player_id=2').fields, {
      user_id: '1',
      player_id: '2',
    });
  });

  test('an explicit fields.trader_id wins over the bare one', () => {
    assert.deepEqual(reg('clickid=a&fields.trader_id=1&trader_id=2').fields, { trader_id: '1' });
  });

  test('unresolved macros and empty values are not written', () => {
    assert.deepEqual(
      reg('clickid=a&fields.user_id={user_id}&trader_id=[tid]&fields.e=').fields,
      {},
    );
  });

  test('two different values for one field are ambiguous', () => {
    fails(
      { pathEvent: 'registration', query: 'clickid=a&fields.x=1&fields.x=2' },
      'ambiguous_parameter',
    );
  });

  test('a value up to 1024 characters; longer is invalid_field', () => {
    assert.equal(LIMITS.fieldValue, 1024);
    assert.equal(reg(`clickid=a&fields.x=${'v'.repeat(1024)}`).fields.x, 'v'.repeat(1024));
    fails(
      { pathEvent: 'registration', query: `clickid=a&fields.x=${'v'.repeat(1025)}` },
      'invalid_field',
    );
    fails(
      { pathEvent: 'registration', query: `clickid=a&trader_id=${'v'.repeat(1025)}` },
      'invalid_field',
    );
  });

  test('a bad or over-long field name is invalid_field', () => {
    fails({ pathEvent: 'registration', query: 'clickid=a&fields.a%20b=1' }, 'invalid_field');
    fails({ pathEvent: 'registration', query: 'clickid=a&fields.=1' }, 'invalid_field');
    assert.equal(reg(`clickid=a&fields.${'k'.repeat(64)}=1`).fields['k'.repeat(64)], '1');
    fails(
      { pathEvent: 'registration', query: `clickid=a&fields.${'k'.repeat(65)}=1` },
      'invalid_field',
    );
  });

  test('at most 50 fields', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `fields.f${i}=${i}`).join('&');
    assert.equal(Object.keys(reg(`clickid=a&${many(50)}`).fields).length, 50);
    fails({ pathEvent: 'registration', query: `clickid=a&${many(51)}` }, 'invalid_field');
  });

  test('prototype-named fields do not pollute Object.prototype', () => {
    const p = reg('clickid=a&fields.__proto__=x&fields.constructor=y&fields.polluted=z');
    assert.equal(Object.getPrototypeOf(p.fields), Object.prototype);
    assert.equal(Object.hasOwn(p.fields, 'constructor'), true);
    assert.equal(p.fields.constructor, 'y');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const json = ok({
      pathEvent: 'registration',
      contentType: 'application/json',
      body: '{"clickid":"a","__proto__":{"polluted":"1"},"fields":{"__proto__":{"x":"1"}}}',
    });
    assert.equal(json.clickid, 'a');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});

describe('parseInboundPostback: bodies', () => {
  test('a JSON body, nested objects flattened with dots', () => {
    const p = ok({
      contentType: 'application/json',
      body: JSON.stringify({
        clickid: 'abc',
        tracker: { event: 'sale', cost: '100', currency: 'eur', tid: 'T1' },
        fields: { user_id: '42' },
      }),
    });
    assert.equal(p.event, 'first_deposit');
    assert.equal(p.clickid, 'abc');
    assert.equal(p.micros, 100_000_000n);
    assert.equal(p.currency, 'EUR');
    assert.equal(p.tid, 'T1');
    assert.deepEqual(p.fields, { user_id: '42' });
  });

  test('JSON numbers and booleans', () => {
    const p = ok({
      contentType: 'application/json; charset=utf-8',
      body: '{"click_id":"abc","ftd":true,"amount":10.5,"trader_id":777}',
    });
    assert.equal(p.event, 'first_deposit');
    assert.equal(p.micros, 10_500_000n);
    assert.deepEqual(p.fields, { trader_id: '777' });
  });

  test('JSON numbers reach the parameters as the text sent, never as doubles', () => {
    const p = ok({
      pathEvent: 'deposit',
      contentType: 'application/json',
      body: '{"clickid":"a","amount":12345678901.123456,"tid":9007199254740993,"fields":{"x":1.50}}',
    });
    assert.equal(p.micros, 12_345_678_901_123_456n);
    assert.equal(p.tid, '9007199254740993');
    assert.deepEqual(p.fields, { x: '1.50' });
    // Digits, minus signs and exponents inside strings and keys are left alone.
    const q = ok({
      pathEvent: 'deposit',
      contentType: 'application/json',
      body: String.raw`{ "clickid" : "-1e5\"2\\" , "amount" : -0 , "fields" : { "1e2" : 0.000001 } }`,
    });
    assert.equal(q.clickid, '-1e5"2\\');
    assert.equal(q.micros, 0n);
    assert.deepEqual(q.fields, { '1e2': '0.000001' });
  });

  test('a JSON number in exponent form is written out exactly, as serializers of doubles send it', () => {
    const amount = (literal: string) =>
      ok({
        pathEvent: 'deposit',
        contentType: 'application/json',
        body: `{"clickid":"a","amount":${literal},"tid":${literal}}`,
      });
    const cases: Array<[string, bigint, string]> = [
      ['1.0E7', 10_000_000_000_000n, '10000000'],
      ['1e3', 1_000_000_000n, '1000'],
      ['1.5e2', 150_000_000n, '150'],
      ['1e-05', 10n, '0.00001'],
      ['1.0e-5', 10n, '0.00001'],
      ['12.5E-1', 1_250_000n, '1.25'],
      ['0e0', 0n, '0'],
      ['1.23456789E8', 123_456_789_000_000n, '123456789'],
    ];
    for (const [literal, micros, tid] of cases) {
      const p = amount(literal);
      assert.equal(p.micros, micros, literal);
      assert.equal(p.tid, tid, literal);
    }
    // Past six decimals, or an exponent far past any amount: refused, as in a query.
    for (const literal of ['1e-7', '1e400']) {
      fails(
        {
          pathEvent: 'deposit',
          contentType: 'application/json',
          body: `{"clickid":"a","amount":${literal}}`,
        },
        'invalid_amount',
      );
    }
  });

  test('plainDecimal writes any exponent literal as the same number, without an exponent', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.stringMatching(/^(0|[1-9][0-9]{0,12})$/),
        fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }),
        fc.constantFrom('e', 'E'),
        fc.constantFrom('', '+', '-'),
        fc.integer({ min: 0, max: 40 }),
        (negative, whole, fraction, e, sign, exponent) => {
          const literal = `${negative ? '-' : ''}${whole}${fraction === undefined ? '' : `.${fraction}`}${e}${sign}${exponent}`;
          const plain = plainDecimal(literal);
          assert.match(plain, /^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/, `${literal} → ${plain}`);
          assert.equal(Number(plain), Number(literal) === 0 ? 0 : Number(literal), literal);
        },
      ),
      { seed: 20_261_207, numRuns: 5_000 },
    );
  });

  test('JSON nulls are absent', () => {
    const p = ok({
      pathEvent: 'registration',
      contentType: 'application/json',
      body: '{"clickid":"a","tid":null}',
    });
    assert.equal(p.tid, null);
  });

  test('a JSON array of values: equal is fine, different is ambiguous', () => {
    assert.equal(
      ok({
        pathEvent: 'registration',
        contentType: 'application/json',
        body: '{"clickid":["a","a"]}',
      }).clickid,
      'a',
    );
    fails(
      { pathEvent: 'registration', contentType: 'application/json', body: '{"clickid":["a","b"]}' },
      'ambiguous_parameter',
    );
  });

  test('bad JSON is invalid_body', () => {
    for (const body of ['{', '{"clickid":', 'clickid=a', "{'clickid':'a'}"]) {
      fails({ pathEvent: 'registration', contentType: 'application/json', body }, 'invalid_body');
    }
  });

  test('JSON that is not an object is invalid_body', () => {
    for (const body of ['[{"clickid":"a"}]', '[]', '"a"', '5', 'null', 'true']) {
      fails({ pathEvent: 'registration', contentType: 'application/json', body }, 'invalid_body');
    }
  });

  test('JSON nested too deeply, or holding an object in an array, is invalid_body', () => {
    fails(
      {
        pathEvent: 'registration',
        contentType: 'application/json',
        body: '{"a":{"b":{"c":{"d":{"e":{"f":1}}}}},"clickid":"x"}',
      },
      'invalid_body',
    );
    fails(
      {
        pathEvent: 'registration',
        contentType: 'application/json',
        body: '{"clickid":"x","a":[{"b":1}]}',
      },
      'invalid_body',
    );
  });

  test('a form body', () => {
    const p = ok({
      contentType: 'application/x-www-form-urlencoded',
      body: 'clickid=abc&tracker.event=resale&amount=25%2C5&fields.note=a+b',
    });
    assert.equal(p.event, 'deposit');
    assert.equal(p.micros, 25_500_000n);
    assert.deepEqual(p.fields, { note: 'a b' });
  });

  test('a body without a content type is read as a form', () => {
    assert.equal(ok({ pathEvent: 'registration', body: 'clickid=abc' }).clickid, 'abc');
  });

  test('query and body are merged', () => {
    const p = ok({
      pathEvent: 'deposit',
      query: 'clickid=abc&tid=T1',
      contentType: 'application/x-www-form-urlencoded',
      body: 'amount=5',
    });
    assert.deepEqual([p.clickid, p.micros, p.tid], ['abc', 5_000_000n, 'T1']);
    const json = ok({
      query: 'clickid=abc',
      contentType: 'application/json',
      body: '{"tracker":{"event":"registration"}}',
    });
    assert.equal(json.event, 'registration');
  });

  test('query and body disagreeing is ambiguous', () => {
    fails(
      {
        pathEvent: 'registration',
        query: 'clickid=a',
        contentType: 'application/x-www-form-urlencoded',
        body: 'clickid=b',
      },
      'ambiguous_parameter',
    );
    fails(
      {
        pathEvent: 'registration',
        query: 'clickid=a',
        contentType: 'application/json',
        body: '{"clickid":"b"}',
      },
      'ambiguous_parameter',
    );
  });

  test('an empty body with a JSON content type is fine', () => {
    assert.equal(
      ok({ pathEvent: 'registration', query: 'clickid=a', contentType: 'application/json' })
        .clickid,
      'a',
    );
  });
});

describe('parseInboundPostback: encoding', () => {
  test('malformed percent-encoding is invalid_encoding', () => {
    for (const bad of ['%ZZ', '%E0%A4%A', '%', '%2', 'a%G1']) {
      fails({ pathEvent: 'registration', query: `clickid=${bad}` }, 'invalid_encoding');
    }
  });

  test('invalid UTF-8 is invalid_encoding', () => {
    for (const bad of ['%C3%28', '%FF', '%C0%AF', '%ED%A0%80']) {
      fails({ pathEvent: 'registration', query: `clickid=a&fields.x=${bad}` }, 'invalid_encoding');
    }
  });

  test('in a parameter name too, and in a form body', () => {
    fails({ pathEvent: 'registration', query: 'clickid=a&%FF=1' }, 'invalid_encoding');
    fails(
      {
        pathEvent: 'registration',
        query: 'clickid=a',
        contentType: 'application/x-www-form-urlencoded',
        body: 'x=%ZZ',
      },
      'invalid_encoding',
    );
  });

  test('valid UTF-8 decodes', () => {
    assert.equal(reg('clickid=%D1%91%F0%9F%99%82').clickid, 'ё🙂');
  });

  test('empty pairs are skipped', () => {
    assert.equal(reg('&&clickid=a&&').clickid, 'a');
  });

  test('a pair splits at its first =; a name alone has an empty value', () => {
    const p = reg('clickid=a&fields.x&fields.y=1=2&fields.z&fields.w=%3D+b');
    assert.deepEqual(p.fields, { y: '1=2', w: '= b' });
  });

  test('pairs read as URLSearchParams reads well-formed ones', () => {
    const names = ['fields.a', 'fields.b', 'fields.c'];
    const text = fc
      .array(fc.constantFrom('x', 'y', '=', '%41', '%3D', '%26', '+', ' '), { maxLength: 4 })
      .map((parts) => parts.join(''));
    const pair = fc.oneof(
      fc.tuple(fc.constantFrom(...names), text).map(([name, value]) => `${name}=${value}`),
      fc.constantFrom(...names),
      fc.constant(''),
    );
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 8 }), (pairs) => {
        const query = ['clickid=c', ...pairs].join('&');
        const expected: Record<string, string> = {};
        let ambiguous = false;
        const search = new URLSearchParams(query);
        for (const name of names) {
          const values = new Set(
            search
              .getAll(name)
              .map((v) => v.trim())
              .filter(Boolean),
          );
          if (values.size > 1) ambiguous = true;
          const [value] = values;
          if (value !== undefined) expected[name.slice('fields.'.length)] = value;
        }
        const result = parse({ pathEvent: 'registration', query });
        if (ambiguous) {
          assert.equal(result.ok ? 'ok' : result.code, 'ambiguous_parameter', query);
        } else {
          assert.ok(result.ok, query);
          assert.deepEqual(result.postback.fields, expected, query);
        }
      }),
      { seed: SEED, numRuns: 2_000 },
    );
  });
});

describe('parseInboundPostback: a query the HTTP framework already split', () => {
  test('reads the same as the raw query, whatever it holds', async () => {
    // Fastify's own split (request.query), as the inbound route passes it.
    const app = Fastify();
    app.get('/q', async (request) => request.query);
    const splitBy = async (query: string) =>
      (await app.inject({ method: 'GET', url: `/q?${query}` })).json() as Record<
        string,
        string | string[]
      >;
    const piece = fc.constantFrom(
      'clickid=',
      'sub1=',
      'amount=',
      'tid=',
      'currency=',
      'fields.a=',
      'fields.b=',
      'trader_id=',
      'event=',
      'c1',
      'c2',
      '12.5',
      'usd',
      'deposit',
      '=',
      '&',
      '+',
      ' ',
      '%41',
      '%2B',
      '%',
      '%E0%A4%A',
      '{sub1}',
      '.',
      'x',
    );
    const queries = fc.array(piece, { maxLength: 14 }).map((parts) => parts.join(''));
    await fc.assert(
      fc.asyncProperty(queries, fc.boolean(), async (query, inPath) => {
        const req = { pathEvent: inPath ? 'deposit' : null, query };
        const raw = parse(req);
        const split = parse({ ...req, splitQuery: await splitBy(query) });
        assert.deepEqual(split, raw, query);
      }),
      { seed: SEED, numRuns: 2_000 },
    );
    await app.close();
  });

  test('a body adds to the split lists without changing them', () => {
    const splitQuery = Object.freeze({ clickid: Object.freeze(['a']) as unknown as string[] });
    const p = ok({
      pathEvent: 'registration',
      query: 'clickid=a',
      splitQuery,
      contentType: 'application/x-www-form-urlencoded',
      body: 'clickid=a&fields.k=v',
    });
    assert.equal(p.clickid, 'a');
    assert.deepEqual(p.fields, { k: 'v' });
  });
});

describe('parseInboundPostback: whole postbacks', () => {
  test("Chatterfy's format, as pasted", () => {
    const p = ok({
      query:
        'clickid=AbC123xyz789&tracker.event=sale&tracker.cost=150.5&tracker.currency=usd&tracker.tid=ev1&fields.user_id=u9',
    });
    assert.deepEqual(p, {
      event: 'first_deposit',
      clickid: 'AbC123xyz789',
      unresolvedClickid: false,
      micros: 150_500_000n,
      currency: 'USD',
      tid: 'ev1',
      fields: { user_id: 'u9' },
      warnings: [],
    });
  });

  test("a network's test button: every macro unresolved on a registration", () => {
    const p = ok({
      pathEvent: 'registration',
      query: 'clickid={sub1}&tid={event_id}&fields.user_id={user_id}',
    });
    assert.equal(p.unresolvedClickid, true);
    assert.equal(p.tid, null);
    assert.deepEqual(p.fields, {});
  });

  test("a network's test button on a deposit: unfilled {amount} is not an invalid amount", () => {
    const p = ok({
      pathEvent: 'deposit',
      query: 'clickid={sub1}&amount={amount}&tid={event_id}',
    });
    assert.equal(p.unresolvedClickid, true);
    assert.equal(p.micros, null);
  });

  test('Keitaro, Binom and Voluum styles', () => {
    const keitaro = ok({ query: 'subid=k1&status=sale&payout=12.5&tid=t1' });
    assert.deepEqual(
      [keitaro.clickid, keitaro.event, keitaro.micros, keitaro.tid],
      ['k1', 'first_deposit', 12_500_000n, 't1'],
    );
    const binom = ok({ query: 'cnv_id=b1&cnv_status=deposit&payout=3&cnv_currency=eur' });
    assert.deepEqual(
      [binom.clickid, binom.event, binom.micros, binom.currency],
      ['b1', 'deposit', 3_000_000n, 'EUR'],
    );
    const voluum = ok({ pathEvent: 'deposit', query: 'cid=v1&payout=7&txid=x1' });
    assert.deepEqual([voluum.clickid, voluum.micros, voluum.tid], ['v1', 7_000_000n, 'x1']);
  });
});
