// Carrying a single-machine install over: every row of a SQLite file copied
// into an empty PostgreSQL database in one transaction, ids kept, sequences
// moved past them, and row counts and money sums checked before COMMIT, so a
// failed run leaves the target exactly as it was. `npm run migrate-data` is
// its command line (src/cli/migrate-data.ts).
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from './postgres/postgres-store.js';

/**
 * Every table, parents before children, so each foreign key already has its
 * row. schema_migrations is not copied: the target's own migrations wrote it.
 */
export const TABLES = [
  'workspaces',
  'users',
  'sessions',
  'api_keys',
  'campaigns',
  'clicks',
  'leads',
  'lead_fields',
  'postbacks',
  'conversions',
  'fingerprints',
  'postback_logs',
  // Sealed secrets are copied as they are: the servers on PostgreSQL need the
  // same key (SECRET_KEY, or the SQLite install's data/secret.key).
  'destinations',
  'forward_routes',
  'outbox',
  'deliveries',
] as const;

/**
 * Tables derived from the others: not copied, the target's triggers build
 * them as the rows go in; verify() checks they agree with those rows.
 */
export const DERIVED = ['conversion_rollups', 'click_rollups', 'lead_rollups'] as const;

const DEFAULT_BATCH = 1000;
/** PostgreSQL's limit of parameters in one statement. */
const MAX_PARAMS = 65_535;
const PROGRESS_EVERY = 100_000;

export interface MigrateDataOptions {
  /** The SQLite file; opened read-only, never changed. */
  fromPath: string;
  /** postgres://... */
  toUrl: string;
  /** A schema to copy into (created and migrated if missing). */
  toSchema?: string;
  /** Rows per INSERT statement. */
  batchSize?: number;
  /** Progress lines for long copies. */
  log?: (line: string) => void;
}

export interface MigrateDataReport {
  /** Rows copied per table (equal on both sides, or nothing was committed). */
  tables: Record<string, number>;
  /** conversions.amount_micros summed per currency, as exact integer strings. */
  sums: Record<string, string>;
  /** Conversions per event. */
  events: Record<string, number>;
  /** Text values that held NUL, which PostgreSQL cannot store (now U+FFFD). */
  nulReplaced: number;
  ms: number;
}

/** A refusal or a failed check: the message is meant for the operator. */
export class MigrateDataError extends Error {
  override name = 'MigrateDataError';
}

type Convert = (value: unknown) => unknown;

interface TablePlan {
  name: string;
  columns: string[];
  converters: Convert[];
  hasId: boolean;
}

export async function migrateData(options: MigrateDataOptions): Promise<MigrateDataReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const source = openSource(options.fromPath);
  let client: pg.Client | undefined;
  try {
    checkSourceTables(source);
    // The store creates (or brings up to date) the target schema under its
    // advisory lock; the copy itself runs on a connection of its own.
    const store = await openPostgresStore({
      url: options.toUrl,
      poolSize: 1,
      ...(options.toSchema ? { schema: options.toSchema } : {}),
    });
    await store.close();
    client = new pg.Client({
      connectionString: options.toUrl,
      // openPostgresStore has already refused a schema name that needs more than quotes.
      ...(options.toSchema ? { options: `-c search_path="${options.toSchema}"` } : {}),
    });
    // A dropped connection surfaces as the failed query; this only keeps it from crashing.
    client.on('error', () => {});
    await client.connect();
    return await copy(source, client, options.batchSize ?? DEFAULT_BATCH, log, started);
  } finally {
    await client?.end().catch(() => {});
    source.close();
  }
}

function openSource(path: string): Database.Database {
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new MigrateDataError(`cannot open ${path}: ${(error as Error).message}`);
  }
}

/** Refuses a file that is not a current Clickback database: no table may be skipped silently. */
function checkSourceTables(source: Database.Database): void {
  const present = new Set(
    source
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[],
  );
  const missing = TABLES.filter((t) => !present.has(t));
  if (missing.length > 0) {
    throw new MigrateDataError(
      `the source has no table ${missing.join(', ')}: not a Clickback database, or one from an older version (start this version of Clickback on it once to migrate it)`,
    );
  }
  const known = new Set<string>([...TABLES, ...DERIVED, 'schema_migrations']);
  const unknown = [...present].filter((t) => !known.has(t));
  if (unknown.length > 0) {
    throw new MigrateDataError(
      `the source has tables this version does not know how to copy: ${unknown.join(', ')}`,
    );
  }
}

async function copy(
  source: Database.Database,
  target: pg.Client,
  batchSize: number,
  log: (line: string) => void,
  started: number,
): Promise<MigrateDataReport> {
  // One read transaction on the source: every table is read from the same
  // snapshot, even if a tracker is still writing to the file.
  source.exec('BEGIN');
  try {
    await target.query('BEGIN');
    // No node may write between the emptiness check and COMMIT; reads go on.
    await target.query(`LOCK TABLE ${TABLES.map(quote).join(', ')} IN EXCLUSIVE MODE`);
    await refuseNonEmpty(target);
    const nul = { count: 0 };
    const plans = await planTables(source, target, nul);
    const tables: Record<string, number> = {};
    for (const plan of plans) {
      tables[plan.name] = await copyTable(source, target, plan, batchSize, log);
    }
    if (nul.count > 0) {
      log(`${nul.count} text values held NUL bytes, which PostgreSQL cannot store: now U+FFFD`);
    }
    const totals = await verify(source, target, tables);
    // Only after the checks: setval is not undone by ROLLBACK.
    for (const plan of plans) {
      if (plan.hasId) await advanceSequence(target, plan.name);
    }
    await target.query('COMMIT');
    return {
      tables,
      ...totals,
      nulReplaced: nul.count,
      ms: Math.round(performance.now() - started),
    };
  } catch (error) {
    await target.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    source.exec('COMMIT');
  }
}

async function refuseNonEmpty(target: pg.Client): Promise<void> {
  const busy: string[] = [];
  for (const table of TABLES) {
    const { rows } = await target.query(`SELECT EXISTS (SELECT 1 FROM ${quote(table)}) AS busy`);
    if (rows[0]?.busy === true) busy.push(table);
  }
  if (busy.length > 0) {
    throw new MigrateDataError(
      `the target is not empty (rows in table ${busy.join(', ')}); migrate-data copies only into an empty database`,
    );
  }
}

/** Columns must match by name; each value is converted by the target column's type. */
async function planTables(
  source: Database.Database,
  target: pg.Client,
  nul: { count: number },
): Promise<TablePlan[]> {
  const { rows } = await target.query<{ table: string; column: string; type: string }>(
    `SELECT table_name AS table, column_name AS column, data_type AS type
     FROM information_schema.columns WHERE table_schema = current_schema()`,
  );
  return TABLES.map((name) => {
    const columns = (source.pragma(`table_info(${quote(name)})`) as { name: string }[]).map(
      (c) => c.name,
    );
    const types = new Map(rows.filter((r) => r.table === name).map((r) => [r.column, r.type]));
    const onlySource = columns.filter((c) => !types.has(c));
    const onlyTarget = [...types.keys()].filter((c) => !columns.includes(c));
    if (onlySource.length > 0 || onlyTarget.length > 0) {
      throw new MigrateDataError(
        `table ${name} differs between the engines (source only: ${onlySource.join(', ') || 'none'}; target only: ${onlyTarget.join(', ') || 'none'})`,
      );
    }
    return {
      name,
      columns,
      converters: columns.map((c) => converter(name, c, types.get(c) as string, nul)),
      hasId: columns.includes('id'),
    };
  });
}

/** SQLite's loose values as the PostgreSQL column wants them. */
function converter(table: string, column: string, type: string, nul: { count: number }): Convert {
  if (type === 'boolean') {
    return (v) => {
      if (v === null) return null;
      if (v === 1n || v === 1) return true;
      if (v === 0n || v === 0) return false;
      throw new MigrateDataError(`${table}.${column} holds ${String(v)}, not 0 or 1`);
    };
  }
  // Integers arrive as bigint (safeIntegers), so nothing above 2^53 is rounded.
  if (type === 'bigint' || type === 'integer') return (v) => (v === null ? null : String(v));
  const json = type === 'jsonb';
  return (v) => (typeof v === 'string' ? withoutNul(v, json, nul) : v);
}

async function copyTable(
  source: Database.Database,
  target: pg.Client,
  plan: TablePlan,
  batchSize: number,
  log: (line: string) => void,
): Promise<number> {
  const width = plan.columns.length;
  const perBatch = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMS / width)));
  const columnList = plan.columns.map(quote).join(', ');
  const read = source.prepare(`SELECT ${columnList} FROM ${quote(plan.name)}`).raw(true);
  read.safeIntegers(true);
  let batch: unknown[] = [];
  let rows = 0;
  const flush = async () => {
    const count = batch.length / width;
    const tuples = Array.from(
      { length: count },
      (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
    );
    try {
      await target.query(
        `INSERT INTO ${quote(plan.name)} (${columnList}) VALUES ${tuples.join(', ')}`,
        batch,
      );
    } catch (error) {
      throw new MigrateDataError(`copying ${plan.name} failed: ${(error as Error).message}`);
    }
    rows += count;
    batch = [];
    if (rows % PROGRESS_EVERY < count) log(`${plan.name}: ${rows} rows…`);
  };
  // The iterator keeps the statement open across the awaits; nothing else
  // runs on this connection until it is done.
  for (const row of read.iterate() as Iterable<unknown[]>) {
    for (let c = 0; c < width; c++) batch.push((plan.converters[c] as Convert)(row[c]));
    if (batch.length >= perBatch * width) await flush();
  }
  if (batch.length > 0) await flush();
  return rows;
}

/**
 * PostgreSQL text cannot hold NUL, nor jsonb an escaped one; the PostgreSQL
 * store writes U+FFFD instead, and so does the copy.
 */
function withoutNul(text: string, json: boolean, nul: { count: number }): string {
  let out = text;
  if (out.includes('\u0000')) out = out.replaceAll('\u0000', '\uFFFD');
  if (json && out.includes('\\u0000')) {
    out = JSON.stringify(JSON.parse(out), (_, v) =>
      typeof v === 'string' ? v.replaceAll('\u0000', '\uFFFD') : v,
    );
  }
  if (out !== text) nul.count++;
  return out;
}

/** The next id of each BIGSERIAL must come after the copied ones. */
async function advanceSequence(target: pg.Client, table: string): Promise<void> {
  await target.query(
    `SELECT setval(seq, COALESCE(top, 1), top IS NOT NULL)
     FROM (SELECT pg_get_serial_sequence($1, 'id') AS seq, (SELECT max(id) FROM ${quote(table)}) AS top) s
     WHERE seq IS NOT NULL`,
    [table],
  );
}

/** Counts and money, read from both sides inside both transactions. */
async function verify(
  source: Database.Database,
  target: pg.Client,
  copied: Record<string, number>,
): Promise<{ sums: Record<string, string>; events: Record<string, number> }> {
  const problems: string[] = [];
  for (const table of TABLES) {
    const want = String(
      source
        .prepare(`SELECT count(*) FROM ${quote(table)}`)
        .pluck()
        .get(),
    );
    const { rows } = await target.query(`SELECT count(*)::text AS n FROM ${quote(table)}`);
    const got = String(rows[0]?.n);
    if (want !== got || String(copied[table]) !== want) {
      problems.push(`${table}: ${want} rows in the source, ${got} in the target`);
    }
  }

  // Summed in bigint here: SQLite's SUM stops with an error past 2^63.
  const sourceSums = new Map<string, bigint>();
  const amounts = source.prepare('SELECT currency, amount_micros FROM conversions').raw(true);
  amounts.safeIntegers(true);
  for (const [currency, amount] of amounts.iterate() as Iterable<[string, bigint | null]>) {
    const key = currency.replaceAll('\u0000', '\uFFFD');
    sourceSums.set(key, (sourceSums.get(key) ?? 0n) + (amount ?? 0n));
  }
  const sums = toRecord(sourceSums);
  const targetSums = await target.query<{ key: string; value: string }>(
    'SELECT currency AS key, COALESCE(sum(amount_micros), 0)::text AS value FROM conversions GROUP BY currency',
  );
  compare('sum of amount_micros in', sums, targetSums.rows, problems);

  const sourceEvents = source
    .prepare('SELECT event, count(*) FROM conversions GROUP BY event')
    .raw(true)
    .all() as [string, number][];
  const events = Object.fromEntries(
    sourceEvents.map(([event, n]) => [event.replaceAll('\u0000', '\uFFFD'), n]),
  );
  const targetEvents = await target.query<{ key: string; value: string }>(
    'SELECT event AS key, count(*)::text AS value FROM conversions GROUP BY event',
  );
  compare(
    'conversions of event',
    toRecord(new Map(Object.entries(events))),
    targetEvents.rows,
    problems,
  );

  for (const rollup of ROLLUP_CHECKS) {
    const { rows } = await target.query(rollup.sql);
    const wrong = Number(rows[0]?.wrong);
    if (wrong > 0) problems.push(`${rollup.name} disagrees with its rows in ${wrong} buckets`);
  }

  if (problems.length > 0) {
    throw new MigrateDataError(
      `verification failed, nothing was committed: ${problems.join('; ')}`,
    );
  }
  return { sums, events };
}

/**
 * Every bucket of every statistics rollup, summed over its shards, against
 * the same bucket counted from the copied rows (the definitions of migration
 * 5). A bucket whose counts all came back to zero counts as no bucket.
 */
const ROLLUP_CHECKS = [
  {
    name: 'conversion_rollups',
    keys: 'workspace_id, bucket, campaign_id, postback_id, event, currency',
    rows: `SELECT workspace_id, at - ((at % 900000) + 900000) % 900000 AS bucket,
        coalesce(campaign_id, 0) AS campaign_id, coalesce(postback_id, 0) AS postback_id, event, currency,
        count(*) AS n, count(amount_micros) AS priced, coalesce(sum(amount_micros), 0) AS micros,
        coalesce(sum(least(amount_micros, 0)), 0) AS negative_micros
      FROM conversions GROUP BY 1, 2, 3, 4, 5, 6`,
    sums: ['n', 'priced', 'micros', 'negative_micros'],
  },
  {
    name: 'click_rollups',
    keys: 'workspace_id, bucket, campaign_id',
    rows: `SELECT workspace_id, at - ((at % 900000) + 900000) % 900000 AS bucket,
        campaign_id, count(*) AS n
      FROM clicks GROUP BY 1, 2, 3`,
    sums: ['n'],
  },
  {
    name: 'lead_rollups',
    keys: 'workspace_id, bucket, campaign_id',
    rows: `SELECT workspace_id, created_at - ((created_at % 900000) + 900000) % 900000 AS bucket,
        coalesce(campaign_id, 0) AS campaign_id, count(*) AS n
      FROM leads GROUP BY 1, 2, 3`,
    sums: ['n'],
  },
].map(({ name, keys, rows, sums }) => ({
  name,
  sql: `WITH r AS (
      SELECT ${keys}, ${sums.map((c) => `sum(${c}) AS ${c}`).join(', ')} FROM ${name}
      GROUP BY ${keys} HAVING ${sums.map((c) => `sum(${c}) <> 0`).join(' OR ')}
    ), c AS (${rows})
    SELECT count(*) AS wrong FROM r FULL JOIN c USING (${keys})
    WHERE ${sums.map((c) => `r.${c} IS DISTINCT FROM c.${c}`).join(' OR ')}`,
}));

function toRecord(values: Map<string, bigint | number>): Record<string, string> {
  return Object.fromEntries([...values].map(([k, v]) => [k, String(v)]));
}

function compare(
  what: string,
  want: Record<string, string>,
  got: { key: string; value: string }[],
  problems: string[],
): void {
  const target = new Map(got.map((r) => [r.key, r.value]));
  for (const key of new Set([...Object.keys(want), ...target.keys()])) {
    const a = want[key] ?? 'none';
    const b = target.get(key) ?? 'none';
    if (a !== b) problems.push(`${what} ${key}: ${a} in the source, ${b} in the target`);
  }
}

function quote(name: string): string {
  return `"${name}"`;
}
