import { randomFillSync } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// 62 * 4 = 248: bytes at or above it are rejected so every character is equally likely.
const LIMIT = 248;

/**
 * CSPRNG bytes drawn 4 KB at a time: one call to the system per ~300
 * clickids instead of one per clickid (it showed in profiles of the click path).
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomByte(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++] as number;
}

/** A string of `[A-Za-z0-9]` from the CSPRNG, without modulo bias. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < LIMIT) out += ALPHABET[byte % 62];
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
