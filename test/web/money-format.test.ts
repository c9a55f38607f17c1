import assert from 'node:assert/strict';
import { test } from 'node:test';
import { moneyFormatter } from '../../web/src/money-format.js';

test('amounts show every decimal the store keeps, in any currency, without float rounding', () => {
  const en = moneyFormatter('en-US');
  assert.equal(en.money('1.5', 'USD'), '$1.50');
  assert.equal(en.money('0.123456', 'USD'), '$0.123456');
  assert.equal(en.money('123456789012.123456', 'usd'), '$123,456,789,012.123456');
  assert.equal(en.money('1000', 'JPY'), '¥1,000');
  // Codes Intl does not take as currencies keep every decimal too.
  assert.equal(en.money('0.123456', 'USDT'), '0.123456 USDT');
  assert.equal(en.money('999999999999.999999', 'USDC'), '999,999,999,999.999999 USDC');
  assert.equal(en.money(null, null), '$0.00');
  assert.equal(en.amountWithCode('150', 'USD'), '150.00 USD');
  assert.equal(en.amountWithCode('-0.000001', 'BTC'), '-0.000001 BTC');

  const ru = moneyFormatter('ru-RU');
  assert.equal(ru.money('0.123456', 'USDT').replace(/\s/g, ' '), '0,123456 USDT');
  assert.equal(ru.amountWithCode('9.99', 'EUR'), '9,99 EUR');
});
