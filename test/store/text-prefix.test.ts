import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { prefixEnd } from '../../src/store/text-prefix.js';

/** Code point order, as SQLite compares UTF-8 text (memcmp) and PostgreSQL's "C" does. */
const utf8Compare = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

test('prefixEnd: the last code point one higher; none past U+10FFFF', () => {
  assert.equal(prefixEnd('0Fq3'), '0Fq4');
  assert.equal(prefixEnd('abz'), 'ab{');
  assert.equal(prefixEnd('aZ'), 'a[');
  assert.equal(prefixEnd('a9'), 'a:');
  assert.equal(prefixEnd('я'), 'ѐ');
  assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
  assert.equal(prefixEnd('\u{D7FF}'), '\u{E000}');
  assert.equal(prefixEnd('\u{10FFFF}'), null);
  assert.equal(prefixEnd(''), null);
});

test('prefixEnd: a string starts with the prefix exactly when it is in [prefix, prefixEnd)', () => {
  // Short strings over a small alphabet, so prefixes and near misses are common.
  const text = fc.string({
    unit: fc.constantFrom(
      'a',
      'b',
      'z',
      '{',
      'Z',
      '0',
      '9',
      'я',
      '\u{10FFFF}',
      '\u{D7FF}',
      '\u{E000}',
    ),
    maxLength: 5,
  });
  fc.assert(
    fc.property(text, text, (prefix, s) => {
      const end = prefixEnd(prefix);
      const inRange = utf8Compare(s, prefix) >= 0 && (end === null || utf8Compare(s, end) < 0);
      assert.equal(inRange, s.startsWith(prefix), `${JSON.stringify(prefix)} ${JSON.stringify(s)}`);
    }),
    { numRuns: 5000, seed: 20_261_208 },
  );
});
