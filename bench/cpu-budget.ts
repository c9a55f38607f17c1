// What a request costs the whole machine: the server's CPU, the load
// generator's (on the same cores) and, in PostgreSQL mode, the database's.
// From it, the most requests/s the machine's cores could serve at that cost
// if every one of them were busy all the time: a ceiling no change of
// threading can pass, only a cheaper request can. The bench prints it after
// its table, so a ratio short of a target says whether the cost or the use of
// the cores is what is missing.

import type { ScenarioKind } from './targets.js';

export interface ScenarioCpu {
  kind: ScenarioKind;
  scenario: string;
  rps: number;
  /** Against the bare server's requests/s. */
  ratio: number | null;
  cpuUsPerRequest: number | null;
  loadCpuUsPerRequest: number | null;
  databaseCpuUsPerRequest: number | null;
}

export interface Budget {
  scenario: string;
  /** µs of CPU per request: server, load generator, database (null: not measured). */
  serverUs: number;
  loadUs: number;
  databaseUs: number | null;
  totalUs: number;
  /** The most requests/s the cores allow at that cost. */
  ceilingRps: number;
  /** The same against the bare server's requests/s of the run; null for the bare server. */
  ceilingRatio: number | null;
  measuredRatio: number | null;
}

export function cpuBudget(scenarios: ScenarioCpu[], cores: number): Budget[] {
  const out: Budget[] = [];
  for (const s of scenarios) {
    if (s.cpuUsPerRequest === null || s.loadCpuUsPerRequest === null) continue;
    const totalUs = s.cpuUsPerRequest + s.loadCpuUsPerRequest + (s.databaseCpuUsPerRequest ?? 0);
    if (!(totalUs > 0)) continue;
    const ceilingRps = (cores * 1e6) / totalUs;
    const isBaseline = s.kind === 'baseline';
    // rps / ratio: the bare server's requests/s this scenario's ratio is taken against.
    const baselineRps = s.ratio ? s.rps / s.ratio : null;
    out.push({
      scenario: s.scenario,
      serverUs: s.cpuUsPerRequest,
      loadUs: s.loadCpuUsPerRequest,
      databaseUs: s.databaseCpuUsPerRequest,
      totalUs,
      ceilingRps,
      ceilingRatio: isBaseline || baselineRps === null ? null : ceilingRps / baselineRps,
      measuredRatio: isBaseline ? null : s.ratio,
    });
  }
  return out;
}

const us = (n: number) => n.toFixed(1);

/** One line per scenario, for the report. */
export function describeBudget(b: Budget): string {
  const parts = [
    us(b.serverUs),
    us(b.loadUs),
    ...(b.databaseUs === null ? [] : [us(b.databaseUs)]),
  ];
  const most = Math.round(b.ceilingRps).toLocaleString('en');
  const ratio =
    b.ceilingRatio === null
      ? ''
      : ` = ${b.ceilingRatio.toFixed(2)} × baseline (measured: ${b.measuredRatio?.toFixed(2) ?? '-'})`;
  return `${b.scenario}: ${parts.join(' + ')} = ${us(b.totalUs)} µs → at most ${most}/s${ratio}`;
}
