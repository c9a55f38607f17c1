import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asLocation,
  CLICKID_MACRO,
  type MacroContext,
  renderTemplate,
} from '../../src/domain/macros.js';

const ctx: MacroContext = {
  clickid: 'AbC123xyz789',
  params: { utm_campaign: 'spring sale', fbclid: 'IwAR0x', sub1: 'a&b=c' },
  fields: { x: 'hello', user_id: '42', lang: 'ру#1' },
};

function render(template: string, context: MacroContext = ctx) {
  return renderTemplate(template, context);
}

describe('renderTemplate', () => {
  test('the clickid macro', () => {
    assert.equal(CLICKID_MACRO, '{{tracker.clickid}}');
    assert.deepEqual(render('https://t.me/my_bot?start={{tracker.clickid}}'), {
      url: 'https://t.me/my_bot?start=AbC123xyz789',
      unknownMacros: [],
    });
  });

  test('the chat.tracker.clickid alias', () => {
    assert.equal(render('x={{chat.tracker.clickid}}').url, 'x=AbC123xyz789');
  });

  test('spaces inside the braces', () => {
    assert.equal(render('x={{ tracker.clickid }}').url, 'x=AbC123xyz789');
    assert.equal(render('x={{  fields.x\t}}').url, 'x=hello');
  });

  test('click parameters', () => {
    assert.equal(render('c={{tracker.utm_campaign}}').url, 'c=spring%20sale');
    assert.equal(render('f={{tracker.fbclid}}').url, 'f=IwAR0x');
  });

  test('the clickid wins over a click parameter named clickid', () => {
    const withParam = { ...ctx, params: { clickid: 'other' } };
    assert.equal(render('{{tracker.clickid}}', withParam).url, 'AbC123xyz789');
  });

  test('lead fields', () => {
    assert.equal(render('u={{fields.user_id}}&x={{fields.x}}').url, 'u=42&x=hello');
  });

  test('several macros, repeated ones too', () => {
    assert.equal(
      render('{{tracker.clickid}}/{{fields.x}}/{{tracker.clickid}}').url,
      'AbC123xyz789/hello/AbC123xyz789',
    );
  });

  test('values are URL-encoded', () => {
    const values: Record<string, string> = {
      space: 'a b',
      amp: 'a&b',
      eq: 'a=b',
      hash: 'a#b',
      unicode: 'ёж',
      emoji: '🙂',
      slash: 'a/b?c',
      plus: 'a+b',
      percent: '100%',
    };
    const expected: Record<string, string> = {
      space: 'a%20b',
      amp: 'a%26b',
      eq: 'a%3Db',
      hash: 'a%23b',
      unicode: '%D1%91%D0%B6',
      emoji: '%F0%9F%99%82',
      slash: 'a%2Fb%3Fc',
      plus: 'a%2Bb',
      percent: '100%25',
    };
    const context = { clickid: 'c', params: values, fields: {} };
    for (const key of Object.keys(values)) {
      assert.equal(render(`{{tracker.${key}}}`, context).url, expected[key], key);
    }
    assert.equal(render('{{tracker.sub1}}').url, 'a%26b%3Dc');
    assert.equal(render('{{fields.lang}}').url, '%D1%80%D1%83%231');
  });

  test('an encoded value reads back as the original through URLSearchParams', () => {
    const context = { clickid: 'c', params: { v: 'a b&c=d#e+f/ё' }, fields: {} };
    const url = new URL(render('https://x.test/p?v={{tracker.v}}&w=1', context).url);
    assert.equal(url.searchParams.get('v'), 'a b&c=d#e+f/ё');
    assert.equal(url.searchParams.get('w'), '1');
    assert.equal(url.hash, '');
  });

  test('the clickid is encoded too', () => {
    assert.equal(render('{{tracker.clickid}}', { ...ctx, clickid: 'a b' }).url, 'a%20b');
  });

  test('unknown macros render empty and are listed once, in order', () => {
    const result = render(
      'a={{tracker.nope}}&b={{fields.missing}}&c={{tracker.nope}}&d={{ tracker.nope }}&e={{other}}',
    );
    assert.equal(result.url, 'a=&b=&c=&d=&e=');
    assert.deepEqual(result.unknownMacros, ['tracker.nope', 'fields.missing', 'other']);
  });

  test('an empty value is known, not unknown', () => {
    const result = render('v={{tracker.empty}}', {
      clickid: 'c',
      params: { empty: '' },
      fields: {},
    });
    assert.deepEqual(result, { url: 'v=', unknownMacros: [] });
  });

  test('Object prototype keys are unknown, not leaked', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      for (const template of [`{{tracker.${key}}}`, `{{fields.${key}}}`, `{{${key}}}`]) {
        const result = render(template);
        assert.equal(result.url, '', template);
        assert.equal(result.unknownMacros.length, 1, template);
      }
    }
  });

  test('own keys named like prototype members are real values', () => {
    const params: Record<string, string> = Object.fromEntries([['constructor', 'own']]);
    const result = render('{{tracker.constructor}}', { clickid: 'c', params, fields: {} });
    assert.deepEqual(result, { url: 'own', unknownMacros: [] });
  });

  test('text that is not a macro is left alone', () => {
    for (const template of [
      'https://x.test/?a={sub1}',
      '{tracker.clickid}',
      '{{}}',
      '{{ }}',
      '{{bad name}}',
      'plain%20text&x=1#frag',
    ]) {
      assert.deepEqual(render(template), { url: template, unknownMacros: [] }, template);
    }
  });

  test('a template without macros is returned unchanged', () => {
    assert.deepEqual(render(''), { url: '', unknownMacros: [] });
  });

  test('a value with a lone UTF-16 surrogate does not throw', {}, () => {
    const context = { clickid: 'c', params: {}, fields: { x: 'a\ud800b' } };
    assert.doesNotThrow(() => render('v={{fields.x}}', context));
    assert.equal(render('v={{fields.x}}', context).url, 'v=a%EF%BF%BDb');
    const low = { clickid: 'c', params: {}, fields: { x: '\udc00\ud83d\ude00' } };
    assert.equal(render('{{fields.x}}', low).url, '%EF%BF%BD%F0%9F%98%80');
  });

  test('one template rendered again with other values: no value is kept from before', () => {
    const template = '{{tracker.clickid}}{{tracker.a}}-{{ tracker.a }}/{{fields.f}}';
    const first = render(template, { clickid: 'c1', params: { a: 'x y' }, fields: { f: '1' } });
    const second = render(template, { clickid: 'c2', params: {}, fields: { f: '&' } });
    assert.deepEqual(first, { url: 'c1x%20y-x%20y/1', unknownMacros: [] });
    assert.deepEqual(second, { url: 'c2-/%26', unknownMacros: ['tracker.a'] });
  });
});

describe('asLocation', () => {
  test('a URL of printable ASCII is kept as it is', () => {
    for (const url of ['https://t.me/bot?start=abc', 'https://T.ME', 'tg://resolve?domain=x%20y']) {
      assert.equal(asLocation(url), url);
    }
  });

  test('other characters are written as a browser would, so Node can send the header', () => {
    assert.equal(
      asLocation('https://t.me/бот?start=abc'),
      'https://t.me/%D0%B1%D0%BE%D1%82?start=abc',
    );
    assert.equal(
      asLocation('https://пример.рф/?utm=весна&x=%20'),
      'https://xn--e1afmkfd.xn--p1ai/?utm=%D0%B2%D0%B5%D1%81%D0%BD%D0%B0&x=%20',
    );
    assert.equal(asLocation('tg://resolve?domain=бот'), 'tg://resolve?domain=%D0%B1%D0%BE%D1%82');
    assert.equal(asLocation('https://t.me/a b'), 'https://t.me/a%20b');
    assert.equal(asLocation('not a url ё'), 'not%20a%20url%20%D1%91');
    assert.equal(asLocation('https://x.com/\ud800'), 'https://x.com/%EF%BF%BD');
  });
});
