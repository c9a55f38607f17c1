// A scenario's measured seconds come in rounds that alternate with rounds of
// the bare server (see `alternated` in run.ts); this puts its rounds together.
import type { LoadOutput } from './load.js';

/** One round of load with what the bench read around it. */
export interface Measured extends LoadOutput {
  /** Server CPU time (all its threads) per request, and its main thread's share of the wall clock. */
  cpuUsPerRequest: number | null;
  mainThreadBusy: number | null;
  loadCpuUsPerRequest: number | null;
  databaseCpuUsPerRequest: number | null;
  seconds: number;
}

/** Rounds of one scenario as one: totals, and per-request costs over all their requests. */
export function combine(rounds: Measured[]): Measured {
  const requests = sum(rounds.map((r) => r.requests));
  const seconds = sum(rounds.map((r) => r.seconds));
  /** A per-request figure over all the rounds' requests; null if a round lacks it. */
  const perRequest = (of: (r: Measured) => number | null) =>
    rounds.every((r) => of(r) !== null)
      ? sum(rounds.map((r) => (of(r) as number) * r.requests)) / requests
      : null;
  const result: Record<string, number> = {};
  for (const r of rounds) {
    for (const [key, n] of Object.entries(r.result)) result[key] = (result[key] ?? 0) + n;
  }
  return {
    rps: requests / sum(rounds.map((r) => r.requests / r.rps)),
    requests,
    // Latency: the middle round's median, and the worst round's 99th percentile.
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: Math.max(...rounds.map((r) => r.p99Ms)),
    errors: sum(rounds.map((r) => r.errors)),
    result,
    cpuUs: rounds.every((r) => r.cpuUs !== null) ? sum(rounds.map((r) => r.cpuUs as number)) : null,
    cpuUsPerRequest: perRequest((r) => r.cpuUsPerRequest),
    mainThreadBusy: rounds.every((r) => r.mainThreadBusy !== null)
      ? sum(rounds.map((r) => (r.mainThreadBusy as number) * r.seconds)) / seconds
      : null,
    loadCpuUsPerRequest: perRequest((r) => r.loadCpuUsPerRequest),
    databaseCpuUsPerRequest: perRequest((r) => r.databaseCpuUsPerRequest),
    seconds,
  };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** The middle value; of an even count, the mean of the two middle ones. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const half = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[half] as number)
    : ((s[half - 1] as number) + (s[half] as number)) / 2;
}
