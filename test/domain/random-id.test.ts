import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CLICKID_LENGTH,
  isClickidShape,
  newClickid,
  randomAlphanumeric,
} from '../../src/domain/random-id.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

describe('newClickid', () => {
  test('12 characters of [A-Za-z0-9]', () => {
    assert.equal(CLICKID_LENGTH, 12);
    for (let i = 0; i < 1000; i++) {
      const id = newClickid();
      assert.match(id, /^[A-Za-z0-9]{12}$/);
      assert.equal(isClickidShape(id), true);
    }
  });

  test('10,000 draws are distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(newClickid());
    assert.equal(seen.size, 10_000);
  });

  test('roughly uniform: every one of the 62 characters appears, none far off', () => {
    const counts = new Map<string, number>();
    let total = 0;
    for (let i = 0; i < 10_000; i++) {
      for (const ch of newClickid()) {
        counts.set(ch, (counts.get(ch) ?? 0) + 1);
        total++;
      }
    }
    assert.equal(counts.size, 62);
    for (const ch of ALPHABET) assert.ok(counts.has(ch), `missing ${ch}`);
    const expected = total / 62;
    let chiSquare = 0;
    for (const ch of ALPHABET) {
      const n = counts.get(ch) ?? 0;
      // ~1935 expected, sd ~44: ±25% is over 10 standard deviations.
      assert.ok(Math.abs(n - expected) < expected * 0.25, `${ch}: ${n} vs ${expected}`);
      chiSquare += (n - expected) ** 2 / expected;
    }
    // 61 degrees of freedom: mean 61, sd 11; 150 is beyond 8 sd.
    assert.ok(chiSquare < 150, `chi-square ${chiSquare}`);
  });

  test('every position varies', () => {
    const ids = Array.from({ length: 200 }, () => newClickid());
    for (let pos = 0; pos < CLICKID_LENGTH; pos++) {
      assert.ok(new Set(ids.map((id) => id[pos])).size > 20, `position ${pos}`);
    }
  });
});

describe('randomAlphanumeric', () => {
  test('any length', () => {
    assert.equal(randomAlphanumeric(0), '');
    assert.match(randomAlphanumeric(1), /^[A-Za-z0-9]$/);
    assert.match(randomAlphanumeric(100), /^[A-Za-z0-9]{100}$/);
    assert.equal(randomAlphanumeric(5000).length, 5000);
  });
});

describe('isClickidShape', () => {
  test('accepts 12 alphanumerics only', () => {
    assert.equal(isClickidShape('AbC123xyz789'), true);
    for (const bad of [
      '',
      'AbC123xyz78',
      'AbC123xyz7890',
      'AbC123xyz78-',
      'AbC123xyz78_',
      'AbC123xyz78 ',
      'ÀbC123xyz789',
      '{sub1}',
    ]) {
      assert.equal(isClickidShape(bad), false, bad);
    }
  });
});
