import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatMicros,
  isCurrency,
  MONEY_SCALE,
  parseAmount,
  parseCurrency,
} from '../../src/domain/money.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_207);

/** The grammar as a regular expression: what the hand-written parser must agree with. */
function byPattern(raw: string): bigint | null {
  const match = /^([+-]?)(\d{1,12})(?:[.,](\d{1,6}))?$/.exec(raw.trim());
  if (!match) return null;
  const [, sign, whole = '0', fraction = ''] = match;
  const value = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
  return sign === '-' ? -value : value;
}

function micros(raw: string): bigint {
  const parsed = parseAmount(raw);
  assert.ok(parsed.ok, `expected "${raw}" to parse`);
  return parsed.micros;
}

function refused(raw: string): string {
  const parsed = parseAmount(raw);
  assert.equal(parsed.ok, false, `expected "${raw}" to be refused`);
  assert.ok(!parsed.ok);
  return parsed.reason;
}

describe('parseAmount', () => {
  test('agrees with the grammar on any mix of digits, signs, separators and spaces', () => {
    const piece = fc.constantFrom(
      ...'0123456789.,+- e\u0663\u00a0x'.split(''),
      '999999999999',
      '123456',
      '0000000',
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((parts) => parts.join('')),
        (raw) => {
          const parsed = parseAmount(raw);
          const expected = byPattern(raw);
          assert.deepEqual(parsed.ok ? parsed.micros : null, expected, JSON.stringify(raw));
        },
      ),
      { seed: SEED, numRuns: 20_000 },
    );
  });

  test('exact on both sides of where micro-units stop fitting a double', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 8_999_990_000n, max: 9_007_210_000n }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.boolean(),
        (whole, decimals, digits, negative) => {
          const fraction =
            decimals === 0 ? '' : `.${String(digits).padStart(6, '0').slice(0, decimals)}`;
          const raw = `${negative ? '-' : ''}${whole}${fraction}`;
          assert.equal(micros(raw), byPattern(raw), raw);
        },
      ),
      { seed: SEED, numRuns: 5_000 },
    );
    assert.equal(micros('8999999999.999999'), 8_999_999_999_999_999n);
    // 2^53 + 1 micro-units: no double holds it.
    assert.equal(micros('9007199254.740993'), 9_007_199_254_740_993n);
  });

  test('uses 6 decimals of scale', () => {
    assert.equal(MONEY_SCALE, 6);
  });

  test('whole numbers', () => {
    assert.equal(micros('100'), 100_000_000n);
    assert.equal(micros('0'), 0n);
    assert.equal(micros('007'), 7_000_000n);
  });

  test('a comma is a decimal separator', () => {
    assert.equal(micros('10,5'), 10_500_000n);
    assert.equal(micros('0,01'), 10_000n);
  });

  test('a dot is a decimal separator', () => {
    assert.equal(micros('150.5'), 150_500_000n);
    assert.equal(micros('0.1'), 100_000n);
  });

  test('up to 6 decimals, exactly', () => {
    assert.equal(micros('0.000001'), 1n);
    assert.equal(micros('1.123456'), 1_123_456n);
    assert.equal(micros('0.100000'), 100_000n);
  });

  test('signs', () => {
    assert.equal(micros('-10'), -10_000_000n);
    assert.equal(micros('+5'), 5_000_000n);
    assert.equal(micros('-0.5'), -500_000n);
    assert.equal(micros('-0'), 0n);
  });

  test('surrounding whitespace is ignored', () => {
    assert.equal(micros('  7 '), 7_000_000n);
    assert.equal(micros('\t12.5\n'), 12_500_000n);
  });

  test('the largest amount (12 integer digits, 6 decimals) fits a signed 64-bit integer', () => {
    const max = micros('999999999999.999999');
    assert.equal(max, 999_999_999_999_999_999n);
    assert.ok(max < 2n ** 63n);
    assert.ok(micros('-999999999999.999999') > -(2n ** 63n));
  });

  test('not a decimal number', () => {
    for (const raw of [
      'abc',
      '1e999',
      '1e3',
      'NaN',
      'Infinity',
      '-Infinity',
      '',
      '   ',
      '1 000',
      '1,000.50',
      '0x10',
      '1.2.3',
      '1,2,3',
      '--5',
      '+-5',
      '5-',
      '$5',
      '5 USD',
      '\u22125',
      '\u0661\u0662',
    ]) {
      refused(raw);
    }
  });

  test('more than 6 decimals is refused and says so', () => {
    const reason = refused('1.1234567');
    assert.match(reason, /more than 6 decimals/);
    assert.match(refused('0,0000001'), /more than 6 decimals/);
  });

  test('more than 12 integer digits is refused', () => {
    refused('999999999999999');
    refused('1000000000000');
    assert.equal(micros('100000000000'), 100_000_000_000_000_000n);
  });

  test('the reason quotes the input, clipped when long', () => {
    assert.match(refused('abc'), /"abc"/);
    const reason = refused('x'.repeat(500));
    assert.ok(reason.length < 200, reason);
  });
});

describe('formatMicros', () => {
  test('shortest exact decimal', () => {
    assert.equal(formatMicros(150_500_000n), '150.5');
    assert.equal(formatMicros(100_000_000n), '100');
    assert.equal(formatMicros(1n), '0.000001');
    assert.equal(formatMicros(1_123_456n), '1.123456');
    assert.equal(formatMicros(10_000n), '0.01');
  });

  test('zero', () => {
    assert.equal(formatMicros(0n), '0');
    assert.equal(formatMicros(-0n), '0');
    assert.equal(formatMicros(0), '0');
  });

  test('negatives', () => {
    assert.equal(formatMicros(-10_000_000n), '-10');
    assert.equal(formatMicros(-500_000n), '-0.5');
    assert.equal(formatMicros(-1n), '-0.000001');
    assert.equal(formatMicros(-150_500_000n), '-150.5');
  });

  test('accepts a safe-integer number of micros', () => {
    assert.equal(formatMicros(2_500_000), '2.5');
    assert.equal(formatMicros(-2_500_000), '-2.5');
  });

  test('0.1 + 0.2 is exactly 0.3 in micros', () => {
    assert.equal(formatMicros(micros('0.1') + micros('0.2')), '0.3');
  });

  test('ten times 0.1 is exactly 1', () => {
    let sum = 0n;
    for (let i = 0; i < 10; i++) sum += micros('0.1');
    assert.equal(formatMicros(sum), '1');
  });

  test('a deposit minus a withdrawal', () => {
    assert.equal(formatMicros(micros('100.10') + micros('-0.30')), '99.8');
    assert.equal(formatMicros(micros('1') - micros('1.000001')), '-0.000001');
  });

  test('the largest amount formats exactly', () => {
    assert.equal(formatMicros(999_999_999_999_999_999n), '999999999999.999999');
  });

  test('parse then format round-trips to the canonical form', () => {
    const cases: Array<[string, string]> = [
      ['100', '100'],
      ['10,5', '10.5'],
      ['0.000001', '0.000001'],
      ['-10', '-10'],
      ['+5', '5'],
      ['  7 ', '7'],
      ['007.500', '7.5'],
      ['-0', '0'],
    ];
    for (const [raw, expected] of cases) assert.equal(formatMicros(micros(raw)), expected, raw);
  });
});

describe('parseCurrency', () => {
  test('ISO codes in any case, upper-cased', () => {
    assert.deepEqual(parseCurrency('usd'), { ok: true, code: 'USD' });
    assert.deepEqual(parseCurrency('USD'), { ok: true, code: 'USD' });
    assert.deepEqual(parseCurrency('Eur'), { ok: true, code: 'EUR' });
    assert.deepEqual(parseCurrency(' rub '), { ok: true, code: 'RUB' });
  });

  test('stablecoins and coins networks pay in', () => {
    for (const code of ['USDT', 'USDC', 'BTC', 'ETH', 'TRX', 'TON']) {
      assert.deepEqual(parseCurrency(code), { ok: true, code });
    }
    assert.deepEqual(parseCurrency('usdt'), { ok: true, code: 'USDT' });
  });

  test('refuses what is not a code', () => {
    for (const raw of ['dollars', 'US', '', '   ', 'U S D', 'USDX', '$', '840', 'USDOLLAR']) {
      const parsed = parseCurrency(raw);
      assert.equal(parsed.ok, false, `expected "${raw}" to be refused`);
      assert.ok(!parsed.ok);
      assert.match(parsed.reason, /ISO 4217/);
    }
  });

  test('isCurrency takes the canonical upper-case code only', () => {
    assert.equal(isCurrency('USD'), true);
    assert.equal(isCurrency('USDT'), true);
    assert.equal(isCurrency('usd'), false);
    assert.equal(isCurrency('dollars'), false);
    assert.equal(isCurrency(''), false);
  });
});
