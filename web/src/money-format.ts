// Amounts as the UI shows them. They arrive as exact decimal strings (up to
// six decimals, the store's micro-units) and are formatted from the string,
// which Intl.NumberFormat does exactly, never through a float.

/** At most what the store keeps: micro-units. */
const MAX_DECIMALS = 6;

export interface MoneyFormatter {
  /** With the currency's symbol where Intl knows the code (`$1.50`), else the code (`0.123456 USDT`). */
  money: (amount: string | null | undefined, currency: string | null | undefined) => string;
  /** With the code, never a symbol: `150.00 USD` ($ means USD, CAD and AUD alike). */
  amountWithCode: (amount: string, currency: string) => string;
}

export function moneyFormatter(locale: string): MoneyFormatter {
  const plain = new Intl.NumberFormat(locale, {
    minimumFractionDigits: 2,
    maximumFractionDigits: MAX_DECIMALS,
  });
  const withSymbol = new Map<string, Intl.NumberFormat | null>();
  const symbolFormat = (code: string) => {
    if (!withSymbol.has(code)) {
      try {
        withSymbol.set(
          code,
          new Intl.NumberFormat(locale, {
            style: 'currency',
            currency: code,
            currencyDisplay: 'narrowSymbol',
            maximumFractionDigits: MAX_DECIMALS,
          }),
        );
      } catch {
        // Not an ISO 4217 code to Intl (USDT, USDC): shown with the code.
        withSymbol.set(code, null);
      }
    }
    return withSymbol.get(code) ?? null;
  };
  const decimal = (amount: string) => amount as `${number}`;
  return {
    money: (amount, currency) => {
      const code = (currency || 'USD').toUpperCase();
      const value = decimal(amount ?? '0');
      const format = symbolFormat(code);
      return format ? format.format(value) : `${plain.format(value)} ${code}`;
    },
    amountWithCode: (amount, currency) => `${plain.format(decimal(amount))} ${currency}`,
  };
}
