// What both benchmarks share: where a scenario's data lives (a fresh SQLite
// file or PostgreSQL schema), seeding it fast, and CPU time read from /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { hashToken, newToken } from '../src/domain/passwords.js';
import { newClickid, randomAlphanumeric } from '../src/domain/random-id.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { REBUILD_ROLLUPS_SQL } from '../src/store/sqlite/migrations.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import { statTicks } from './proc-stat.js';

/**
 * Where a scenario's data lives: a fresh SQLite file, or (DATABASE_URL=postgres://...)
 * a fresh schema on that server. The server under test gets `url`.
 */
/** `--name=value` options (`--name` alone is "true"). */
export function benchArgs(argv = process.argv.slice(2)): Map<string, string> {
  return new Map(
    argv.map((a) => {
      const [k, v] = a.replace(/^--/, '').split('=');
      return [k, v ?? 'true'] as [string, string];
    }),
  );
}

export interface Target {
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

/** The PostgreSQL server to measure against, when DATABASE_URL names one. */
export const POSTGRES = process.env.DATABASE_URL?.startsWith('postgres')
  ? process.env.DATABASE_URL
  : null;

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

/** A fresh database for a scenario; a SQLite file goes in `dir`. */
export async function target(name: string, dir: string): Promise<Target> {
  if (POSTGRES) return postgresTarget(name);
  const path = join(dir, `${name}.db`);
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
export async function seedBasics(t: Target) {
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

export async function seedLeads(
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

/** User and system CPU time in a /proc stat file, in clock ticks. */
function ticks(file: string): number {
  return statTicks(file, ['utime', 'stime']);
}

/** CPU time so far of a process (all threads) and of its main thread, in clock ticks. */
export function cpuTicks(pid: number | undefined): { all: number; main: number } | null {
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
export function databaseTicks(): number | null {
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
