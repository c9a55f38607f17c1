// Exact money: amounts travel as decimal strings and are stored as integer
// micro-units (6 decimals), so no binary float ever touches a sum.

export const MONEY_SCALE = 6;
const MICROS = 1_000_000n;
/** 12 integer digits: below 10^18 micro-units, well inside a signed 64-bit integer. */
const AMOUNT_PATTERN = /^([+-]?)(\d{1,12})(?:[.,](\d{1,6}))?$/;

export type ParsedAmount = { ok: true; micros: bigint } | { ok: false; reason: string };

/**
 * Parses an amount the way networks send it: `.` or `,` as the decimal
 * separator, at most 6 decimals, no exponent, no thousands separators, no hex.
 */
export function parseAmount(raw: string): ParsedAmount {
  const text = raw.trim();
  const match = AMOUNT_PATTERN.exec(text);
  if (!match) {
    if (/[.,]\d{7,}$/.test(text)) {
      return { ok: false, reason: `amount "${clip(raw)}" has more than ${MONEY_SCALE} decimals` };
    }
    return { ok: false, reason: `amount "${clip(raw)}" is not a decimal number` };
  }
  const [, sign, whole = '0', fraction = ''] = match;
  const micros = BigInt(whole) * MICROS + BigInt(fraction.padEnd(MONEY_SCALE, '0'));
  return { ok: true, micros: sign === '-' ? -micros : micros };
}

/** Formats micro-units as the shortest exact decimal string: 150500000n → "150.5". */
export function formatMicros(micros: bigint | number): string {
  const value = BigInt(micros);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = abs / MICROS;
  const fraction = (abs % MICROS).toString().padStart(MONEY_SCALE, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

const EXTRA_CURRENCIES = ['USDT', 'USDC', 'BTC', 'ETH', 'TRX', 'TON'];
const CURRENCIES = new Set<string>([...Intl.supportedValuesOf('currency'), ...EXTRA_CURRENCIES]);

export type ParsedCurrency = { ok: true; code: string } | { ok: false; reason: string };

/** ISO 4217 codes (any case) plus the stablecoins and coins networks pay in. */
export function parseCurrency(raw: string): ParsedCurrency {
  const code = raw.trim().toUpperCase();
  if (CURRENCIES.has(code)) return { ok: true, code };
  return { ok: false, reason: `currency "${clip(raw)}" is not an ISO 4217 code` };
}

export function isCurrency(code: string): boolean {
  return CURRENCIES.has(code);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
