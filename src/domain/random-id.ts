import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// 62 * 4 = 248: bytes at or above it are rejected so every character is equally likely.
const LIMIT = 248;

/** A string of `[A-Za-z0-9]` from the CSPRNG, without modulo bias. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= LIMIT) continue;
      out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const CLICKID_LENGTH = 12;

/** A fresh clickid: 12 characters, ~71 bits; uniqueness is the store's unique index. */
export function newClickid(): string {
  return randomAlphanumeric(CLICKID_LENGTH);
}

export function isClickidShape(value: string): boolean {
  return /^[A-Za-z0-9]{12}$/.test(value);
}
