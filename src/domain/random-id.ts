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

/** Digits, then upper, then lower case: the ASCII order, so fixed-width numbers sort as text. */
const SORTABLE = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TIME_CHARS = 7;
export const CLICKID_RANDOM_CHARS = CLICKID_LENGTH - TIME_CHARS;
/** Milliseconds since 2020-01-01 UTC; 62^7 ms lasts until the 2130s. */
const EPOCH_MS = Date.UTC(2020, 0, 1);

/** The time part of a clickid: 7 characters that sort as the milliseconds do. */
export function clickidTimePrefix(at: number): string {
  let n = Math.max(0, Math.floor(at - EPOCH_MS));
  let out = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    out = (SORTABLE[n % 62] as string) + out;
    n = Math.floor(n / 62);
  }
  return out;
}

let lastPrefix = '';
const issuedThisMs = new Set<string>();

/**
 * A fresh clickid: 7 characters of creation time (milliseconds), then 5
 * random ones (~30 bits). New clickids land at the end of the unique index
 * instead of at a random page of it, which is one page written per batch of
 * clicks instead of one per click. Within a millisecond this process never
 * repeats one; across processes the store's unique index decides.
 */
export function newClickid(at: number = Date.now()): string {
  const prefix = clickidTimePrefix(at);
  if (prefix !== lastPrefix) {
    lastPrefix = prefix;
    issuedThisMs.clear();
  }
  for (;;) {
    const id = prefix + randomAlphanumeric(CLICKID_RANDOM_CHARS);
    if (!issuedThisMs.has(id)) {
      issuedThisMs.add(id);
      return id;
    }
  }
}

export function isClickidShape(value: string): boolean {
  return /^[A-Za-z0-9]{12}$/.test(value);
}
