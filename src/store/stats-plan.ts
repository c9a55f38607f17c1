// Which reads answer a statistics query. Both engines keep counts and sums
// per 15-minute bucket in rollup tables (migration 5); a range is read from
// them for the buckets it covers whole, and from the raw rows for the pieces
// at its ends that do not fill a bucket: a range that starts at 10:07, or a
// day edge in a zone whose offset is not a whole quarter of an hour (local
// mean time before 1900). The answer is exact either way.
import type { StatsQuery } from './store.js';

/** The rollups' bucket. Every UTC offset in use today is a multiple of it. */
export const ROLLUP_BUCKET_MS = 15 * 60_000;

/** [fromMs, toMs) */
export interface Span {
  fromMs: number;
  toMs: number;
}

/** [startMs, endMs), counted towards the group `key` (a local day). */
export interface KeyedRange {
  key: string;
  startMs: number;
  endMs: number;
}

export type StatsRead =
  /** Rows of one span, grouped by the query's grouping (never `day`). */
  | ({ kind: 'span'; source: 'rollups' | 'raw' } & Span)
  /** Rollup rows grouped by bucket; `dayOf` says which day a bucket counts towards, if any. */
  | ({ kind: 'buckets'; dayOf: (bucket: number) => string | null } & Span)
  /** Raw rows of each range, grouped by the range's day. */
  | { kind: 'days'; ranges: KeyedRange[] };

export interface StatsPlan {
  /** Where conversions are counted per currency, to choose the one to sum. */
  currency: Array<{ source: 'rollups' | 'raw' } & Span>;
  reads: StatsRead[];
}

export function planStats(query: StatsQuery): StatsPlan {
  const whole = { key: '', startMs: query.fromMs, endMs: query.toMs };
  const span = splitRanges([whole]);
  const currency = [
    ...span.rollups.map((r) => ({ source: 'rollups' as const, fromMs: r.startMs, toMs: r.endMs })),
    ...span.raw.map((r) => ({ source: 'raw' as const, fromMs: r.startMs, toMs: r.endMs })),
  ];
  // A click parameter is in no rollup: those groupings read every row.
  if (query.groupBy.startsWith('param.')) {
    return {
      currency,
      reads: [{ kind: 'span', source: 'raw', fromMs: whole.startMs, toMs: whole.endMs }],
    };
  }
  if (query.groupBy !== 'day') {
    return {
      currency,
      reads: currency.map((s) => ({ kind: 'span', ...s })),
    };
  }
  const days = splitRanges(query.buckets);
  const reads: StatsRead[] = [];
  const ranges = days.rollups.sort((a, b) => a.startMs - b.startMs);
  if (ranges.length > 0) {
    reads.push({
      kind: 'buckets',
      fromMs: Math.min(...ranges.map((r) => r.startMs)),
      toMs: Math.max(...ranges.map((r) => r.endMs)),
      dayOf: (bucket) => {
        let lo = 0;
        let hi = ranges.length - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const r = ranges[mid] as KeyedRange;
          if (bucket < r.startMs) hi = mid - 1;
          else if (bucket >= r.endMs) lo = mid + 1;
          else return r.key;
        }
        return null;
      },
    });
  }
  if (days.raw.length > 0) reads.push({ kind: 'days', ranges: days.raw });
  return { currency, reads };
}

/** Each range's whole buckets, and the pieces at its ends. */
export function splitRanges(ranges: KeyedRange[]): { rollups: KeyedRange[]; raw: KeyedRange[] } {
  const rollups: KeyedRange[] = [];
  const raw: KeyedRange[] = [];
  for (const { key, startMs, endMs } of ranges) {
    if (startMs >= endMs) continue;
    const first = Math.ceil(startMs / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
    const last = Math.floor(endMs / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
    if (first >= last) {
      raw.push({ key, startMs, endMs });
      continue;
    }
    rollups.push({ key, startMs: first, endMs: last });
    if (startMs < first) raw.push({ key, startMs, endMs: first });
    if (last < endMs) raw.push({ key, startMs: last, endMs });
  }
  return { rollups, raw };
}
