import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CLICKID_LENGTH,
  CLICKID_RANDOM_CHARS,
  clickidTimePrefix,
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

  test('100,000 drawn in the same millisecond are distinct', () => {
    // 5 random characters (~30 bits): 100,000 free draws would repeat one
    // about 5 times over, so this fails if the process stops checking.
    const at = Date.UTC(2026, 10, 24, 12, 0, 0, 123);
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(newClickid(at));
    assert.equal(seen.size, 100_000);
    for (const id of seen) assert.ok(id.startsWith(clickidTimePrefix(at)));
  });

  test('they sort as text in the order they were made, so the index grows at its end', () => {
    const times = [
      Date.UTC(2020, 0, 1),
      Date.UTC(2020, 0, 1, 0, 0, 0, 61),
      Date.UTC(2020, 0, 1, 0, 0, 0, 62),
      Date.UTC(2026, 10, 24),
      Date.UTC(2026, 10, 24) + 1,
      Date.UTC(2026, 10, 24) + 3_600_000,
      Date.UTC(2099, 11, 31),
      Date.UTC(2130, 0, 1),
    ];
    const ids = times.map((at) => newClickid(at));
    // Byte order, as SQLite's BINARY and PostgreSQL's "C" collations compare.
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(sorted, ids);
    for (const id of ids) assert.equal(isClickidShape(id), true);
  });

  test('the random tail is uniform: every one of the 62 characters appears, none far off', () => {
    const counts = new Map<string, number>();
    let total = 0;
    for (let i = 0; i < 20_000; i++) {
      for (const ch of newClickid().slice(CLICKID_LENGTH - CLICKID_RANDOM_CHARS)) {
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
      // ~1613 expected, sd ~40: ±25% is over 10 standard deviations.
      assert.ok(Math.abs(n - expected) < expected * 0.25, `${ch}: ${n} vs ${expected}`);
      chiSquare += (n - expected) ** 2 / expected;
    }
    // 61 degrees of freedom: mean 61, sd 11; 150 is beyond 8 sd.
    assert.ok(chiSquare < 150, `chi-square ${chiSquare}`);
  });

  test('every random position varies', () => {
    const ids = Array.from({ length: 200 }, () => newClickid());
    for (let pos = CLICKID_LENGTH - CLICKID_RANDOM_CHARS; pos < CLICKID_LENGTH; pos++) {
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
