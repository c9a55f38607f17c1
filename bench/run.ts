// npm run bench — Clickback against a bare node:http server in the same run:
// clicks, postbacks (with and without 20% duplicates), statistics over a large
// seeded database, start-up time. Prints one table and writes bench/results.json.
// After each load scenario the database is checked against the answers.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { hashToken, newToken } from '../src/domain/passwords.js';
import { newClickid, randomAlphanumeric } from '../src/domain/random-id.js';
import { addDays, localDate, startOfDay } from '../src/domain/time-range.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { REBUILD_ROLLUPS_SQL } from '../src/store/sqlite/migrations.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as [string, string];
  }),
);
const DURATION = Number(args.get('duration') ?? 15);
const WARMUP = Number(args.get('warmup') ?? 3);
const CONNECTIONS = Number(args.get('connections') ?? 32);
const POSTBACK_LEADS = Number(args.get('leads') ?? 100_000);
const STATS_LEADS = Number(args.get('stats-leads') ?? 200_000);
const STATS_CONVERSIONS = Number(args.get('stats-conversions') ?? 1_000_000);
const STATS_TZ = 'Europe/Moscow';
/** `--only=clicks,postbacks,stats`: run some scenarios (the baseline always runs). */
const ONLY = args.get('only')?.split(',') ?? null;
const only = (scenario: string) => ONLY === null || ONLY.includes(scenario);

interface LoadResult {
  scenario: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  peakRssMb: number | null;
  /** Server CPU time (all its threads) per request, and its main thread's share of the wall clock. */
  cpuUsPerRequest: number | null;
  mainThreadBusy: number | null;
  /** PostgreSQL's CPU time per request, when its server runs on this machine. */
  databaseCpuUsPerRequest: number | null;
  ratio: number | null;
  check: string;
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

/** User and system CPU time in a /proc stat file, in clock ticks. */
function ticks(file: string): number {
  // Fields after the command name: utime and stime are the 12th and 13th.
  const fields = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU time so far of a process (all threads) and of its main thread, in clock ticks. */
function cpuTicks(pid: number | undefined): { all: number; main: number } | null {
  if (!pid) return null;
  try {
    return { all: ticks(`/proc/${pid}/stat`), main: ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return null;
  }
}

/**
 * CPU time so far of every PostgreSQL process on this machine, in clock ticks,
 * when DATABASE_URL names this machine; null otherwise. In PostgreSQL mode
 * half of a request's cost is there, out of the server's own figure. A
 * backend that exits during the load takes its time with it, so the figure
 * is a floor; the server's pool keeps its connections for the whole load.
 */
function databaseTicks(): number | null {
  if (
    !POSTGRES ||
    !/^postgres(ql)?:\/\/([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(POSTGRES)
  ) {
    return null;
  }
  let total = 0;
  let found = false;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      total += ticks(`/proc/${pid}/stat`);
      found = true;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return found ? total : null;
}

/** Runs a measured load and reads the server's (and a local database's) CPU time around it (Linux clock ticks of 10 ms). */
async function measured(pid: number | undefined, load: () => Promise<WrkOutput>) {
  const before = cpuTicks(pid);
  const databaseBefore = databaseTicks();
  const started = performance.now();
  const r = await load();
  const seconds = (performance.now() - started) / 1000;
  const after = cpuTicks(pid);
  const databaseAfter = databaseTicks();
  const cpu =
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
  return { ...r, ...cpu, databaseCpuUsPerRequest };
}

interface WrkOutput {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  result: Record<string, number>;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function wrk(
  url: string,
  seconds: number,
  script: string | null,
  scriptArgs: string[] = [],
): Promise<WrkOutput> {
  const argv = ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  if (script) argv.push('-s', join(ROOT, 'bench', script));
  argv.push(url);
  if (scriptArgs.length) argv.push('--', ...scriptArgs);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', () => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
      const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
        out,
      );
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const errors = non2xx + (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0);
      const result: Record<string, number> = {};
      for (const [, k, v] of (/RESULT (.*)/.exec(out)?.[1] ?? '').matchAll(/(\w+)=(\d+)/g)) {
        result[k as string] = Number(v);
      }
      if (!Number.isFinite(rps)) reject(new Error(`wrk printed no result:\n${out}`));
      else resolve({ rps, requests, p50Ms: p50, p99Ms: p99, errors, result });
    });
  });
}

/**
 * Where a scenario's data lives: a fresh SQLite file, or (DATABASE_URL=postgres://...)
 * a fresh schema on that server. The server under test gets `url`.
 */
interface Target {
  url: string;
  open(): Promise<Store>;
  /** Bulk rows straight into the database: a million rows over HTTP would take the whole run. */
  insertLeads(rows: Array<[string, string, string, string, number]>): Promise<void>;
  insertConversions(
    workspaceId: string,
    leads: number,
    count: number,
    since: number,
    span: number,
  ): Promise<void>;
  count(table: string): Promise<number>;
  dispose(): Promise<void>;
}

const POSTGRES = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : null;

/** Conversions spread over the range: a registration per lead, a first deposit per lead, then deposits. */
function conversionRow(i: number, leads: number, count: number, since: number, span: number) {
  const round = Math.floor(i / leads);
  const at = since + Math.floor((((i * 7919) % count) / count) * span);
  if (round === 0)
    return {
      event: 'registration',
      micros: null,
      tid: null,
      once: 'registration',
      tidKey: null,
      at,
    };
  if (round === 1) {
    return {
      event: 'first_deposit',
      micros: 50_000_000 + (i % 1000) * 10_000,
      tid: `f${i}`,
      once: 'first_deposit',
      tidKey: `money:f${i}`,
      at,
    };
  }
  return {
    event: 'deposit',
    micros: 10_250_000 + (i % 777) * 1000,
    tid: `d${i}`,
    once: null,
    tidKey: `money:d${i}`,
    at,
  };
}

async function target(name: string): Promise<Target> {
  if (POSTGRES) return postgresTarget(name);
  const path = join(work, `${name}.db`);
  return {
    url: `sqlite:${path}`,
    open: async () => openSqliteStore({ path }),
    async insertLeads(rows) {
      const db = new Database(path);
      const insert = db.prepare(
        'INSERT INTO leads (workspace_id, clickid, campaign_id, params, created_at) VALUES (?, ?, ?, ?, ?)',
      );
      db.transaction(() => {
        for (const row of rows) insert.run(...row);
        // Rows written around the store: their statistics rollups are rebuilt.
        db.exec(REBUILD_ROLLUPS_SQL);
      })();
      db.close();
    },
    async insertConversions(workspaceId, leads, count, since, span) {
      const db = new Database(path);
      const ids = db
        .prepare('SELECT id, campaign_id FROM leads WHERE workspace_id = ? ORDER BY id')
        .all(workspaceId) as Array<{ id: number; campaign_id: number }>;
      const insert = db.prepare(
        `INSERT INTO conversions (workspace_id, lead_id, campaign_id, postback_id, event, amount_micros, currency, tid, once_key, tid_key, at)
         VALUES (?, ?, ?, NULL, ?, ?, 'USD', ?, ?, ?, ?)`,
      );
      db.transaction(() => {
        for (let i = 0; i < count; i++) {
          const lead = ids[i % leads] as { id: number; campaign_id: number };
          const c = conversionRow(i, leads, count, since, span);
          insert.run(
            workspaceId,
            lead.id,
            lead.campaign_id,
            c.event,
            c.micros,
            c.tid,
            c.once,
            c.tidKey,
            c.at,
          );
        }
        db.exec(REBUILD_ROLLUPS_SQL);
      })();
      db.close();
    },
    async count(table) {
      const db = new Database(path, { readonly: true });
      try {
        return Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
      } finally {
        db.close();
      }
    },
    async dispose() {},
  };
}

async function postgresTarget(name: string): Promise<Target> {
  const base = POSTGRES as string;
  const schema = `bench_${name.replace(/\W/g, '_')}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const q = (sql: string, values: unknown[] = []) =>
    admin.query(sql.replaceAll('%s', `"${schema}"`), values);
  return {
    url: url.toString(),
    open: () => openPostgresStore({ url: base, poolSize: 4, schema }),
    async insertLeads(rows) {
      for (let i = 0; i < rows.length; i += 10_000) {
        const chunk = rows.slice(i, i + 10_000);
        await q(
          `INSERT INTO %s.leads (workspace_id, clickid, campaign_id, params, created_at)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::jsonb[], $5::bigint[])`,
          [0, 1, 2, 3, 4].map((k) => chunk.map((r) => r[k])),
        );
      }
    },
    async insertConversions(workspaceId, leads, count, since, span) {
      const { rows } = await q(
        'SELECT id, campaign_id FROM %s.leads WHERE workspace_id = $1 ORDER BY id',
        [workspaceId],
      );
      for (let i = 0; i < count; i += 20_000) {
        const cols: unknown[][] = [[], [], [], [], [], [], [], []];
        for (let j = i; j < Math.min(count, i + 20_000); j++) {
          const lead = rows[j % leads] as { id: string; campaign_id: string };
          const c = conversionRow(j, leads, count, since, span);
          [lead.id, lead.campaign_id, c.event, c.micros, c.tid, c.once, c.tidKey, c.at].forEach(
            (v, k) => {
              (cols[k] as unknown[]).push(v);
            },
          );
        }
        await q(
          `INSERT INTO %s.conversions (workspace_id, lead_id, campaign_id, event, amount_micros, currency, tid, once_key, tid_key, at)
           SELECT $1, l, c, e, m, 'USD', t, o, k, a
           FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[])
             AS x(l, c, e, m, t, o, k, a)`,
          [workspaceId, ...cols],
        );
      }
      await q('ANALYZE %s.conversions');
      await q('ANALYZE %s.leads');
    },
    async count(table) {
      return Number((await q(`SELECT count(*) AS n FROM %s.${table}`)).rows[0].n);
    },
    async dispose() {
      await q('DROP SCHEMA %s CASCADE');
      await admin.end();
    },
  };
}

/** A workspace with a campaign and a 1Win postback, through the real store. */
async function seedBasics(t: Target) {
  const store = await t.open();
  const acc = await store.createAccount({
    email: 'bench@example.com',
    passwordHash: 'x',
    workspaceName: 'Bench',
    at: Date.now(),
  });
  if (acc === 'email_taken') throw new Error('seed failed');
  const campaign = await store.createCampaign(
    acc.workspace.id,
    {
      name: 'Bench',
      description: '',
      buyer: 'bench',
      destinationUrl: 'https://t.me/bench_bot?start={{tracker.clickid}}',
    },
    () => randomAlphanumeric(8),
    Date.now(),
  );
  const postback = await store.createPostback(
    acc.workspace.id,
    {
      name: '1Win',
      network: '1win',
      campaignId: null,
      clickidParam: 'sub1',
      currency: 'USD',
      macros: {},
      enabled: true,
    },
    randomAlphanumeric(24),
    Date.now(),
  );
  const token = newToken();
  await store.createSession({
    tokenHash: hashToken(token),
    userId: acc.user.id,
    workspaceId: acc.workspace.id,
    at: Date.now(),
    expiresAt: Date.now() + 86_400_000,
  });
  await store.close();
  return { workspaceId: acc.workspace.id, campaign, postback, session: token };
}

async function seedLeads(
  t: Target,
  workspaceId: string,
  campaignIds: string[],
  count: number,
  since: number,
  span: number,
): Promise<string[]> {
  const clickids: string[] = [];
  const rows: Array<[string, string, string, string, number]> = [];
  for (let i = 0; i < count; i++) {
    const clickid = newClickid();
    clickids.push(clickid);
    rows.push([
      workspaceId,
      clickid,
      campaignIds[i % campaignIds.length] as string,
      `{"utm_source":"s${i % 7}"}`,
      since + Math.floor((i / count) * span),
    ]);
  }
  await t.insertLeads(rows);
  return clickids;
}

/** Lets requests still in flight when wrk stopped finish and commit. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 500));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** (c) Statistics over a large database, and start-up time on it. */
async function statsScenario() {
  const statsDb = await target('stats');
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

async function main() {
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  );
  console.log(
    `load: wrk, 2 threads, ${CONNECTIONS} connections, ${DURATION} s (after ${WARMUP} s warm-up)\n`,
  );
  const results: LoadResult[] = [];

  // Baseline. The host's speed drifts over minutes, so the bare server stays
  // up and is measured again after every scenario: each ratio is taken
  // against the mean of the baselines just before and after it.
  const baseline = await startBaseline();
  const baselineRps: number[] = [];
  const measureBaseline = async () => {
    await wrk(`${baseline.url}/`, WARMUP, null);
    const b = await measured(baseline.child.pid, () => wrk(`${baseline.url}/`, DURATION, null));
    baselineRps.push(b.rps);
    return b;
  };
  /** The ratio of a scenario just measured, after measuring the baseline again. */
  const ratioAround = async (rps: number) => {
    const before = baselineRps[baselineRps.length - 1] as number;
    const after = (await measureBaseline()).rps;
    return rps / ((before + after) / 2);
  };
  const base = await measureBaseline();
  results.push({
    scenario: 'baseline: bare node:http 200',
    rps: base.rps,
    p50Ms: base.p50Ms,
    p99Ms: base.p99Ms,
    errors: base.errors,
    peakRssMb: peakRss(baseline.child.pid),
    cpuUsPerRequest: base.cpuUsPerRequest,
    mainThreadBusy: base.mainThreadBusy,
    databaseCpuUsPerRequest: null,
    ratio: 1,
    check: '-',
  });

  // (a) Clicks.
  if (only('clicks')) {
    const db = await target('clicks');
    const seed = await seedBasics(db);
    const server = await startClickback(db.url);
    await wrk(server.url, WARMUP, 'clicks.lua', [seed.campaign.slug]);
    await settle(); // the warm-up's last requests commit before we count
    const before = await db.count('clicks');
    const r = await measured(server.child.pid, () =>
      wrk(server.url, DURATION, 'clicks.lua', [seed.campaign.slug]),
    );
    await settle();
    const rows = (await db.count('clicks')) - before;
    const ok = r.result.ok ?? 0;
    const peakRssMb = peakRss(server.child.pid);
    await stop(server.child);
    const ratio = await ratioAround(r.rps);
    results.push({
      scenario: 'clicks: GET /c/:campaign → 302',
      rps: r.rps,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      errors: r.errors,
      peakRssMb,
      cpuUsPerRequest: r.cpuUsPerRequest,
      mainThreadBusy: r.mainThreadBusy,
      databaseCpuUsPerRequest: r.databaseCpuUsPerRequest,
      ratio,
      check: `${ok} redirects, ${rows} clicks written${rows >= ok && rows - ok <= CONNECTIONS ? ' ✓' : ' ✗'}`,
    });
    await db.dispose();
  }

  // (b) Postbacks over existing leads, without and with 20% duplicates.
  for (const dupShare of only('postbacks') ? [0, 0.2] : []) {
    const db = await target(`postbacks_${dupShare * 100}`);
    const seed = await seedBasics(db);
    const clickids = await seedLeads(
      db,
      seed.workspaceId,
      [seed.campaign.id],
      POSTBACK_LEADS,
      Date.now() - 86_400_000,
      86_400_000,
    );
    const file = join(work, `clickids-${dupShare}.txt`);
    writeFileSync(file, `${clickids.join('\n')}\n`);
    const server = await startClickback(db.url);
    const scriptArgs = (run: string) => [seed.postback.token, String(dupShare), file, run];
    await wrk(server.url, WARMUP, 'postbacks.lua', scriptArgs('warm'));
    await settle(); // the warm-up's last requests commit before we count
    const before = await db.count('conversions');
    const logsBefore = await db.count('postback_logs');
    const r = await measured(server.child.pid, () =>
      wrk(server.url, DURATION, 'postbacks.lua', scriptArgs('run')),
    );
    await settle();
    const rows = (await db.count('conversions')) - before;
    const logs = (await db.count('postback_logs')) - logsBefore;
    const ok = r.result.ok ?? 0;
    const answered = ok + (r.result.duplicate ?? 0) + (r.result.other ?? 0);
    const exact =
      rows >= ok && rows - ok <= CONNECTIONS && logs >= answered && logs - answered <= CONNECTIONS;
    const peakRssMb = peakRss(server.child.pid);
    await stop(server.child);
    const ratio = await ratioAround(r.rps);
    results.push({
      scenario: `postbacks: deposits${dupShare ? ', 20% duplicates' : ''}`,
      rps: r.rps,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      errors: r.errors,
      peakRssMb,
      cpuUsPerRequest: r.cpuUsPerRequest,
      mainThreadBusy: r.mainThreadBusy,
      databaseCpuUsPerRequest: r.databaseCpuUsPerRequest,
      ratio,
      check: `${ok} recorded, ${r.result.duplicate ?? 0} duplicate; ${rows} conversions, ${logs} log rows${exact ? ' ✓' : ' ✗'}`,
    });
    await db.dispose();
  }

  await stop(baseline.child);
  const statsSummary = only('stats') ? await statsScenario() : null;

  console.log(
    `| scenario | requests/s | p50 ms | p99 ms | errors | server peak RSS MB | server CPU µs/request | main thread busy${POSTGRES ? ' | PostgreSQL CPU µs/request' : ''} | × baseline | database check |`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|---:|${POSTGRES ? '---:|' : ''}---:|---|`);
  for (const r of results) {
    const cpu = r.cpuUsPerRequest === null ? '-' : round1(r.cpuUsPerRequest);
    const busy = r.mainThreadBusy === null ? '-' : `${Math.round(r.mainThreadBusy * 100)}%`;
    const database = POSTGRES
      ? ` ${r.databaseCpuUsPerRequest === null ? '-' : round1(r.databaseCpuUsPerRequest)} |`
      : '';
    console.log(
      `| ${r.scenario} | ${Math.round(r.rps)} | ${round1(r.p50Ms)} | ${round1(r.p99Ms)} | ${r.errors} | ${r.peakRssMb ?? '-'} | ${cpu} | ${busy} |${database} ${r.ratio === null ? '-' : r.ratio.toFixed(2)} | ${r.check} |`,
    );
  }
  if (baselineRps.length > 1) {
    console.log(
      `\nbaseline requests/s, measured before the first scenario and after each: ${baselineRps.map((r) => Math.round(r).toLocaleString('en')).join(' → ')}; each ratio is against the mean of the two around it`,
    );
  }
  if (statsSummary) {
    console.log(
      `\nstatistics over ${STATS_CONVERSIONS.toLocaleString('en')} conversions / ${STATS_LEADS.toLocaleString('en')} leads (30 days, ${STATS_TZ}): by day ${statsSummary.dayMedianMs} ms, by campaign ${statsSummary.campaignMedianMs} ms (medians of 7; ${statsSummary.counted.toLocaleString('en')} conversions counted${statsSummary.counted === STATS_CONVERSIONS ? ' ✓' : ' ✗'})`,
    );
    console.log(
      `start-up to ready on that database: ${statsSummary.startupMedianMs} ms (median of 3)`,
    );
  }
  writeFileSync(
    join(ROOT, POSTGRES ? 'bench/results-postgres.json' : 'bench/results.json'),
    `${JSON.stringify({ at: new Date().toISOString(), engine: POSTGRES ? 'postgres' : 'sqlite', machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, connections: CONNECTIONS, durationSeconds: DURATION, baselineRps: baselineRps.map(Math.round), load: results, stats: statsSummary }, null, 2)}\n`,
  );
  console.log(`\nwritten: bench/${POSTGRES ? 'results-postgres' : 'results'}.json`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
