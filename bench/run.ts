// npm run bench — Clickback against a bare node:http server in the same run:
// clicks, postbacks (with and without 20% duplicates, and forwarded to a
// Facebook pixel served locally), statistics over a large
// seeded database, start-up time. Prints one table and writes bench/results.json.
// After each load scenario the database is checked against the answers.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomAlphanumeric } from '../src/domain/random-id.js';
import { addDays, localDate, startOfDay } from '../src/domain/time-range.js';
import { fakeDestination } from '../test/fake-destination.js';
import { cpuBudget, describeBudget } from './cpu-budget.js';
import { type LoadOutput, loadGenerator, type Scenario } from './load.js';
import { combine, type Measured, median } from './rounds.js';
import {
  benchArgs,
  cpuTicks,
  databaseTicks,
  POSTGRES,
  seedBasics,
  seedLeads,
  target,
} from './support.js';
import { checkTargets, type ScenarioKind } from './targets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = benchArgs();
const DURATION = Number(args.get('duration') ?? 15);
const WARMUP = Number(args.get('warmup') ?? 3);
const CONNECTIONS = Number(args.get('connections') ?? 32);
/**
 * `--rounds=N`: a scenario's measured seconds are N rounds, each followed by a
 * round of the bare server (see `alternated`).
 */
const ROUNDS = Math.max(1, Math.round(Number(args.get('rounds') ?? 3)));
const ROUND_SECONDS = Math.max(1, Math.round(DURATION / ROUNDS));
/**
 * Requests a scenario may have written without the load generator counting
 * their answers: those in flight when each round's load stopped.
 */
const IN_FLIGHT = CONNECTIONS * ROUNDS;
const POSTBACK_LEADS = Number(args.get('leads') ?? 100_000);
const STATS_LEADS = Number(args.get('stats-leads') ?? 200_000);
const STATS_CONVERSIONS = Number(args.get('stats-conversions') ?? 1_000_000);
const STATS_TZ = 'Europe/Moscow';
/** `--only=clicks,postbacks,forwarded,stats`: run some scenarios (the baseline always runs). */
const ONLY = args.get('only')?.split(',') ?? null;
const only = (scenario: string) => ONLY === null || ONLY.includes(scenario);
/** `--load=wrk|autocannon`; by default wrk when it is installed. */
const LOAD = loadGenerator(args.get('load'));

interface LoadResult {
  kind: ScenarioKind;
  scenario: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  peakRssMb: number | null;
  /** Server CPU time (all its threads) per request, and its main thread's share of the wall clock. */
  cpuUsPerRequest: number | null;
  mainThreadBusy: number | null;
  /** The load generator's CPU time per request: it runs on the same cores. */
  loadCpuUsPerRequest: number | null;
  /** PostgreSQL's CPU time per request, when its server runs on this machine. */
  databaseCpuUsPerRequest: number | null;
  ratio: number | null;
  /** Each round's ratio; `ratio` is their median. */
  roundRatios: number[] | null;
  check: string;
  /** The database agreed with the answers; null for the bare server. */
  checked: boolean | null;
}

const work = mkdtempSync(join(tmpdir(), 'clickback-bench-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error('the server exited before it was ready');
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return performance.now() - started;
    } catch {}
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startBaseline(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = fork(join(ROOT, 'bench/baseline.mjs'), [String(port)], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${port}`, child };
}

async function startClickback(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; readyMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=prof': node flags for the server only.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist/main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      DATA_DIR: work,
      PUBLIC_URL: url,
      LOG_LEVEL: 'warn',
      MAX_IN_FLIGHT: '4096',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await waitReady(`${url}/healthz`, child);
  return { url, child, readyMs: performance.now() - started };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The Conversions API, played by the tests' local destination: counts the
 * distinct event_ids it has received and any that arrived twice. Read bodies
 * are dropped as they are counted.
 */
async function startFakeGraph() {
  const fake = await fakeDestination();
  fake.fallback = {
    status: 200,
    body: '{"events_received":100,"messages":[],"fbtrace_id":"bench"}',
  };
  const events = new Set<string>();
  let twice = 0;
  let counted = 0;
  const count = () => {
    for (; counted < fake.received.length; counted++) {
      const r = fake.received[counted] as { body: string };
      for (const e of (JSON.parse(r.body) as { data: Array<{ event_id: string }> }).data) {
        if (events.has(e.event_id)) twice++;
        else events.add(e.event_id);
      }
      r.body = '';
    }
  };
  return {
    url: fake.url,
    events: () => {
      count();
      return events.size;
    },
    twice: () => {
      count();
      return twice;
    },
    requests: () => fake.received.length,
    close: () => fake.close(),
  };
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
function peakRss(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Runs a measured load and reads the server's (and a local database's) CPU time around it (Linux clock ticks of 10 ms). */
async function measured(
  pid: number | undefined,
  run: () => Promise<LoadOutput>,
): Promise<Measured> {
  const before = cpuTicks(pid);
  const databaseBefore = databaseTicks();
  const started = performance.now();
  const r = await run();
  const seconds = (performance.now() - started) / 1000;
  const after = cpuTicks(pid);
  const databaseAfter = databaseTicks();
  const cpu: Pick<Measured, 'cpuUsPerRequest' | 'mainThreadBusy'> =
    before && after && r.requests > 0
      ? {
          cpuUsPerRequest: ((after.all - before.all) * 10_000) / r.requests,
          mainThreadBusy: (after.main - before.main) / 100 / seconds,
        }
      : { cpuUsPerRequest: null, mainThreadBusy: null };
  const databaseCpuUsPerRequest =
    databaseBefore !== null && databaseAfter !== null && r.requests > 0
      ? ((databaseAfter - databaseBefore) * 10_000) / r.requests
      : null;
  const loadCpuUsPerRequest = r.cpuUs !== null && r.requests > 0 ? r.cpuUs / r.requests : null;
  return { ...r, ...cpu, loadCpuUsPerRequest, databaseCpuUsPerRequest, seconds };
}

/**
 * Waits until a process has used less than a tenth of a core for 200 ms (its
 * background work done), for at most 10 s.
 */
async function quiet(pid: number | undefined): Promise<void> {
  const deadline = performance.now() + 10_000;
  let last = cpuTicks(pid)?.all;
  let calm = 0;
  while (last !== undefined && calm < 2 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = cpuTicks(pid)?.all;
    if (now === undefined) return;
    calm = now - last <= 1 ? calm + 1 : 0;
    last = now;
  }
}

function load(
  url: string,
  seconds: number,
  scenario: Scenario,
  scenarioArgs: string[] = [],
): Promise<LoadOutput> {
  return LOAD.run({ url, seconds, connections: CONNECTIONS, scenario, args: scenarioArgs });
}

/** Lets requests still in flight when the load stopped finish and commit. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 500));
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** (c) Statistics over a large database, and start-up time on it. */
async function statsScenario() {
  const statsDb = await target('stats', work);
  const seeded = performance.now();
  const seed = await seedBasics(statsDb);
  const store = await statsDb.open();
  const campaignIds = [seed.campaign.id];
  for (let i = 1; i < 5; i++) {
    const c = await store.createCampaign(
      seed.workspaceId,
      { name: `Bench ${i}`, description: '', buyer: `buyer${i % 2}`, destinationUrl: '' },
      () => randomAlphanumeric(8),
      Date.now(),
    );
    campaignIds.push(c.id);
  }
  await store.close();
  // 30 local days in the zone the query uses, ending now.
  const to = localDate(Date.now(), STATS_TZ);
  const from = addDays(to, -29);
  const since = startOfDay(from, STATS_TZ);
  const span = Date.now() - since;
  await seedLeads(statsDb, seed.workspaceId, campaignIds, STATS_LEADS, since, span);
  await statsDb.insertConversions(seed.workspaceId, STATS_LEADS, STATS_CONVERSIONS, since, span);
  const seedSeconds = (performance.now() - seeded) / 1000;

  const readyTimes: number[] = [];
  let server = await startClickback(statsDb.url);
  for (let i = 0; i < 3; i++) {
    await stop(server.child);
    server = await startClickback(statsDb.url);
    readyTimes.push(server.readyMs);
  }
  const statsTimes: Record<string, number[]> = { day: [], campaign: [] };
  let totals: Record<string, unknown> = {};
  for (const groupBy of ['day', 'campaign'] as const) {
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const res = await fetch(
        `${server.url}/api/v1/stats?from=${from}&to=${to}&groupBy=${groupBy}&tz=${STATS_TZ}`,
        {
          headers: { authorization: `Bearer ${seed.session}` },
        },
      );
      const body = (await res.json()) as { totals: Record<string, unknown> };
      (statsTimes[groupBy] as number[]).push(performance.now() - t0);
      totals = body.totals;
    }
  }
  await stop(server.child);
  await statsDb.dispose();
  const counted =
    Number(totals.registrations) + Number(totals.firstDeposits) + Number(totals.deposits);

  const summary = {
    conversions: STATS_CONVERSIONS,
    leads: STATS_LEADS,
    seedSeconds: round1(seedSeconds),
    dayMedianMs: round1(median(statsTimes.day as number[])),
    campaignMedianMs: round1(median(statsTimes.campaign as number[])),
    counted,
    startupMedianMs: round1(median(readyTimes)),
  };
  return summary;
}

/** Searches the postback log for what nothing matches, one search after another, until stopped. */
function searchLog(url: string, session: string) {
  const times: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(`${url}/api/v1/postback-logs?q=matches-nothing&limit=50`, {
        headers: { authorization: `Bearer ${session}` },
      });
      const body = (await res.json()) as { items?: unknown[] };
      if (!res.ok || body.items?.length !== 0) failed++;
      times.push(performance.now() - started);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { times, failed };
    },
  };
}

async function main() {
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  );
  console.log(
    `load: ${LOAD.describe(CONNECTIONS)}; each scenario ${ROUNDS} × ${ROUND_SECONDS} s, each round followed by ${ROUND_SECONDS} s of the bare server (after ${WARMUP} s warm-up)\n`,
  );
  const results: LoadResult[] = [];

  // Baseline. The host's speed drifts, by a third at times within a minute,
  // so the bare server stays up and is measured again between the rounds of
  // every scenario (see `alternated`).
  const baseline = await startBaseline();
  const baselineRps: number[] = [];
  const measureBaseline = async (seconds: number) => {
    const b = await measured(baseline.child.pid, () => load(`${baseline.url}/`, seconds, null));
    baselineRps.push(b.rps);
    return b;
  };
  /**
   * A scenario's measured seconds as ROUNDS rounds, each followed by a round
   * of the bare server, so that both see the host at the same speed: each
   * round's ratio is against the mean of the bare rounds just before and
   * after it, and the scenario's ratio is the median of its rounds'. Before
   * the bare server's round, the server under test goes quiet: requests in
   * flight commit and its background work (a WAL checkpoint, forwarding)
   * ends, so none of its work lands in the bare server's seconds.
   */
  const alternated = async (
    pid: number | undefined,
    round: (i: number) => Promise<LoadOutput>,
    /** After each round's load, before its requests' background work must end. */
    afterLoad?: () => Promise<void>,
  ): Promise<Measured & { ratio: number; roundRatios: number[] }> => {
    const rounds: Measured[] = [];
    const roundRatios: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const r = await measured(pid, () => round(i));
      await afterLoad?.();
      await settle();
      await quiet(pid);
      const before = baselineRps[baselineRps.length - 1] as number;
      const after = (await measureBaseline(ROUND_SECONDS)).rps;
      rounds.push(r);
      roundRatios.push(r.rps / ((before + after) / 2));
    }
    return { ...combine(rounds), ratio: median(roundRatios), roundRatios };
  };
  await load(`${baseline.url}/`, WARMUP, null);
  const base = await measureBaseline(DURATION);
  results.push({
    kind: 'baseline',
    scenario: 'baseline: bare node:http 200',
    rps: base.rps,
    p50Ms: base.p50Ms,
    p99Ms: base.p99Ms,
    errors: base.errors,
    peakRssMb: peakRss(baseline.child.pid),
    cpuUsPerRequest: base.cpuUsPerRequest,
    mainThreadBusy: base.mainThreadBusy,
    loadCpuUsPerRequest: base.loadCpuUsPerRequest,
    databaseCpuUsPerRequest: null,
    ratio: 1,
    roundRatios: null,
    check: '-',
    checked: null,
  });

  // (a) Clicks.
  if (only('clicks')) {
    const db = await target('clicks', work);
    const seed = await seedBasics(db);
    const server = await startClickback(db.url);
    await load(server.url, WARMUP, 'clicks', [seed.campaign.slug]);
    await settle(); // the warm-up's last requests commit before we count
    const before = await db.count('clicks');
    const r = await alternated(server.child.pid, () =>
      load(server.url, ROUND_SECONDS, 'clicks', [seed.campaign.slug]),
    );
    const rows = (await db.count('clicks')) - before;
    const ok = r.result.ok ?? 0;
    const peakRssMb = peakRss(server.child.pid);
    await stop(server.child);
    const checked = rows >= ok && rows - ok <= IN_FLIGHT;
    results.push({
      kind: 'clicks',
      scenario: 'clicks: GET /c/:campaign → 302',
      rps: r.rps,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      errors: r.errors,
      peakRssMb,
      cpuUsPerRequest: r.cpuUsPerRequest,
      mainThreadBusy: r.mainThreadBusy,
      loadCpuUsPerRequest: r.loadCpuUsPerRequest,
      databaseCpuUsPerRequest: r.databaseCpuUsPerRequest,
      ratio: r.ratio,
      roundRatios: r.roundRatios,
      check: `${ok} redirects, ${rows} clicks written${checked ? ' ✓' : ' ✗'}`,
      checked,
    });
    await db.dispose();
  }

  // (b) Postbacks over existing leads, without and with 20% duplicates;
  // forwarded: every deposit also goes to a Facebook pixel (the Conversions
  // API played by a local server), while the load runs; searched: someone
  // searches the postback log all along (a search that matches nothing reads
  // every row, and the log grows by the load's own rows).
  const postbackRuns = [
    ...(only('postbacks')
      ? [
          { dupShare: 0, forward: false, search: false },
          { dupShare: 0.2, forward: false, search: false },
        ]
      : []),
    ...(only('forwarded') ? [{ dupShare: 0, forward: true, search: false }] : []),
    ...(only('searched') ? [{ dupShare: 0, forward: false, search: true }] : []),
  ];
  for (const { dupShare, forward, search } of postbackRuns) {
    const name = `postbacks_${dupShare * 100}${forward ? '_forwarded' : ''}${search ? '_searched' : ''}`;
    const db = await target(name, work);
    const seed = await seedBasics(db);
    const clickids = await seedLeads(
      db,
      seed.workspaceId,
      [seed.campaign.id],
      POSTBACK_LEADS,
      Date.now() - 86_400_000,
      86_400_000,
    );
    const file = join(work, `clickids-${name}.txt`);
    writeFileSync(file, `${clickids.join('\n')}\n`);
    const graph = forward ? await startFakeGraph() : null;
    const server = await startClickback(db.url, graph ? { FACEBOOK_GRAPH_URL: graph.url } : {});
    if (graph) {
      const res = await fetch(`${server.url}/api/v1/campaigns/${seed.campaign.id}/sources`, {
        method: 'POST',
        headers: { authorization: `Bearer ${seed.session}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'facebook',
          name: 'Pixel',
          pixelId: '1234567890',
          accessToken: 'bench-token',
          mapping: { first_deposit: 'Purchase', deposit: 'Purchase' },
        }),
      });
      if (!res.ok) throw new Error(`creating the pixel failed: ${res.status} ${await res.text()}`);
    }
    const scriptArgs = (run: string) => [seed.postback.token, String(dupShare), file, run];
    await load(server.url, WARMUP, 'postbacks', scriptArgs('warm'));
    await settle(); // the warm-up's last requests commit before we count
    const before = await db.count('conversions');
    const logsBefore = await db.count('postback_logs');
    let searchesFailed = 0;
    const searchTimes: number[] = [];
    let drainedS = 0;
    const r = await alternated(
      server.child.pid,
      async (i) => {
        const searching = search ? searchLog(server.url, seed.session) : null;
        const out = await load(server.url, ROUND_SECONDS, 'postbacks', scriptArgs(`run${i}`));
        if (searching) {
          const searched = await searching.stop();
          searchTimes.push(...searched.times);
          searchesFailed += searched.failed;
        }
        return out;
      },
      // Each round's conversions reach the pixel before the bare server's round.
      graph
        ? async () => {
            const loadEnded = performance.now();
            await settle();
            const conversions = await db.count('conversions');
            const deadline = performance.now() + 120_000;
            while (graph.events() < conversions && performance.now() < deadline) {
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            drainedS = Math.max(drainedS, (performance.now() - loadEnded) / 1000);
          }
        : undefined,
    );
    const rows = (await db.count('conversions')) - before;
    const logs = (await db.count('postback_logs')) - logsBefore;
    const ok = r.result.ok ?? 0;
    const answered = ok + (r.result.duplicate ?? 0) + (r.result.other ?? 0);
    let exact =
      rows >= ok && rows - ok <= IN_FLIGHT && logs >= answered && logs - answered <= IN_FLIGHT;
    let forwarded = '';
    if (graph) {
      // Every conversion (warm-up included) reaches the pixel exactly once.
      const conversions = await db.count('conversions');
      exact &&= graph.events() === conversions && graph.twice() === 0;
      forwarded = `; ${graph.events()} of ${conversions} sent to the pixel in ${graph.requests()} requests, ${graph.twice()} twice, each round's within ${drainedS.toFixed(1)} s of its load's end`;
      await graph.close();
    }
    if (search) {
      exact &&= searchesFailed === 0 && searchTimes.length > 0;
      forwarded += `; ${searchTimes.length} log searches meanwhile (median ${round1(median(searchTimes))} ms, longest ${round1(Math.max(...searchTimes))} ms), ${searchesFailed} failed`;
    }
    const peakRssMb = peakRss(server.child.pid);
    await stop(server.child);
    results.push({
      kind: forward
        ? 'forwarded'
        : search
          ? 'searched'
          : dupShare
            ? 'postbacks_duplicates'
            : 'postbacks',
      scenario: `postbacks: deposits${dupShare ? ', 20% duplicates' : ''}${forward ? ', each forwarded to a Facebook pixel' : ''}${search ? ', while the log is searched' : ''}`,
      rps: r.rps,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      errors: r.errors,
      peakRssMb,
      cpuUsPerRequest: r.cpuUsPerRequest,
      mainThreadBusy: r.mainThreadBusy,
      loadCpuUsPerRequest: r.loadCpuUsPerRequest,
      databaseCpuUsPerRequest: r.databaseCpuUsPerRequest,
      ratio: r.ratio,
      roundRatios: r.roundRatios,
      check: `${ok} recorded, ${r.result.duplicate ?? 0} duplicate; ${rows} conversions, ${logs} log rows${forwarded}${exact ? ' ✓' : ' ✗'}`,
      checked: exact,
    });
    await db.dispose();
  }

  await stop(baseline.child);
  const statsSummary = only('stats') ? await statsScenario() : null;

  console.log(
    `| scenario | requests/s | p50 ms | p99 ms | errors | server peak RSS MB | server CPU µs/request | main thread busy | load generator CPU µs/request${POSTGRES ? ' | PostgreSQL CPU µs/request' : ''} | × baseline | database check |`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|${POSTGRES ? '---:|' : ''}---:|---|`);
  for (const r of results) {
    const cpu = r.cpuUsPerRequest === null ? '-' : round1(r.cpuUsPerRequest);
    const busy = r.mainThreadBusy === null ? '-' : `${Math.round(r.mainThreadBusy * 100)}%`;
    const loadCpu = r.loadCpuUsPerRequest === null ? '-' : round1(r.loadCpuUsPerRequest);
    const database = POSTGRES
      ? ` ${r.databaseCpuUsPerRequest === null ? '-' : round1(r.databaseCpuUsPerRequest)} |`
      : '';
    console.log(
      `| ${r.scenario} | ${Math.round(r.rps)} | ${round1(r.p50Ms)} | ${round1(r.p99Ms)} | ${r.errors} | ${r.peakRssMb ?? '-'} | ${cpu} | ${busy} | ${loadCpu} |${database} ${r.ratio === null ? '-' : r.ratio.toFixed(2)} | ${r.check} |`,
    );
  }
  const alternatedRuns = results.filter((r) => r.roundRatios !== null);
  if (alternatedRuns.length > 0) {
    console.log(
      `\nbare server requests/s, its first ${DURATION} s and then after each round: ${baselineRps.map((r) => Math.round(r).toLocaleString('en')).join(' → ')}`,
    );
    console.log(
      "each round's ratio is against the mean of the bare server's rounds just before and after it; a scenario's ratio is their median:",
    );
    for (const r of alternatedRuns) {
      console.log(`  ${r.scenario}: ${r.roundRatios?.map((x) => x.toFixed(2)).join(', ')}`);
    }
  }
  if (statsSummary) {
    console.log(
      `\nstatistics over ${STATS_CONVERSIONS.toLocaleString('en')} conversions / ${STATS_LEADS.toLocaleString('en')} leads (30 days, ${STATS_TZ}): by day ${statsSummary.dayMedianMs} ms, by campaign ${statsSummary.campaignMedianMs} ms (medians of 7; ${statsSummary.counted.toLocaleString('en')} conversions counted${statsSummary.counted === STATS_CONVERSIONS ? ' ✓' : ' ✗'})`,
    );
    console.log(
      `start-up to ready on that database: ${statsSummary.startupMedianMs} ms (median of 3)`,
    );
  }
  const budget = cpuBudget(results, cpus().length);
  if (budget.length > 0) {
    console.log(
      `\nCPU per request on this machine's ${cpus().length} cores (server + load generator${POSTGRES ? ' + PostgreSQL' : ''}), and the most requests/s they allow at that cost with every core busy:`,
    );
    for (const b of budget) console.log(`  ${describeBudget(b)}`);
  }
  const statsCounted = statsSummary !== null && statsSummary.counted === STATS_CONVERSIONS;
  const targets = checkTargets(results, statsCounted ? statsSummary : null);
  if (targets.length > 0) {
    console.log(
      `\ntargets (${POSTGRES ? 'PostgreSQL' : 'embedded'} engine, load by ${LOAD.name}):`,
    );
    for (const t of targets) console.log(`  ${t.target}: ${t.measured} ${t.met ? '✓' : '✗'}`);
  }
  writeFileSync(
    join(ROOT, POSTGRES ? 'bench/results-postgres.json' : 'bench/results.json'),
    `${JSON.stringify({ at: new Date().toISOString(), engine: POSTGRES ? 'postgres' : 'sqlite', machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, loadGenerator: LOAD.name, connections: CONNECTIONS, durationSeconds: DURATION, baselineRps: baselineRps.map(Math.round), load: results, cpuBudget: budget, stats: statsSummary, targets }, null, 2)}\n`,
  );
  console.log(`\nwritten: bench/${POSTGRES ? 'results-postgres' : 'results'}.json`);
  // A run whose database disagrees with its answers measured nothing.
  const failed = results.filter((r) => r.checked === false).map((r) => r.scenario);
  if (statsSummary && !statsCounted) failed.push('statistics');
  if (failed.length > 0) {
    console.error(`database check failed: ${failed.join('; ')}`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
