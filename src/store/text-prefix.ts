// A prefix search as a range, so an index in code point order can answer it:
// the strings that start with `prefix` are those >= prefix and < prefixEnd(prefix).

/**
 * The least string above every string that starts with `prefix`, in code
 * point order (SQLite's BINARY collation on UTF-8 text, PostgreSQL's "C"):
 * the prefix with its last code point one higher (a last U+10FFFF is dropped
 * first, and the surrogate range is stepped over). null when there is none
 * (an empty prefix, or one of U+10FFFF only): every string >= prefix matches.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    if (last < 0x10ffff)
      return String.fromCodePoint(...points, last === 0xd7ff ? 0xe000 : last + 1);
  }
  return null;
}
