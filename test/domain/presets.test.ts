import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInboundPostback } from '../../src/domain/inbound-postback.js';
import {
  effectiveMacros,
  type LinkConfig,
  NETWORKS,
  type Network,
  PRESETS,
  postbackLinks,
} from '../../src/domain/presets.js';

const PUBLIC = 'https://track.example.com';
const TOKEN = 'tok_ABC123';
const BASE = `${PUBLIC}/api/postbacks/${TOKEN}`;

function links(network: Network, extra: Partial<LinkConfig> = {}, publicUrl = PUBLIC) {
  return postbackLinks(publicUrl, {
    network,
    token: TOKEN,
    clickidParam: PRESETS[network].clickidParam,
    macros: {},
    ...extra,
  });
}

function big(_key: string, value: unknown) {
  return typeof value === 'bigint' ? `${value}n` : value;
}

/** The query of a link as ordered [name, value] pairs, without decoding the macros. */
function pairs(link: string): Array<[string, string]> {
  const query = link.slice(link.indexOf('?') + 1);
  return query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
}

describe('presets', () => {
  test('the four networks', () => {
    assert.deepEqual([...NETWORKS], ['1win', 'binomo', 'pocket_option', 'custom']);
    for (const network of NETWORKS) assert.ok(PRESETS[network], network);
  });

  test('default clickid parameters', () => {
    assert.equal(PRESETS['1win'].clickidParam, 'sub1');
    assert.equal(PRESETS.binomo.clickidParam, 'click_id');
    assert.equal(PRESETS.pocket_option.clickidParam, 'click_id');
  });
});

describe('effectiveMacros', () => {
  test('the clickid macro follows the clickid parameter', () => {
    assert.equal(effectiveMacros('1win', 'sub1', {}).clickid, '{sub1}');
    assert.equal(effectiveMacros('1win', 'sub4', {}).clickid, '{sub4}');
  });

  test('user macros win over the preset', () => {
    const macros = effectiveMacros('custom', 'subid', {
      clickid: '{cid}',
      amount: '{revenue}',
      tid: '{txid}',
      currency: '{cur}',
    });
    assert.deepEqual(macros, {
      clickid: '{cid}',
      amount: '{revenue}',
      tid: '{txid}',
      currency: '{cur}',
    });
  });

  test('the preset fills what the user leaves out', () => {
    const macros = effectiveMacros('1win', 'sub1', {});
    assert.equal(macros.amount, '{amount}');
    assert.equal(macros.tid, '{event_id}');
  });
});

describe('postbackLinks: 1win', () => {
  test('default sub1', () => {
    const l = links('1win');
    assert.deepEqual(Object.keys(l), ['registration', 'firstDeposit', 'deposit']);
    assert.equal(l.registration, `${BASE}/registration?clickid={sub1}`);
    assert.equal(
      l.firstDeposit,
      `${BASE}/first_deposit?clickid={sub1}&amount={amount}&tid={event_id}`,
    );
    assert.equal(l.deposit, `${BASE}/deposit?clickid={sub1}&amount={amount}&tid={event_id}`);
  });

  test('amount and tid on money links only', () => {
    const l = links('1win');
    const reg = Object.fromEntries(pairs(l.registration as string));
    assert.equal(reg.amount, undefined);
    assert.equal(reg.tid, undefined);
    for (const key of ['firstDeposit', 'deposit']) {
      const p = Object.fromEntries(pairs(l[key] as string));
      assert.equal(p.clickid, '{sub1}', key);
      assert.equal(p.amount, '{amount}', key);
      assert.equal(p.tid, '{event_id}', key);
    }
  });

  test('clickidParam sub4', () => {
    const l = links('1win', { clickidParam: 'sub4' });
    for (const link of Object.values(l)) {
      assert.ok(link.includes('clickid={sub4}'), link);
      assert.ok(!link.includes('{sub1}'), link);
    }
  });

  test('a trailing slash (or several) in the public URL is handled', () => {
    for (const publicUrl of [`${PUBLIC}/`, `${PUBLIC}//`]) {
      const l = links('1win', {}, publicUrl);
      assert.equal(l.registration, `${BASE}/registration?clickid={sub1}`);
      assert.ok(!(l.deposit as string).includes('//api'));
    }
  });

  test('a public URL with a path prefix keeps it', () => {
    const l = links('1win', {}, 'https://example.com/tracker/');
    assert.equal(
      l.registration,
      `https://example.com/tracker/api/postbacks/${TOKEN}/registration?clickid={sub1}`,
    );
  });
});

describe('postbackLinks: binomo', () => {
  test('bare paths, one per event, no query at all', () => {
    const l = links('binomo');
    assert.deepEqual(l, {
      registration: `${BASE}/registration`,
      firstDeposit: `${BASE}/first_deposit`,
      deposit: `${BASE}/deposit`,
      emailConfirmation: `${BASE}/email_confirmation`,
    });
    for (const link of Object.values(l)) assert.ok(!link.includes('?'), link);
  });

  test('still bare with user macros and another clickid parameter', () => {
    const l = links('binomo', { clickidParam: 'sub2', macros: { amount: '{amount}', tid: '{t}' } });
    for (const link of Object.values(l)) assert.ok(!link.includes('?'), link);
  });
});

describe('postbackLinks: pocket_option', () => {
  test('its events, each with the trader id field', () => {
    const l = links('pocket_option');
    assert.deepEqual(Object.keys(l), [
      'registration',
      'firstDeposit',
      'deposit',
      'emailConfirmation',
      'withdrawal',
      'commission',
    ]);
    assert.ok(l.emailConfirmation?.startsWith(`${BASE}/email_confirmation?`));
    assert.ok(l.withdrawal?.startsWith(`${BASE}/withdrawal?`));
    assert.ok(l.commission?.startsWith(`${BASE}/commission?`));
    for (const link of Object.values(l)) {
      const p = Object.fromEntries(pairs(link));
      assert.equal(p.clickid, '{click_id}', link);
      assert.equal(p['fields.trader_id'], '{trader_id}', link);
    }
  });

  test('amounts on money links (withdrawal and commission too), not on the others', () => {
    const l = links('pocket_option');
    for (const key of ['firstDeposit', 'deposit', 'withdrawal', 'commission']) {
      assert.match(Object.fromEntries(pairs(l[key] as string)).amount ?? '', /^\{\w+\}$/, key);
    }
    for (const key of ['registration', 'emailConfirmation']) {
      assert.equal(Object.fromEntries(pairs(l[key] as string)).amount, undefined, key);
    }
  });
});

describe('postbackLinks: custom', () => {
  test('Keitaro-style user macros, with a currency macro', () => {
    const l = links('custom', {
      clickidParam: 'subid',
      macros: { clickid: '{subid}', amount: '{payout}', tid: '{tid}', currency: '{currency}' },
    });
    assert.deepEqual(Object.keys(l), ['registration', 'firstDeposit', 'deposit']);
    assert.equal(l.registration, `${BASE}/registration?clickid={subid}`);
    assert.equal(
      l.firstDeposit,
      `${BASE}/first_deposit?clickid={subid}&amount={payout}&currency={currency}&tid={tid}`,
    );
    assert.equal(
      l.deposit,
      `${BASE}/deposit?clickid={subid}&amount={payout}&currency={currency}&tid={tid}`,
    );
  });

  test('Voluum-style macros', () => {
    const l = links('custom', {
      clickidParam: 'cid',
      macros: { amount: '{payout}', tid: '{txid}' },
    });
    assert.equal(l.deposit, `${BASE}/deposit?clickid={cid}&amount={payout}&tid={txid}`);
  });

  test('preset defaults without user macros', () => {
    const l = links('custom');
    assert.equal(l.firstDeposit, `${BASE}/first_deposit?clickid={subid}&amount={payout}&tid={tid}`);
  });
});

describe('postbackLinks: every network', () => {
  const variants: Array<[Network, Partial<LinkConfig>]> = [
    ['1win', {}],
    ['1win', { clickidParam: 'sub4' }],
    ['binomo', {}],
    ['pocket_option', {}],
    ['custom', {}],
    ['custom', { macros: { clickid: '{subid}', currency: '{currency}' } }],
  ];

  test('ready to paste: absolute, under the public URL, no placeholder events', () => {
    for (const [network, extra] of variants) {
      for (const [key, link] of Object.entries(links(network, extra))) {
        const where = `${network} ${key}: ${link}`;
        assert.ok(link.startsWith(`${BASE}/`), where);
        const url = new URL(link);
        assert.equal(url.origin, PUBLIC, where);
        assert.doesNotMatch(link, /event=first_deposit_|tracker\.event=|_(&|$)/, where);
        assert.doesNotMatch(link, /\s/, where);
        const event = url.pathname.split('/').pop() as string;
        assert.match(event, /^[a-z0-9_]{1,32}$/, where);
      }
    }
  });

  test('query links parse back into the event they are for', () => {
    const values: Record<string, string> = {
      '{sub1}': 'AbC123xyz789',
      '{sub4}': 'AbC123xyz789',
      '{click_id}': 'AbC123xyz789',
      '{subid}': 'AbC123xyz789',
      '{amount}': '25,5',
      '{sumdep}': '25,5',
      '{payout}': '25,5',
      '{event_id}': 'e-1',
      '{tid}': 'e-1',
      '{trader_id}': '777',
      '{currency}': 'eur',
    };
    const expectedEvent: Record<string, string> = {
      registration: 'registration',
      firstDeposit: 'first_deposit',
      deposit: 'deposit',
      emailConfirmation: 'email_confirmation',
      withdrawal: 'withdrawal',
      commission: 'commission',
    };
    for (const [network, extra] of variants) {
      if (network === 'binomo') continue;
      const clickidParam = extra.clickidParam ?? PRESETS[network].clickidParam;
      for (const [key, link] of Object.entries(links(network, extra))) {
        let filled: string = link;
        for (const [macro, value] of Object.entries(values)) {
          filled = filled.replaceAll(macro, encodeURIComponent(value));
        }
        const where: string = `${network} ${key}: ${filled}`;
        assert.doesNotMatch(filled, /\{/, where);
        const url = new URL(filled);
        const result = parseInboundPostback(
          {
            pathEvent: url.pathname.split('/').pop() as string,
            query: url.search.slice(1),
            contentType: undefined,
            body: '',
          },
          { clickidParam, currency: 'USD' },
        );
        assert.ok(result.ok, `${where} → ${JSON.stringify(result, big)}`);
        const p = result.postback;
        assert.equal(p.event, expectedEvent[key], where);
        assert.equal(p.clickid, 'AbC123xyz789', where);
        assert.equal(p.unresolvedClickid, false, where);
        if (url.searchParams.has('amount')) assert.equal(p.micros, 25_500_000n, where);
        else assert.equal(p.micros, null, where);
        if (url.searchParams.has('tid')) assert.equal(p.tid, 'e-1', where);
        assert.equal(p.currency, url.searchParams.has('currency') ? 'EUR' : 'USD', where);
        if (network === 'pocket_option') assert.equal(p.fields.trader_id, '777', where);
      }
    }
  });

  test('binomo bare paths take the parameters Binpartner appends', () => {
    for (const [key, link] of Object.entries(links('binomo'))) {
      const url = new URL(link);
      const money = key === 'firstDeposit' || key === 'deposit';
      const result = parseInboundPostback(
        {
          pathEvent: url.pathname.split('/').pop() as string,
          query: `click_id=AbC123xyz789${money ? '&amount=10&transaction_id=t9' : ''}`,
          contentType: undefined,
          body: '',
        },
        { clickidParam: 'click_id', currency: 'USD' },
      );
      assert.ok(result.ok, `${key}: ${JSON.stringify(result, big)}`);
      assert.equal(result.postback.clickid, 'AbC123xyz789');
      if (money) assert.equal(result.postback.tid, 't9');
    }
  });
});
