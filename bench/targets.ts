// The project's performance targets on the bench's machine (two cores, the
// load generator on the same box), checked against one run: the bench prints
// which are met and writes the same to its JSON.

export type ScenarioKind =
  | 'baseline'
  | 'clicks'
  | 'postbacks'
  | 'postbacks_duplicates'
  | 'forwarded'
  | 'searched';

export interface MeasuredScenario {
  kind: ScenarioKind;
  /** Requests/s against the bare server's; null for the bare server itself. */
  ratio: number | null;
  p99Ms: number;
  peakRssMb: number | null;
}

export interface MeasuredStats {
  dayMedianMs: number;
  startupMedianMs: number;
}

export interface TargetResult {
  target: string;
  measured: string;
  met: boolean;
}

export const TARGETS = {
  clicksRatio: 0.5,
  postbacksRatio: 0.4,
  p99Ms: 25,
  peakRssMb: 250,
  statsDayMs: 300,
  startupMs: 1000,
};

const fixed2 = (n: number) => n.toFixed(2);
const ms = (n: number) => `${n.toLocaleString('en', { maximumFractionDigits: 1 })} ms`;

/**
 * Each target whose scenario ran. A target over several scenarios (postbacks
 * with and without duplicates, memory over all) is met only if every one of
 * them meets it.
 */
export function checkTargets(
  scenarios: MeasuredScenario[],
  stats: MeasuredStats | null,
): TargetResult[] {
  const out: TargetResult[] = [];
  const atLeast = (target: string, values: Array<number | null>, limit: number) => {
    out.push({
      target,
      measured: values.map((v) => (v === null ? '-' : fixed2(v))).join(', '),
      met: values.every((v) => v !== null && v >= limit),
    });
  };
  const atMost = (target: string, values: number[], limit: number, show: (n: number) => string) => {
    out.push({
      target,
      measured: values.map(show).join(', '),
      met: values.every((v) => v <= limit),
    });
  };

  const throughput: Array<[string, ScenarioKind[], number]> = [
    ['clicks', ['clicks'], TARGETS.clicksRatio],
    ['postbacks', ['postbacks', 'postbacks_duplicates'], TARGETS.postbacksRatio],
  ];
  for (const [name, kinds, ratio] of throughput) {
    const ran = scenarios.filter((s) => kinds.includes(s.kind));
    if (ran.length === 0) continue;
    atLeast(
      `${name} ≥ ${fixed2(ratio)} × baseline`,
      ran.map((s) => s.ratio),
      ratio,
    );
    atMost(
      `${name} p99 ≤ ${TARGETS.p99Ms} ms`,
      ran.map((s) => s.p99Ms),
      TARGETS.p99Ms,
      ms,
    );
  }
  const loaded = scenarios.filter((s) => s.kind !== 'baseline' && s.peakRssMb !== null);
  if (loaded.length > 0) {
    const peak = Math.max(...loaded.map((s) => s.peakRssMb as number));
    atMost(
      `server peak RSS ≤ ${TARGETS.peakRssMb} MB under load`,
      [peak],
      TARGETS.peakRssMb,
      (n) => `${n} MB`,
    );
  }
  if (stats) {
    atMost(
      `statistics, 30 days by day ≤ ${TARGETS.statsDayMs} ms`,
      [stats.dayMedianMs],
      TARGETS.statsDayMs,
      ms,
    );
    atMost(
      `start-up to ready ≤ ${ms(TARGETS.startupMs)}`,
      [stats.startupMedianMs],
      TARGETS.startupMs,
      ms,
    );
  }
  return out;
}
