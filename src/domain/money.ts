// Exact money: amounts travel as decimal strings and are stored as integer
// micro-units (6 decimals), so no binary float ever touches a sum.

export const MONEY_SCALE = 6;
const MICROS = 1_000_000n;
/** At most 12 integer digits: below 10^18 micro-units, well inside a signed 64-bit integer. */
const MAX_WHOLE_DIGITS = 12;
/** What a fraction of n decimals is multiplied by to make micro-units. */
const SCALE_UP = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
/** Whole units below this make exact micro-units in a double (9 × 10^15 < 2^53). */
const EXACT_WHOLE = 9_000_000_000;

export type ParsedAmount = { ok: true; micros: bigint } | { ok: false; reason: string };

/**
 * Parses an amount the way networks send it: `.` or `,` as the decimal
 * separator, at most 6 decimals, no exponent, no thousands separators, no hex.
 */
export function parseAmount(raw: string): ParsedAmount {
  const text = raw.trim();
  const micros = readMicros(text);
  if (micros === null) {
    if (/[.,]\d{7,}$/.test(text)) {
      return { ok: false, reason: `amount "${clip(raw)}" has more than ${MONEY_SCALE} decimals` };
    }
    return { ok: false, reason: `amount "${clip(raw)}" is not a decimal number` };
  }
  return { ok: true, micros };
}

/**
 * `[+-]digits[(.|,)digits]` read by hand, on every postback's path: 1-12
 * whole digits and 1-6 decimals, ASCII digits only; null for anything else.
 */
function readMicros(text: string): bigint | null {
  const first = text.charCodeAt(0);
  const negative = first === 45; // -
  let i = negative || first === 43 ? 1 : 0; // + too
  const wholeAt = i;
  let whole = 0;
  for (let d = digitAt(text, i); d !== -1; d = digitAt(text, ++i)) whole = whole * 10 + d;
  if (i === wholeAt || i - wholeAt > MAX_WHOLE_DIGITS) return null;
  let fraction = 0;
  if (i < text.length) {
    const separator = text.charCodeAt(i);
    if (separator !== 46 && separator !== 44) return null; // . or ,
    const fractionAt = ++i;
    for (let d = digitAt(text, i); d !== -1; d = digitAt(text, ++i)) fraction = fraction * 10 + d;
    const decimals = i - fractionAt;
    if (decimals === 0 || decimals > MONEY_SCALE || i !== text.length) return null;
    fraction *= SCALE_UP[decimals] as number;
  }
  // Both parts are exact doubles (below 10^12 and 10^6). Below 9 × 10^9 whole
  // units the micro-units are too (under 2^53), and one BigInt is made of
  // them; above, the sum is made in BigInt.
  const micros =
    whole < EXACT_WHOLE
      ? BigInt(whole * 1_000_000 + fraction)
      : BigInt(whole) * MICROS + BigInt(fraction);
  return negative ? -micros : micros;
}

function digitAt(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1;
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
const ISO_CURRENCIES = new Set<string>(Intl.supportedValuesOf('currency'));
const CURRENCIES = new Set<string>([...ISO_CURRENCIES, ...EXTRA_CURRENCIES]);

/** An ISO 4217 code (upper case), not one of the coins networks also pay in. */
export function isIsoCurrency(code: string): boolean {
  return ISO_CURRENCIES.has(code);
}

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
