import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderTemplate } from '../../src/domain/macros.js';
import { buildRegistrationLink } from '../../src/domain/registration-link.js';

const M = '{{tracker.clickid}}';

describe('buildRegistrationLink', () => {
  test('a link without a query gets one', () => {
    assert.equal(
      buildRegistrationLink('https://1wgbch.top/casino/play/aviator', 'sub1'),
      `https://1wgbch.top/casino/play/aviator?sub1=${M}`,
    );
    assert.equal(buildRegistrationLink('https://x.test', 'sub1'), `https://x.test?sub1=${M}`);
    assert.equal(buildRegistrationLink('https://x.test/', 'sub1'), `https://x.test/?sub1=${M}`);
  });

  test('the 1Win example from the product brief', () => {
    assert.equal(
      buildRegistrationLink('https://1wgbch.top/casino/play/aviator?open=register', 'sub1'),
      `https://1wgbch.top/casino/play/aviator?open=register&sub1=${M}`,
    );
  });

  test('a fragment stays after the query', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p#x', 'sub1'),
      `https://x.test/p?sub1=${M}#x`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?a=1#x', 'sub1'),
      `https://x.test/p?a=1&sub1=${M}#x`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?a=1#', 'sub1'),
      `https://x.test/p?a=1&sub1=${M}#`,
    );
  });

  test('a fragment holding ? and = is not mistaken for the query', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/app#/signup?ref=1&sub1=z', 'sub1'),
      `https://x.test/app?sub1=${M}#/signup?ref=1&sub1=z`,
    );
  });

  test('percent-encoding and + are kept byte for byte', () => {
    const base = 'https://x.test/a%20b/c?q=hello%20world&path=%2Fhome%2F&plus=a+b&u=%D1%91&raw=%7e';
    assert.equal(buildRegistrationLink(base, 'sub1'), `${base}&sub1=${M}`);
  });

  test('an existing parameter is replaced, not duplicated', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub1=abc', 'sub1'),
      `https://x.test/p?sub1=${M}`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?open=register&sub1=abc&lang=ru#top', 'sub1'),
      `https://x.test/p?open=register&sub1=${M}&lang=ru#top`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub1=&x=1', 'sub1'),
      `https://x.test/p?sub1=${M}&x=1`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub1&x=1', 'sub1'),
      `https://x.test/p?sub1=${M}&x=1`,
    );
    assert.equal(
      buildRegistrationLink(`https://x.test/p?sub1=${M}`, 'sub1'),
      `https://x.test/p?sub1=${M}`,
      'idempotent',
    );
  });

  test('an encoded spelling of the parameter name is recognised', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub%31=abc', 'sub1'),
      `https://x.test/p?sub1=${M}`,
    );
  });

  test('an existing parameter given twice leaves only ours', {}, () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub1=a&sub1=b', 'sub1'),
      `https://x.test/p?sub1=${M}`,
    );
  });

  test('similar names and values are not touched', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub10=a&xsub1=b&Sub1=c&v=sub1=d', 'sub1'),
      `https://x.test/p?sub10=a&xsub1=b&Sub1=c&v=sub1=d&sub1=${M}`,
    );
  });

  test('a trailing & is filled, not doubled', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p?open=register&', 'sub1'),
      `https://x.test/p?open=register&sub1=${M}`,
    );
  });

  test('a bare ? is filled', () => {
    assert.equal(buildRegistrationLink('https://x.test/p?', 'sub1'), `https://x.test/p?sub1=${M}`);
    assert.equal(
      buildRegistrationLink('https://x.test/p?#frag', 'sub1'),
      `https://x.test/p?sub1=${M}#frag`,
    );
  });

  test('other parameter names', () => {
    assert.equal(
      buildRegistrationLink('https://binomo.test/promo?a=1', 'click_id'),
      `https://binomo.test/promo?a=1&click_id=${M}`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?sub4=old', 'sub4'),
      `https://x.test/p?sub4=${M}`,
    );
  });

  test('a parameter name that needs encoding is encoded', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p', 'my id'),
      `https://x.test/p?my%20id=${M}`,
    );
    assert.equal(
      buildRegistrationLink('https://x.test/p?my+id=old&x=1', 'my id'),
      `https://x.test/p?my%20id=${M}&x=1`,
    );
  });

  test('a malformed escape in the base link is kept and does not throw', () => {
    assert.equal(
      buildRegistrationLink('https://x.test/p?a=%ZZ&%E0%A4%A=1', 'sub1'),
      `https://x.test/p?a=%ZZ&%E0%A4%A=1&sub1=${M}`,
    );
  });

  test('rendered, the link carries the clickid and keeps every other parameter', () => {
    const built = buildRegistrationLink(
      'https://1wgbch.top/casino/play/aviator?open=register&sub1=old&q=a%20b#reg',
      'sub1',
    );
    const { url, unknownMacros } = renderTemplate(built, {
      clickid: 'AbC123xyz789',
      params: {},
      fields: {},
    });
    assert.deepEqual(unknownMacros, []);
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get('sub1'), 'AbC123xyz789');
    assert.deepEqual(parsed.searchParams.getAll('sub1'), ['AbC123xyz789']);
    assert.equal(parsed.searchParams.get('open'), 'register');
    assert.equal(parsed.searchParams.get('q'), 'a b');
    assert.equal(parsed.hash, '#reg');
    assert.equal(parsed.pathname, '/casino/play/aviator');
  });
});
