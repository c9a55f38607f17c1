// Day boundaries in an IANA time zone, computed once per query so the store
// only compares UTC instants (no engine needs to know about zones).

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Offset of `tz` from UTC at instant `ms`, in ms (Europe/Moscow → +3h). */
function offsetAt(tz: string, ms: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The UTC instant at which local midnight of `date` (YYYY-MM-DD) begins in `tz`. */
export function startOfDay(date: string, tz: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d);
  // Two passes settle the offset across a DST change.
  let guess = wall - offsetAt(tz, wall);
  guess = wall - offsetAt(tz, guess);
  if (localDate(guess, tz) === date) return guess;
  // Midnight does not exist that day (clocks jump forward at 00:00, e.g.
  // America/Santiago): the day begins at the first instant that is on it.
  let lo = guess;
  let hi = guess + 3 * 3_600_000;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (localDate(mid, tz) < date) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The local date (YYYY-MM-DD) of instant `ms` in `tz`. */
export function localDate(ms: number, tz: string): string {
  const local = new Date(ms + offsetAt(tz, ms));
  return local.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export interface DayBucket {
  key: string;
  startMs: number;
  endMs: number;
}

/** One bucket per local day from `from` to `to` inclusive. */
export function dayBuckets(from: string, to: string, tz: string): DayBucket[] {
  const buckets: DayBucket[] = [];
  let day = from;
  let start = startOfDay(day, tz);
  while (day <= to) {
    const next = addDays(day, 1);
    const end = startOfDay(next, tz);
    buckets.push({ key: day, startMs: start, endMs: end });
    day = next;
    start = end;
  }
  return buckets;
}
