// PostgreSQL: the engine for several app nodes on one database. Same
// contract as the embedded engine; the counting rules are the same unique keys,
// so concurrent copies of a postback on different nodes still count once.
import pg from 'pg';
import {
  ALL_CONVERSIONS,
  type DestinationSettings,
  type Subject,
} from '../../domain/forwarding.js';
import type { NetworkMacros } from '../../domain/presets.js';
import { type DeliveryFacts, HEALTH_WINDOW, PENDING_LIMIT } from '../../domain/source-health.js';
import { planStats, type StatsRead } from '../stats-plan.js';
import type {
  Account,
  ApiKey,
  Campaign,
  CampaignInput,
  ClaimInput,
  Conversion,
  DeliveryAttempt,
  DeliveryEntry,
  DeliveryFilter,
  DeliveryJob,
  DeliveryLease,
  DeliveryOutcome,
  Destination,
  DestinationInput,
  FinishedDelivery,
  Lead,
  LeadDetail,
  LeadSummary,
  LogEntry,
  LogFilter,
  LogOutcome,
  LogRequest,
  NewClick,
  NewLead,
  Page,
  PostbackConfig,
  PostbackInput,
  PrunedLogs,
  RecordEvent,
  RecordOutcome,
  StatsQuery,
  StatsRow,
  Store,
} from '../store.js';
import { emptyStatsRow, StoreRefusal } from '../store.js';
import { prefixEnd } from '../text-prefix.js';
import { isStorageUnavailable } from '../unavailable.js';
import { GroupPacer } from './group-pacer.js';
import { MIGRATIONS, type PostgresMigration } from './migrations.js';

type Row = Record<string, unknown>;
type Db = pg.Pool | pg.PoolClient;

const MAX_UNIQUE_RETRIES = 8;
const MAX_TX_RETRIES = 5;
/** Any constant: one lock id for "this database is being migrated". */
const MIGRATION_LOCK = 0x636c6b62;

export interface PostgresOptions {
  url: string;
  poolSize: number;
  /** Waiting for a connection (new, or free in the pool) fails after this; none when absent. */
  connectTimeoutMs?: number;
  /**
   * A statement unanswered this long fails and its connection is dropped;
   * none when absent. The database ends a transaction of ours left idle as
   * long: its client has given up on it, and its locks (a conversion's unique
   * keys) would hold up the network's retry.
   */
  queryTimeoutMs?: number;
  /** A schema to live in (tests give each run its own); created if missing. */
  schema?: string;
}

export async function openPostgresStore(options: PostgresOptions): Promise<PostgresStore> {
  const searchPath = options.schema
    ? { options: `-c search_path=${quoteIdent(options.schema)}` }
    : {};
  const connectTimeout = options.connectTimeoutMs
    ? { connectionTimeoutMillis: options.connectTimeoutMs }
    : {};
  // Migrations run first, on a connection of their own without the statement
  // timeout: waiting for another node's migrations, or building an index over
  // a large table, may take minutes.
  const migrator = new pg.Client({
    connectionString: options.url,
    ...connectTimeout,
    ...searchPath,
  });
  // Its error, should the server end it, is its next query's (and start-up's).
  migrator.on('error', () => {});
  try {
    await migrator.connect();
    await migrate(migrator, MIGRATIONS, options.schema);
  } finally {
    await migrator.end().catch(() => {});
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    ...connectTimeout,
    ...(options.queryTimeoutMs
      ? {
          query_timeout: options.queryTimeoutMs,
          idle_in_transaction_session_timeout: options.queryTimeoutMs,
        }
      : {}),
    ...searchPath,
  });
  // An idle client's network error must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor may a checked-out one's: a connection the server ends (a restart, a
  // failover, pg_terminate_backend) between two queries of a transaction
  // emits 'error' on its client, and the pool listens only to idle ones. The
  // next query on it fails instead (503 storage_unavailable), and the pool
  // drops it when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return new PostgresStore(pool);
}

/**
 * Rolls back a failed transaction. A connection that failed for want of the
 * database (ended, unreachable, a statement left unanswered) is not asked
 * anything more: its error is returned, for the pool to drop it on release,
 * and the database rolls back when the connection closes. So is one whose
 * ROLLBACK fails.
 */
async function rollBack(client: pg.PoolClient, error: unknown): Promise<Error | undefined> {
  if (isStorageUnavailable(error)) return error as Error;
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (failure) {
    return failure instanceof Error ? failure : new Error(String(failure));
  }
}

function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name "${name}"`);
  return `"${name}"`;
}

async function migrate(
  client: pg.Client,
  migrations: PostgresMigration[],
  schema?: string,
): Promise<void> {
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const applied = new Set(
      (await client.query('SELECT version FROM schema_migrations')).rows.map((r) =>
        Number(r.version),
      ),
    );
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        if (m.sql !== undefined) await client.query(m.sql);
        await m.apply?.(client);
        await client.query(
          'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [m.version, m.name, Date.now()],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(error as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
  }
}

/**
 * One destination's delivery facts (Store.destinationHealth): its newest
 * delivered attempt (index deliveries_delivered), the failed attempts among
 * its newest $2 since then (deliveries_destination), and its waiting events
 * up to $3 (outbox_pending). Each part stops at its bound.
 *
 * `destination_id = ANY(ARRAY[$1])`, ordered by destination then id, is what
 * keeps the planner on the destination's indexes: with `= $1` the destination
 * is a constant, ordering by id alone is left, and the primary key walked
 * backwards offers that too. On a log where one destination's rows are
 * common, the planner took it, and read every row newer than the one it
 * wanted (500,000 rows, 221 ms, against 0.02 ms by the index).
 */
const DESTINATION_HEALTH_SQL = `
WITH delivered AS (
  SELECT id, at FROM deliveries
  WHERE destination_id = ANY(ARRAY[$1::bigint]) AND status = 'delivered'
  ORDER BY destination_id DESC, id DESC LIMIT 1
), recent AS (
  SELECT id, at, status FROM deliveries
  WHERE destination_id = ANY(ARRAY[$1::bigint]) AND id > coalesce((SELECT id FROM delivered), 0)
  ORDER BY destination_id DESC, id DESC LIMIT $2
), failed AS (
  SELECT id, at, status FROM recent WHERE status IN ('retrying', 'failed')
), last_failed AS (
  SELECT at, error FROM deliveries WHERE id = (SELECT max(id) FROM failed)
)
SELECT
  (SELECT at FROM delivered) AS delivered_at,
  (SELECT count(*) FROM failed) AS failed,
  (SELECT count(*) FROM failed WHERE status = 'failed') AS gave_up,
  (SELECT min(at) FROM failed) AS failing_since,
  (SELECT at FROM last_failed) AS failed_at,
  (SELECT error FROM last_failed) AS error,
  (SELECT count(*) FROM (
    SELECT 1 FROM outbox WHERE destination_id = $1 AND status = 'pending'
    ORDER BY destination_id, next_at, id LIMIT $3
  ) waiting) AS pending`;

function id(value: string | undefined | null): string | null {
  if (value === undefined || value === null || !/^[1-9]\d{0,17}$/.test(value)) return null;
  return value;
}

function str(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function num(value: unknown): number {
  return Number(value);
}

/** Whether an outbox row (read with its lease columns) is still held by `lease`. */
function holds(row: Row, lease: DeliveryLease): boolean {
  return row.lease_owner === lease.owner && num(row.lease_until) === lease.until;
}

function micros(value: unknown): bigint | null {
  return value === null || value === undefined ? null : BigInt(value as string);
}

function code(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

const isUniqueViolation = (error: unknown) => code(error) === '23505';
/**
 * The most writes one group commit takes (counted postbacks, log rows; clicks
 * have their own one-statement batches). A group's postbacks share one
 * statement for their first attempts (FIRST_ATTEMPTS_SQL), but anything after
 * it (a duplicate's lookup, fields) runs one after another; its deliveries
 * and log rows are written together just before COMMIT.
 */
const MAX_BATCH = 32;
/**
 * Groups committing at once (see GroupPacer). In alternated 6 s runs of the
 * postbacks scenario of npm run bench on two cores (PostgreSQL on the same
 * machine), groups of at most 16 and no limit averaged 6.7 writes a group
 * with up to 9 at once: 7,250-7,760 postbacks/s at 102-106 µs of PostgreSQL
 * CPU and 78-86 µs of server CPU each. Two at once of at most 32: 8,450-8,590
 * postbacks/s at 71-74 and 65-66 µs, p99 unchanged (8.3-9.5 ms). One at once
 * spent the least CPU (59 µs each) but waited on round trips (7,830/s); three
 * or four spent more. Later, on two shared cores and counting PostgreSQL's CPU
 * by its own processes (8 s bench runs, alternated, a noisy host), one at a
 * time made groups of about 16 instead of 10: PostgreSQL's CPU per postback
 * 85-159 µs against 128-189 µs in two runs each, since every group pays a
 * durable COMMIT (by pgbench, a one-row write transaction cost PostgreSQL
 * about 55 µs of CPU more than an empty one), its round trips (about 13 µs
 * each) and its statements' starts and rollup triggers whatever its size.
 */
const MAX_GROUPS_IN_FLIGHT = 1;
/** The longest a write waits for a slot before another group starts anyway. */
const GROUP_WAIT_MS = 20;
/** A group's COMMIT that went unanswered: how long to find out what became of it, and how often to ask. */
const COMMIT_OUTCOME_MS = 1_000;
const COMMIT_OUTCOME_WAIT_MS = 50;

interface FirstAttempt {
  /** $1-$11 of the folded statement in countEvent, then $12-$22 of FIRST_ATTEMPTS_SQL (its log row). */
  values: unknown[];
  clickid: string;
  /** The plan has further attempts, run after the first one if it counts nothing. */
  more: boolean;
}

interface PendingWrite<T> {
  /** `first`: this write's row of FIRST_ATTEMPTS_SQL, when its group ran it. */
  fn: (client: pg.PoolClient, first?: Row) => Promise<T>;
  /** A postback's first counting attempt, for FIRST_ATTEMPTS_SQL. */
  firstAttempt?: FirstAttempt;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** Something that happened, to be queued for the destinations routed to it (see enqueue). */
interface PendingDelivery {
  subject: Subject;
  subjectId: string;
  leadId: string;
  campaignId: string;
  event: string;
  at: number;
}

interface PendingClick {
  click: NewClick;
  /** Clickids drawn for it so far (one more after each clash). */
  draws: number;
  resolve: (lead: Lead) => void;
  reject: (error: unknown) => void;
}

/**
 * The most clicks one statement writes. Not tuned: the bench's 32
 * connections never fill it.
 */
const MAX_CLICK_BATCH = 64;
/**
 * Click statements running at once; the clicks that arrive meanwhile wait
 * and form the next one (see GroupPacer), as postback groups do. A statement
 * per turn of the event loop, any number at once, wrote about 9 clicks each
 * under the bench's load; one at a time, about 15, and PostgreSQL's CPU per
 * click was 52-59 µs against 80-125 µs (the statement's start, its two
 * rollup triggers and its durable commit are paid per statement).
 */
const MAX_CLICK_STATEMENTS_IN_FLIGHT = 1;

const statementNames = new Map<string, string>();
/** Filters make some texts vary; past this many, new texts run unnamed. */
const MAX_NAMED_STATEMENTS = 500;

/** A stable name per SQL text, so each connection prepares it once. */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `cb${statementNames.size}`;
    statementNames.set(text, name);
  }
  return name;
}

/** The outbox row a delivery starts as: enqueue() and the one-statement click both write it. */
const OUTBOX_INSERT =
  'INSERT INTO outbox (workspace_id, campaign_id, destination_id, subject, subject_id, lead_id, event, occurrence, event_at, status, next_at, created_at, queued_at)';

/**
 * Clicks as one statement, without a transaction around it: each click's row,
 * its lead and the deliveries of a campaign that forwards clicks, for a whole
 * batch (one array per column). A lead whose clickid is taken already is left
 * out, and so is its click row: the caller draws again. Rows come back in the
 * input's order, with the lead's columns null for a clash. The id sequence
 * is found once per statement (the subquery runs once): called per row,
 * pg_get_serial_sequence parsed and looked up the table's name every time.
 */
const CLICKS_SQL = `WITH input AS MATERIALIZED (
  SELECT nextval((SELECT pg_get_serial_sequence('clicks', 'id')::regclass)) AS click_id, t.*
  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
    WITH ORDINALITY AS t(workspace_id, campaign_id, at, ip, user_agent, referrer, params, clickid, n)
), l AS (
  INSERT INTO leads (workspace_id, clickid, campaign_id, click_id, params, created_at)
  SELECT workspace_id, clickid, campaign_id, click_id, params::jsonb, at FROM input ORDER BY n
  ON CONFLICT (clickid) DO NOTHING RETURNING *
), c AS (
  INSERT INTO clicks (id, workspace_id, campaign_id, at, ip, user_agent, referrer, params)
  SELECT i.click_id, i.workspace_id, i.campaign_id, i.at, i.ip, i.user_agent, i.referrer, i.params::jsonb
  FROM input i JOIN l ON l.click_id = i.click_id ORDER BY i.n
), o AS (
  ${OUTBOX_INSERT}
  SELECT d.workspace_id, d.campaign_id, d.id, 'click', l.id, l.id, 'click', 1, l.created_at, 'pending', l.created_at, l.created_at, l.created_at
  FROM l JOIN forward_routes r ON r.campaign_id = l.campaign_id AND r.event IN ('click', 'click#1')
  JOIN destinations d ON d.id = r.destination_id
  ON CONFLICT DO NOTHING RETURNING 1
)
SELECT l.*, (SELECT count(*) FROM o) AS queued
FROM input LEFT JOIN l ON l.click_id = input.click_id ORDER BY input.n`;

/** A conversion insert's values after workspace, lead and campaign ($4-$11 in the statements of countEvent). */
function attemptValues(
  input: RecordEvent,
  event: string,
  onceKey: string | null,
  tidKey: string | null,
): unknown[] {
  return [
    id(input.postbackId),
    event,
    input.micros === null ? null : input.micros.toString(),
    input.currency,
    input.tid,
    onceKey,
    tidKey,
    input.at,
  ];
}

/**
 * The values ($1-$11) of a postback's first counting attempt folded with its
 * lead lookup; undefined when that attempt claims a fingerprint first.
 */
function firstAttemptValues(input: RecordEvent): unknown[] | undefined {
  const first = input.plan[0];
  if (first === undefined || first.fingerprint !== null) return undefined;
  return [
    id(input.workspaceId),
    input.clickid,
    input.scopeCampaignId,
    ...attemptValues(input, first.event, first.onceKey, first.tidKey),
  ];
}

/**
 * $12-$22 of FIRST_ATTEMPTS_SQL: whether the postback is logged, whether its
 * plan has further attempts, and its log row's values that do not depend on
 * the outcome (deferLog's, the note logged when it counts).
 */
function groupLogValues(input: RecordEvent, more: boolean): unknown[] {
  const log = input.log;
  return [
    log !== null,
    more,
    id(log?.workspaceId),
    id(log?.postbackId),
    log?.at ?? null,
    log?.method ?? null,
    log?.url ?? null,
    log?.ip ?? null,
    log?.userAgent ?? null,
    log?.body ?? null,
    input.note,
  ];
}

/**
 * The first counting attempt of every postback in a group commit, as one
 * statement (one array per value of the single-postback statement in
 * countEvent): each postback's lead, whether its campaign forwards, and its
 * conversion inserted if the lead is in scope and no key says duplicate. Rows
 * come back in the input's order, `inserted` null where nothing was inserted.
 * For those, the conversions holding the attempt's tid and once keys, as far
 * as the statement sees (not the rows it inserts itself): a duplicate of a
 * conversion committed before needs no further round trip.
 * Conversions go in by clickid, so the first attempts of groups on several
 * connections take their keys in one order; what runs after the statement (a
 * further attempt, fields) goes in the order the writes came, so two groups
 * can still deadlock: PostgreSQL then aborts one, and its writes run again
 * one by one. (The leads that deliveries lock are locked last, in id order.) Ids are drawn up front to tell which input an inserted
 * row belongs to; a row not inserted leaves a gap in the sequence. Lookups are
 * LATERAL ... LIMIT 1, so they stay index lookups per row even in a plan made
 * while the tables were empty (a join there became a hash join over a
 * sequential scan of every conversion once the table had grown). The id
 * sequence is found once per statement, as in CLICKS_SQL (per row it was 4%
 * of PostgreSQL's CPU time under postback load, by perf).
 *
 * A postback whose outcome the statement settles (no lead or another
 * campaign's: unmatched; inserted: recorded; a conversion committed before
 * holds its tid, or its once key on its last attempt: duplicate, as
 * countEvent reads the same row) has its log row written by the statement
 * too (`logged`), with the values ($12-$22) recordEvent would log: the group
 * then needs no statement for its log rows before COMMIT, a round trip and a
 * statement start fewer. The others' rows are written as before (writeLogs).
 */
const FIRST_ATTEMPTS_SQL = `WITH input AS MATERIALIZED (
  SELECT nextval((SELECT pg_get_serial_sequence('conversions', 'id')::regclass)) AS conversion_id, t.*
  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[],
      $12::boolean[], $13::boolean[], $14::bigint[], $15::bigint[], $16::bigint[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[])
    WITH ORDINALITY AS t(workspace_id, clickid, scope, postback_id, event, micros, currency, tid, once_key, tid_key, at,
      logs, more, log_workspace_id, log_postback_id, log_at, method, url, ip, user_agent, body, note, n)
), lead AS (
  SELECT i.n, l.id, l.campaign_id,
    EXISTS (SELECT 1 FROM forward_routes r WHERE r.campaign_id = l.campaign_id) AS routed
  FROM input i CROSS JOIN LATERAL (
    SELECT id, campaign_id FROM leads WHERE clickid = i.clickid AND workspace_id = i.workspace_id LIMIT 1
  ) l
), ins AS (
  INSERT INTO conversions (id, workspace_id, lead_id, campaign_id, postback_id, event, amount_micros, currency, tid, once_key, tid_key, at)
  SELECT i.conversion_id, i.workspace_id, lead.id, lead.campaign_id, i.postback_id, i.event, i.micros, i.currency, i.tid, i.once_key, i.tid_key, i.at
  FROM input i JOIN lead ON lead.n = i.n
  WHERE i.scope IS NULL OR lead.campaign_id::text = i.scope
  ORDER BY i.clickid, i.n
  ON CONFLICT DO NOTHING RETURNING id
), result AS (
  SELECT input.*, lead.id AS lead_id, lead.campaign_id, lead.routed, ins.id AS inserted,
    tid.id AS tid_id, tid.event AS tid_event, once.id AS once_id, once.event AS once_event
  FROM input LEFT JOIN lead ON lead.n = input.n LEFT JOIN ins ON ins.id = input.conversion_id
  LEFT JOIN LATERAL (
    SELECT id, event FROM conversions
    WHERE ins.id IS NULL AND lead_id = lead.id AND tid_key = input.tid_key LIMIT 1
  ) tid ON true
  LEFT JOIN LATERAL (
    SELECT id, event FROM conversions
    WHERE ins.id IS NULL AND lead_id = lead.id AND once_key = input.once_key LIMIT 1
  ) once ON true
), decided AS (
  SELECT r.*, CASE
      WHEN r.lead_id IS NULL THEN 'unknown_clickid'
      WHEN r.scope IS NOT NULL AND r.campaign_id::text IS DISTINCT FROM r.scope THEN 'campaign_mismatch'
      WHEN r.inserted IS NOT NULL THEN 'recorded'
      WHEN r.tid_id IS NOT NULL THEN 'tid'
      WHEN r.tid_key IS NULL AND r.once_id IS NOT NULL AND NOT r.more THEN 'once'
    END AS how
  FROM result r
), logged AS (
  INSERT INTO postback_logs (workspace_id, postback_id, at, method, url, ip, user_agent, body, http_status, status, error, event, clickid, conversion_id)
  SELECT log_workspace_id, log_postback_id, log_at, method, url, ip, user_agent, body, 200,
    CASE how WHEN 'recorded' THEN 'recorded' WHEN 'tid' THEN 'duplicate' WHEN 'once' THEN 'duplicate' ELSE 'unmatched' END,
    CASE WHEN how IN ('unknown_clickid', 'campaign_mismatch') THEN how ELSE note END,
    CASE how WHEN 'tid' THEN tid_event WHEN 'once' THEN once_event ELSE event END,
    clickid,
    CASE how WHEN 'recorded' THEN inserted WHEN 'tid' THEN tid_id WHEN 'once' THEN once_id END
  FROM decided WHERE logs AND how IS NOT NULL
  ORDER BY n
)
SELECT lead_id AS id, campaign_id, routed, inserted, tid_id, tid_event, once_id, once_event,
  logs AND how IS NOT NULL AS logged
FROM decided ORDER BY n`;

/**
 * The writes of a group whose first attempts share one statement, in order;
 * none if fewer than two would. A postback whose plan has further attempts
 * (a first deposit with a tid) shares only when no other postback of the
 * group names its clickid: those attempts run after the statement, so another
 * postback of the lead that came later could get ahead of it, and the lead's
 * fields and the order of its conversion ids would then disagree with the
 * order the outcomes say they ran in.
 */
function sharingFirstAttempts(writes: Array<PendingWrite<unknown>>): Array<PendingWrite<unknown>> {
  const perClickid = new Map<string, number>();
  for (const w of writes) {
    if (w.firstAttempt) {
      perClickid.set(w.firstAttempt.clickid, (perClickid.get(w.firstAttempt.clickid) ?? 0) + 1);
    }
  }
  const sharing = writes.filter(
    (w) => w.firstAttempt && (!w.firstAttempt.more || perClickid.get(w.firstAttempt.clickid) === 1),
  );
  return sharing.length >= 2 ? sharing : [];
}

/** Deadlock or serialization failure: the whole transaction may simply run again. */
const isRetryable = (error: unknown) => code(error) === '40P01' || code(error) === '40001';

function encodeCursor(value: string): string {
  return Buffer.from(value).toString('base64url');
}

/** The row a page starts after; a cursor this API did not give out is refused (400). */
function decodeCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  const after = id(Buffer.from(cursor, 'base64url').toString());
  // Node's base64url decoding skips what is not base64url: only one given out encodes back.
  if (after === null || encodeCursor(after) !== cursor) {
    throw new StoreRefusal('invalid_cursor', 'cursor is not one this API gave out');
  }
  return after;
}

function toCampaign(r: Row): Campaign {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    slug: r.slug as string,
    name: r.name as string,
    description: r.description as string,
    buyer: r.buyer as string,
    destinationUrl: r.destination_url as string,
    createdAt: num(r.created_at),
  };
}

function toApiKey(r: Row): ApiKey {
  return {
    id: String(r.id),
    name: r.name as string,
    prefix: r.prefix as string,
    createdAt: num(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : num(r.last_used_at),
  };
}

function toPostback(r: Row): PostbackConfig {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    token: r.token as string,
    name: r.name as string,
    network: r.network as PostbackConfig['network'],
    campaignId: str(r.campaign_id),
    clickidParam: r.clickid_param as string,
    currency: r.currency as string,
    macros: r.macros as NetworkMacros,
    enabled: r.enabled === true,
    deleted: r.deleted_at !== null,
    createdAt: num(r.created_at),
  };
}

function toLead(r: Row): Lead {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    clickid: r.clickid as string,
    campaignId: str(r.campaign_id),
    externalId: str(r.external_id),
    username: str(r.username),
    params: (r.params ?? {}) as Record<string, string>,
    createdAt: num(r.created_at),
  };
}

function toDestination(r: Row): Destination {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    campaignId: String(r.campaign_id),
    name: r.name as string,
    enabled: r.enabled === true,
    settings: JSON.parse(r.settings as string) as DestinationSettings,
    secret: str(r.secret),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    deleted: r.deleted_at !== null,
    revision: num(r.revision),
  };
}

function toAccount(r: Row): Account {
  return {
    user: { id: String(r.id), email: r.email as string },
    workspace: { id: String(r.workspace_id), name: r.workspace_name as string },
  };
}

function like(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

export class PostgresStore implements Store {
  readonly engine = 'postgres';

  /** Connections whose open transaction queued deliveries; the listener hears of it after COMMIT. */
  private readonly queued = new WeakSet<pg.PoolClient>();
  /** Postback-log rows of a connection's open transaction, written together before its COMMIT. */
  private readonly logRows = new WeakMap<pg.PoolClient, unknown[][]>();
  /** Deliveries a connection's open transaction queues, written together before its COMMIT. */
  private readonly deliveries = new WeakMap<pg.PoolClient, PendingDelivery[]>();
  private outboxListener: (() => void) | null = null;
  /** Group commit of the hot writes (see batched). */
  private readonly writes = new GroupPacer<PendingWrite<unknown>>(
    (group) =>
      this.commitTogether(group).catch((error: unknown) => {
        for (const w of group) w.reject(error);
      }),
    { maxGroup: MAX_BATCH, maxInFlight: MAX_GROUPS_IN_FLIGHT, waitMs: GROUP_WAIT_MS },
  );
  /** Clicks waiting for the next one-statement batch (see recordClick). */
  private readonly clicks = new GroupPacer<PendingClick>((batch) => this.writeClicks(batch), {
    maxGroup: MAX_CLICK_BATCH,
    maxInFlight: MAX_CLICK_STATEMENTS_IN_FLIGHT,
    waitMs: GROUP_WAIT_MS,
  });

  constructor(private readonly pool: pg.Pool) {}

  onOutbox(listener: () => void): void {
    this.outboxListener = listener;
  }

  /**
   * Every statement goes through here: PostgreSQL text cannot hold NUL bytes.
   * Each distinct SQL text is a named statement, parsed and planned once per
   * connection instead of on every call.
   */
  private run(db: Db, text: string, values: unknown[] = []) {
    const clean = (v: string) => (v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v);
    return db.query({
      name: statementName(text),
      text,
      values: values.map((v) => {
        if (typeof v === 'string') return clean(v);
        if (Array.isArray(v)) return v.map((e) => (typeof e === 'string' ? clean(e) : e));
        // Objects go to jsonb columns, which refuse an escaped NUL as well.
        if (v !== null && typeof v === 'object') {
          return JSON.stringify(v).replaceAll('\\u0000', '\\ufffd');
        }
        return v;
      }),
    });
  }

  private async one(db: Db, text: string, values: unknown[] = []): Promise<Row | undefined> {
    return (await this.run(db, text, values)).rows[0] as Row | undefined;
  }

  private async all(db: Db, text: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.run(db, text, values)).rows as Row[];
  }

  /**
   * One transaction on one connection, run again on a deadlock. The outbox
   * listener is told only once a transaction that queued deliveries has
   * committed; a rolled-back or retried one leaves no trace.
   */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let result: T;
      let queued = false;
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        result = await fn(client);
        await this.writeDeliveries(client);
        await this.writeLogs(client);
        await client.query('COMMIT');
      } catch (error) {
        broken = await rollBack(client, error);
        if (!isRetryable(error) || attempt >= MAX_TX_RETRIES) throw error;
        continue;
      } finally {
        queued = this.queued.delete(client);
        this.logRows.delete(client);
        this.deliveries.delete(client);
        client.release(broken);
      }
      if (queued) this.outboxListener?.();
      return result;
    }
  }

  /**
   * Group commit for the hot writes (counted postbacks, log rows):
   * the writes that arrive in one turn of the event loop run one after another
   * in one transaction on one connection, and every caller is answered after
   * its COMMIT. One durable commit then serves many requests. If any of them
   * throws (or the batch meets a deadlock with another node's), the batch is
   * rolled back and each write runs again in a transaction of its own, so one
   * bad write fails alone. Writes are pure database work: running one again
   * after a rollback is safe.
   */
  private batched<T>(
    fn: (client: pg.PoolClient, first?: Row) => Promise<T>,
    firstAttempt?: FirstAttempt,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.writes.push({ fn, firstAttempt, resolve, reject } as PendingWrite<unknown>);
    });
  }

  private async commitTogether(writes: Array<PendingWrite<unknown>>): Promise<void> {
    if (writes.length === 1) {
      const [only] = writes as [PendingWrite<unknown>];
      await this.tx(only.fn).then(only.resolve, only.reject);
      return;
    }
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      for (const w of writes) w.reject(error);
      return;
    }
    let results: unknown[] | null = null;
    let queued = false;
    let broken: Error | undefined;
    /** The transaction's id, and whether its COMMIT was sent: see commitOutcome. */
    let xid: string | null = null;
    let committing = false;
    let failure: unknown;
    const done: unknown[] = [];
    try {
      // One round trip: the id asked for with BEGIN is the one this group's
      // writes would have been given anyway (a group of postbacks writes at
      // least their log rows; one that writes nothing pays a commit record).
      const begun = (await client.query(
        'BEGIN; SELECT pg_current_xact_id()::text AS xid',
      )) as unknown as pg.QueryResult[];
      xid = String(begun[1]?.rows[0]?.xid);
      // The writes are concurrent requests: any order is one they could have
      // come in. Those that share no first attempt run first; then the
      // others' first attempts all at once, then the rest of each in turn.
      const sharing = sharingFirstAttempts(writes);
      for (const [i, w] of writes.entries()) {
        if (!sharing.includes(w)) done[i] = await w.fn(client);
      }
      const firsts = await this.firstAttempts(client, sharing);
      for (const [i, w] of writes.entries()) {
        if (sharing.includes(w)) done[i] = await w.fn(client, firsts.get(w));
      }
      await this.writeDeliveries(client);
      await this.writeLogs(client);
      committing = true;
      await client.query('COMMIT');
      results = done;
    } catch (error) {
      failure = error;
      broken = await rollBack(client, error);
    } finally {
      queued = this.queued.delete(client);
      this.logRows.delete(client);
      this.deliveries.delete(client);
      client.release(broken);
    }
    if (committing && isStorageUnavailable(failure)) {
      // The COMMIT went unanswered (its connection ended): the group may have
      // committed. (An error the database answered it with means it did not.) Running its writes again would answer a counted deposit
      // `duplicate` and log its call twice, so ask the database first.
      const outcome = await this.commitOutcome(xid as string);
      if (outcome === 'committed') results = done;
      else if (outcome === 'unknown') {
        // Neither answered nor certainly lost: refused, and the network's
        // retry is counted once whichever it was.
        for (const w of writes) w.reject(failure);
        return;
      }
    }
    if (results) {
      writes.forEach((w, i) => {
        w.resolve((results as unknown[])[i]);
      });
      if (queued) this.outboxListener?.();
      return;
    }
    await Promise.all(writes.map((w) => this.tx(w.fn).then(w.resolve, w.reject)));
  }

  /**
   * What became of the transaction `xid` whose COMMIT got no answer, asked on
   * another connection. A COMMIT the database has received but not finished
   * shows as in progress for a moment; past that, or if the database cannot
   * be asked, the outcome is unknown.
   */
  private async commitOutcome(xid: string): Promise<'committed' | 'aborted' | 'unknown'> {
    // A connection of its own, not one of the pool's: under load those are
    // all taken, and the answer is owed within a second.
    const deadline = performance.now() + COMMIT_OUTCOME_MS;
    const left = () => Math.max(1, Math.round(deadline - performance.now()));
    const client = new pg.Client({
      ...this.pool.options,
      connectionTimeoutMillis: left(),
      query_timeout: left(),
    });
    client.on('error', () => {});
    try {
      await client.connect();
      while (performance.now() < deadline) {
        const status = (
          await client.query({
            text: 'SELECT pg_xact_status($1::xid8) AS status',
            values: [xid],
            query_timeout: left(),
          } as pg.QueryConfig)
        ).rows[0]?.status;
        if (status === 'committed') return 'committed';
        if (status === 'aborted') return 'aborted';
        // 'in progress': the COMMIT is still being carried out (or the
        // connection's end not yet noticed). Anything else cannot be told.
        if (status !== 'in progress') return 'unknown';
        await new Promise((r) => setTimeout(r, Math.min(COMMIT_OUTCOME_WAIT_MS, left())));
      }
      return 'unknown';
    } catch {
      return 'unknown';
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Runs the first attempts of `sharing` (see sharingFirstAttempts) as one statement (FIRST_ATTEMPTS_SQL). */
  private async firstAttempts(
    c: pg.PoolClient,
    sharing: Array<PendingWrite<unknown>>,
  ): Promise<Map<PendingWrite<unknown>, Row>> {
    const firsts = new Map<PendingWrite<unknown>, Row>();
    const postbacks = sharing.map((write) => ({
      write,
      values: (write.firstAttempt as FirstAttempt).values,
    }));
    if (postbacks.length === 0) return firsts;
    const columns = Array.from({ length: 22 }, (_, k) => postbacks.map((p) => p.values[k]));
    const rows = await this.all(c, FIRST_ATTEMPTS_SQL, columns);
    if (rows.length !== postbacks.length) throw new Error('the first-attempts statement lost rows');
    rows.forEach((r, i) => {
      firsts.set((postbacks[i] as { write: PendingWrite<unknown> }).write, r);
    });
    return firsts;
  }

  async ping(): Promise<void> {
    await this.run(this.pool, 'SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** For tests and tooling: rows in one of our tables, across workspaces. */
  async countRows(table: string): Promise<number> {
    if (!/^[a-z_]+$/.test(table)) throw new Error(`invalid table ${table}`);
    return num((await this.one(this.pool, `SELECT count(*) AS n FROM ${table}`))?.n);
  }

  /** For tests and tooling: a setting as the pool's sessions have it (SHOW). */
  async sessionSetting(name: string): Promise<string> {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`invalid setting ${name}`);
    return String((await this.one(this.pool, `SHOW ${name}`))?.[name]);
  }

  /** For tests: drop a schema this store created. */
  async dropSchema(schema: string): Promise<void> {
    await this.run(this.pool, `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  }

  // --- accounts -----------------------------------------------------------

  async createAccount(input: {
    email: string;
    passwordHash: string;
    workspaceName: string;
    at: number;
  }): Promise<Account | 'email_taken'> {
    try {
      return await this.tx(async (c) => {
        const ws = (await this.one(
          c,
          'INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id',
          [input.workspaceName, input.at],
        )) as Row;
        const user = (await this.one(
          c,
          'INSERT INTO users (workspace_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id',
          [ws.id, input.email, input.passwordHash, input.at],
        )) as Row;
        return {
          user: { id: String(user.id), email: input.email },
          workspace: { id: String(ws.id), name: input.workspaceName },
        };
      });
    } catch (error) {
      if (isUniqueViolation(error)) return 'email_taken';
      throw error;
    }
  }

  async findLogin(email: string): Promise<(Account & { passwordHash: string }) | null> {
    const r = await this.one(
      this.pool,
      `SELECT u.id, u.email, u.password_hash, w.id AS workspace_id, w.name AS workspace_name
       FROM users u JOIN workspaces w ON w.id = u.workspace_id WHERE u.email = $1`,
      [email],
    );
    return r ? { ...toAccount(r), passwordHash: r.password_hash as string } : null;
  }

  async createSession(input: {
    tokenHash: string;
    userId: string;
    workspaceId: string;
    at: number;
    expiresAt: number;
  }): Promise<void> {
    await this.run(
      this.pool,
      'INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [input.tokenHash, id(input.userId), id(input.workspaceId), input.at, input.expiresAt],
    );
  }

  async findSession(tokenHash: string, now: number): Promise<Account | null> {
    const r = await this.one(
      this.pool,
      `SELECT u.id, u.email, w.id AS workspace_id, w.name AS workspace_name
       FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = s.workspace_id
       WHERE s.token_hash = $1 AND s.expires_at > $2`,
      [tokenHash, now],
    );
    return r ? toAccount(r) : null;
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.run(this.pool, 'DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  }

  async createApiKey(input: {
    workspaceId: string;
    userId: string;
    name: string;
    keyHash: string;
    prefix: string;
    at: number;
  }): Promise<ApiKey> {
    const r = (await this.one(
      this.pool,
      `INSERT INTO api_keys (workspace_id, user_id, name, key_hash, prefix, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [id(input.workspaceId), id(input.userId), input.name, input.keyHash, input.prefix, input.at],
    )) as Row;
    return toApiKey(r);
  }

  async listApiKeys(workspaceId: string): Promise<ApiKey[]> {
    const rows = await this.all(
      this.pool,
      'SELECT * FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL ORDER BY id DESC',
      [id(workspaceId)],
    );
    return rows.map(toApiKey);
  }

  async revokeApiKey(workspaceId: string, keyId: string, at: number): Promise<boolean> {
    const result = await this.run(
      this.pool,
      'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND workspace_id = $3 AND revoked_at IS NULL',
      [at, id(keyId), id(workspaceId)],
    );
    return result.rowCount === 1;
  }

  async findApiKey(keyHash: string, now: number): Promise<Account | null> {
    const r = await this.one(
      this.pool,
      `SELECT k.id AS key_id, k.last_used_at, u.id, u.email, w.id AS workspace_id, w.name AS workspace_name
       FROM api_keys k JOIN users u ON u.id = k.user_id JOIN workspaces w ON w.id = k.workspace_id
       WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [keyHash],
    );
    if (!r) return null;
    // Once a minute, and not waited for: bookkeeping holds up no request (a
    // round trip more) and fails none.
    if (r.last_used_at === null || now - num(r.last_used_at) > 60_000) {
      this.run(this.pool, 'UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [
        now,
        r.key_id,
      ]).catch(() => {});
    }
    return toAccount(r);
  }

  // --- campaigns ----------------------------------------------------------

  async createCampaign(
    workspaceId: string,
    input: CampaignInput,
    slug: () => string,
    at: number,
  ): Promise<Campaign> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = (await this.one(
          this.pool,
          `INSERT INTO campaigns (workspace_id, slug, name, description, buyer, destination_url, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
          [
            id(workspaceId),
            slug(),
            input.name,
            input.description,
            input.buyer,
            input.destinationUrl,
            at,
          ],
        )) as Row;
        return toCampaign(r);
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= MAX_UNIQUE_RETRIES) throw error;
      }
    }
  }

  async listCampaigns(workspaceId: string): Promise<Campaign[]> {
    const rows = await this.all(
      this.pool,
      'SELECT * FROM campaigns WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY id DESC',
      [id(workspaceId)],
    );
    return rows.map(toCampaign);
  }

  async getCampaign(workspaceId: string, campaignId: string): Promise<Campaign | null> {
    const r = await this.one(
      this.pool,
      'SELECT * FROM campaigns WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL',
      [id(campaignId), id(workspaceId)],
    );
    return r ? toCampaign(r) : null;
  }

  async updateCampaign(
    workspaceId: string,
    campaignId: string,
    patch: Partial<CampaignInput>,
  ): Promise<Campaign | null> {
    const r = await this.one(
      this.pool,
      `UPDATE campaigns SET
         name = coalesce($1, name), description = coalesce($2, description),
         buyer = coalesce($3, buyer), destination_url = coalesce($4, destination_url)
       WHERE id = $5 AND workspace_id = $6 AND deleted_at IS NULL RETURNING *`,
      [
        patch.name ?? null,
        patch.description ?? null,
        patch.buyer ?? null,
        patch.destinationUrl ?? null,
        id(campaignId),
        id(workspaceId),
      ],
    );
    return r ? toCampaign(r) : null;
  }

  async deleteCampaign(workspaceId: string, campaignId: string, at: number): Promise<boolean> {
    const result = await this.run(
      this.pool,
      'UPDATE campaigns SET deleted_at = $1 WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL',
      [at, id(campaignId), id(workspaceId)],
    );
    return result.rowCount === 1;
  }

  async findCampaignForClick(slugOrId: string): Promise<Campaign | null> {
    const r =
      (await this.one(this.pool, 'SELECT * FROM campaigns WHERE slug = $1 AND deleted_at IS NULL', [
        slugOrId,
      ])) ??
      (id(slugOrId) === null
        ? undefined
        : await this.one(
            this.pool,
            'SELECT * FROM campaigns WHERE id = $1 AND deleted_at IS NULL',
            [id(slugOrId)],
          ));
    return r ? toCampaign(r) : null;
  }

  // --- clicks and leads ---------------------------------------------------

  private async insertLead(
    db: Db,
    workspaceId: string | null,
    campaignId: string | null,
    clickRowId: string | null,
    lead: Omit<NewLead, 'campaignId'>,
  ): Promise<Lead> {
    for (let attempt = 0; ; attempt++) {
      // A clickid collision must not abort the surrounding transaction: the
      // conflict is skipped and another clickid drawn.
      const r = await this.one(
        db,
        `INSERT INTO leads (workspace_id, clickid, campaign_id, click_id, external_id, username, params, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (clickid) DO NOTHING RETURNING *`,
        [
          workspaceId,
          lead.newClickid(),
          campaignId,
          clickRowId,
          lead.externalId,
          lead.username,
          lead.params,
          lead.at,
        ],
      );
      if (r) return toLead(r);
      if (attempt >= MAX_UNIQUE_RETRIES) throw new Error('could not draw a free clickid');
    }
  }

  /**
   * Clicks that arrive in one turn of the event loop, or while the previous
   * statement runs, are written by one statement (CLICKS_SQL), committed on
   * its own: one round trip for the batch instead of BEGIN, a statement per
   * click and COMMIT. A click whose clickid clashed is drawn again and goes
   * in a statement of its own; if the statement fails, each click runs again
   * alone, so a bad one fails alone.
   */
  async recordClick(click: NewClick): Promise<Lead> {
    return new Promise<Lead>((resolve, reject) => {
      this.clicks.push({ click, draws: 0, resolve, reject });
    });
  }

  /**
   * Runs insertClicks; whatever it throws answers every click of the batch
   * not answered yet. Settles when the batch is done, and never rejects.
   */
  private writeClicks(batch: PendingClick[], attempt = 1): Promise<void> {
    return this.insertClicks(batch, attempt).catch((error: unknown) => {
      for (const p of batch) p.reject(error);
    });
  }

  private async insertClicks(batch: PendingClick[], attempt: number): Promise<void> {
    const clickids = batch.map((p) => {
      p.draws++;
      return p.click.newClickid();
    });
    let rows: Row[];
    try {
      rows = await this.all(this.pool, CLICKS_SQL, [
        batch.map((p) => id(p.click.campaign.workspaceId)),
        batch.map((p) => id(p.click.campaign.id)),
        batch.map((p) => p.click.at),
        batch.map((p) => p.click.ip),
        batch.map((p) => p.click.userAgent),
        batch.map((p) => p.click.referrer),
        // jsonb refuses an escaped NUL (see run()).
        batch.map((p) => JSON.stringify(p.click.params).replaceAll('\\u0000', '\\ufffd')),
        clickids,
      ]);
    } catch (error) {
      // Only an error PostgreSQL answered means the statement did not commit.
      // Anything else (a connection lost mid-statement) may follow a commit:
      // writing the clicks again could count them twice, so they fail.
      if (!(error instanceof pg.DatabaseError)) throw error;
      for (const p of batch) p.draws--;
      if (batch.length > 1) {
        for (const p of batch) this.writeClicks([p]);
      } else if (isRetryable(error) && attempt < MAX_TX_RETRIES) {
        this.writeClicks(batch, attempt + 1);
      } else {
        throw error;
      }
      return;
    }
    if (rows.length !== batch.length) throw new Error('the click statement lost rows');
    const clashed: PendingClick[] = [];
    rows.forEach((r, i) => {
      const p = batch[i] as PendingClick;
      if (r.id !== null) p.resolve(toLead(r));
      else if (p.draws > MAX_UNIQUE_RETRIES) p.reject(new Error('could not draw a free clickid'));
      else clashed.push(p);
    });
    if (clashed.length > 0) this.writeClicks(clashed);
    if (num(rows[0]?.queued) > 0) this.outboxListener?.();
  }

  async createLead(workspaceId: string, lead: NewLead): Promise<Lead> {
    const campaignId = id(lead.campaignId);
    // Without an external id there is no contact to queue: one statement, no transaction.
    if (lead.externalId === null) {
      return this.insertLead(this.pool, id(workspaceId), campaignId, null, lead);
    }
    return this.tx(async (c) => {
      const created = await this.insertLead(c, id(workspaceId), campaignId, null, lead);
      await this.enqueue(c, 'contact', created.id, created.id, campaignId, 'contact', lead.at);
      return created;
    });
  }

  async bindLead(
    workspaceId: string,
    clickid: string,
    bind: { externalId: string | null; username: string | null; at?: number },
  ): Promise<Lead | 'not_found' | 'bound_elsewhere'> {
    return this.tx(async (c) => {
      const r = await this.one(
        c,
        'SELECT * FROM leads WHERE clickid = $1 AND workspace_id = $2 FOR UPDATE',
        [clickid, id(workspaceId)],
      );
      if (!r) return 'not_found';
      const current = str(r.external_id);
      if (bind.externalId !== null && current !== null && current !== bind.externalId)
        return 'bound_elsewhere';
      const updated = (await this.one(
        c,
        `UPDATE leads SET external_id = coalesce(external_id, $1), username = coalesce($2, username)
         WHERE id = $3 RETURNING *`,
        [bind.externalId, bind.username, r.id],
      )) as Row;
      // The row lock above makes this the one binding that sees external_id unset.
      if (current === null && bind.externalId !== null) {
        const leadId = String(r.id);
        const at = bind.at ?? Date.now();
        await this.enqueue(c, 'contact', leadId, leadId, str(r.campaign_id), 'contact', at);
      }
      return toLead(updated);
    });
  }

  async getLead(workspaceId: string, clickid: string): Promise<LeadDetail | null> {
    const r = await this.one(
      this.pool,
      'SELECT * FROM leads WHERE clickid = $1 AND workspace_id = $2',
      [clickid, id(workspaceId)],
    );
    if (!r) return null;
    const [fieldRows, eventRows, totalRows] = await Promise.all([
      this.all(this.pool, 'SELECT key, value FROM lead_fields WHERE lead_id = $1 ORDER BY key', [
        r.id,
      ]),
      this.all(
        this.pool,
        `SELECT id, event, amount_micros, currency, tid, postback_id, at
         FROM conversions WHERE lead_id = $1 ORDER BY at, id`,
        [r.id],
      ),
      this.all(
        this.pool,
        `SELECT currency,
           coalesce(sum(CASE WHEN event IN ('first_deposit', 'deposit') THEN amount_micros END), 0) AS deposits,
           coalesce(sum(CASE WHEN amount_micros < 0 THEN -amount_micros END), 0) AS withdrawals
         FROM conversions WHERE lead_id = $1 AND amount_micros IS NOT NULL
         GROUP BY currency ORDER BY count(*) DESC, currency`,
        [r.id],
      ),
    ]);
    const fields: Record<string, string> = {};
    for (const f of fieldRows) fields[f.key as string] = f.value as string;
    return {
      ...toLead(r),
      fields,
      events: eventRows.map(
        (e): Conversion => ({
          id: String(e.id),
          event: e.event as string,
          micros: micros(e.amount_micros),
          currency: e.currency as string,
          tid: str(e.tid),
          postbackId: str(e.postback_id),
          at: num(e.at),
        }),
      ),
      totals: totalRows.map((t) => ({
        currency: t.currency as string,
        depositMicros: BigInt(t.deposits as string),
        withdrawalMicros: BigInt(t.withdrawals as string),
      })),
    };
  }

  async listLeads(
    workspaceId: string,
    filter: { campaignId?: string; q?: string; limit: number; cursor?: string },
  ): Promise<Page<LeadSummary>> {
    const values: unknown[] = [id(workspaceId)];
    const where = ['l.workspace_id = $1'];
    const add = (clause: (n: number) => string, value: unknown) => {
      values.push(value);
      where.push(clause(values.length));
    };
    const before = decodeCursor(filter.cursor);
    if (before !== null) add((n) => `l.id < $${n}`, before);
    if (filter.campaignId !== undefined) add((n) => `l.campaign_id = $${n}`, id(filter.campaignId));
    if (filter.q) {
      // A clickid that starts with q (the exact one too) as a range in code
      // point order, whatever the database's collation (in en_US.UTF-8 'aB'
      // and 'ab' sort together). The username's substring keeps this a walk
      // of the workspace's leads, newest first, that stops at a full page.
      const end = prefixEnd(filter.q);
      values.push(filter.q, like(filter.q));
      const n = values.length;
      let clickid = `l.clickid COLLATE "C" >= $${n - 1}`;
      if (end !== null) {
        values.push(end);
        clickid = `(${clickid} AND l.clickid COLLATE "C" < $${values.length})`;
      }
      where.push(`(${clickid} OR l.external_id = $${n - 1} OR l.username ILIKE $${n})`);
    }
    values.push(filter.limit + 1);
    const rows = await this.all(
      this.pool,
      `SELECT l.*,
         EXISTS (SELECT 1 FROM conversions c WHERE c.lead_id = l.id AND c.once_key = 'registration') AS registered,
         (SELECT amount_micros FROM conversions c WHERE c.lead_id = l.id AND c.once_key = 'first_deposit') AS ftd_micros,
         (SELECT currency FROM conversions c WHERE c.lead_id = l.id AND c.once_key = 'first_deposit') AS ftd_currency,
         (SELECT count(*) FROM conversions c WHERE c.lead_id = l.id AND c.event IN ('first_deposit', 'deposit')) AS deposit_count,
         (SELECT max(at) FROM conversions c WHERE c.lead_id = l.id) AS last_event_at
       FROM leads l WHERE ${where.join(' AND ')} ORDER BY l.id DESC LIMIT $${values.length}`,
      values,
    );
    const more = rows.length > filter.limit;
    const items = rows.slice(0, filter.limit).map(
      (r): LeadSummary => ({
        ...toLead(r),
        registered: r.registered === true,
        firstDepositMicros: micros(r.ftd_micros),
        firstDepositCurrency: str(r.ftd_currency),
        depositCount: num(r.deposit_count),
        lastEventAt: r.last_event_at === null ? null : num(r.last_event_at),
      }),
    );
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
  }

  // --- postback configurations -------------------------------------------

  async createPostback(
    workspaceId: string,
    input: PostbackInput,
    token: string,
    at: number,
  ): Promise<PostbackConfig> {
    const r = (await this.one(
      this.pool,
      `INSERT INTO postbacks (workspace_id, token, name, network, campaign_id, clickid_param, currency, macros, enabled, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [
        id(workspaceId),
        token,
        input.name,
        input.network,
        id(input.campaignId),
        input.clickidParam,
        input.currency,
        JSON.stringify(input.macros),
        input.enabled,
        at,
      ],
    )) as Row;
    return toPostback(r);
  }

  async listPostbacks(workspaceId: string): Promise<PostbackConfig[]> {
    const rows = await this.all(
      this.pool,
      'SELECT * FROM postbacks WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY id DESC',
      [id(workspaceId)],
    );
    return rows.map(toPostback);
  }

  async getPostback(workspaceId: string, postbackId: string): Promise<PostbackConfig | null> {
    const r = await this.one(
      this.pool,
      'SELECT * FROM postbacks WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL',
      [id(postbackId), id(workspaceId)],
    );
    return r ? toPostback(r) : null;
  }

  async updatePostback(
    workspaceId: string,
    postbackId: string,
    patch: Partial<PostbackInput>,
  ): Promise<PostbackConfig | null> {
    // Read under a row lock and merged in the same transaction: two changes
    // at once both keep their fields.
    return this.tx(async (c) => {
      const current = await this.one(
        c,
        'SELECT * FROM postbacks WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR UPDATE',
        [id(postbackId), id(workspaceId)],
      );
      if (!current) return null;
      const next = { ...toPostback(current), ...patch };
      const r = (await this.one(
        c,
        `UPDATE postbacks SET name = $1, network = $2, campaign_id = $3, clickid_param = $4, currency = $5, macros = $6, enabled = $7
         WHERE id = $8 RETURNING *`,
        [
          next.name,
          next.network,
          id(next.campaignId),
          next.clickidParam,
          next.currency,
          JSON.stringify(next.macros),
          next.enabled,
          current.id,
        ],
      )) as Row;
      return toPostback(r);
    });
  }

  async deletePostback(workspaceId: string, postbackId: string, at: number): Promise<boolean> {
    const result = await this.run(
      this.pool,
      'UPDATE postbacks SET deleted_at = $1 WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL',
      [at, id(postbackId), id(workspaceId)],
    );
    return result.rowCount === 1;
  }

  async findPostbackByToken(token: string): Promise<PostbackConfig | null> {
    const r = await this.one(this.pool, 'SELECT * FROM postbacks WHERE token = $1', [token]);
    return r ? toPostback(r) : null;
  }

  // --- counting -----------------------------------------------------------

  async recordEvent(input: RecordEvent): Promise<RecordOutcome> {
    const first = firstAttemptValues(input);
    const more = input.plan.length > 1;
    const shared = first && {
      values: [...first, ...groupLogValues(input, more)],
      clickid: input.clickid,
      more,
    };
    return this.batched(async (c, firstRow) => {
      const outcome = await this.countEvent(c, input, first, firstRow);
      // Logged already by the group's statement (FIRST_ATTEMPTS_SQL), with this outcome.
      if (firstRow?.logged === true) return outcome;
      if (input.log) {
        const counted = outcome.status !== 'unmatched';
        this.deferLog(c, input.log, {
          httpStatus: 200,
          status: outcome.status,
          error: counted ? input.note : outcome.reason,
          event: counted ? outcome.event : (input.plan[0]?.event ?? null),
          clickid: input.clickid,
          conversionId: counted ? outcome.conversionId : null,
        });
      }
      return outcome;
    }, shared);
  }

  /**
   * `first`: the values of the folded statement below, when the plan's first
   * attempt needs no fingerprint; `firstRow`: its result, when the group ran
   * it for all its postbacks at once (FIRST_ATTEMPTS_SQL).
   */
  private async countEvent(
    c: pg.PoolClient,
    input: RecordEvent,
    first: unknown[] | undefined,
    firstRow: Row | undefined,
  ): Promise<RecordOutcome> {
    // The lead, whether its campaign forwards anything and, unless the first
    // attempt needs a fingerprint claimed first, that attempt's insert: one
    // round trip. The insert happens only for a lead the postback may count
    // against (`inserted` is null otherwise, or when a key says duplicate).
    const folded = first !== undefined;
    const found = firstRow
      ? firstRow
      : folded
        ? await this.one(
            c,
            `WITH lead AS (
               SELECT id, campaign_id,
                 EXISTS (SELECT 1 FROM forward_routes r WHERE r.campaign_id = leads.campaign_id) AS routed
               FROM leads WHERE clickid = $2 AND workspace_id = $1
             ), ins AS (
               INSERT INTO conversions (workspace_id, lead_id, campaign_id, postback_id, event, amount_micros, currency, tid, once_key, tid_key, at)
               SELECT $1::bigint, lead.id, lead.campaign_id, $4::bigint, $5::text, $6::bigint, $7::text, $8::text, $9::text, $10::text, $11::bigint
               FROM lead
               WHERE $3::text IS NULL OR lead.campaign_id::text = $3::text
               ON CONFLICT DO NOTHING RETURNING id
             )
             SELECT lead.*, (SELECT id FROM ins) AS inserted FROM lead`,
            first,
          )
        : await this.one(
            c,
            `SELECT id, campaign_id,
               EXISTS (SELECT 1 FROM forward_routes r WHERE r.campaign_id = leads.campaign_id) AS routed
             FROM leads WHERE clickid = $1 AND workspace_id = $2`,
            [input.clickid, id(input.workspaceId)],
          );
    // A group's row for a postback whose clickid matched no lead is all nulls.
    const lead = found?.id === null ? undefined : found;
    if (!lead) return { status: 'unmatched', reason: 'unknown_clickid' };
    if (input.scopeCampaignId !== null && str(lead.campaign_id) !== input.scopeCampaignId) {
      return { status: 'unmatched', reason: 'campaign_mismatch' };
    }
    const leadId = String(lead.id);
    // Sorted, so two transactions writing the same fields lock rows in one order.
    for (const key of Object.keys(input.fields).sort()) {
      await this.run(
        c,
        `INSERT INTO lead_fields (lead_id, key, value, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (lead_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [leadId, key, input.fields[key], input.at],
      );
    }
    const insert = (i: number, event: string, onceKey: string | null, tidKey: string | null) =>
      i === 0 && folded
        ? Promise.resolve(lead.inserted === null ? undefined : { id: lead.inserted })
        : this.one(
            c,
            `INSERT INTO conversions (workspace_id, lead_id, campaign_id, postback_id, event, amount_micros, currency, tid, once_key, tid_key, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING id`,
            [
              id(input.workspaceId),
              leadId,
              lead.campaign_id,
              ...attemptValues(input, event, onceKey, tidKey),
            ],
          );

    /** The conversion holding the first attempt's tid or once key, as the group's statement saw it. */
    const seen = (i: number, key: 'tid' | 'once'): Row | undefined =>
      i === 0 && firstRow?.[`${key}_id`] !== null && firstRow?.[`${key}_id`] !== undefined
        ? { id: firstRow[`${key}_id`], event: firstRow[`${key}_event`] }
        : undefined;

    for (let i = 0; i < input.plan.length; i++) {
      const attempt = input.plan[i];
      if (!attempt) break;
      const last = i === input.plan.length - 1;

      if (attempt.fingerprint !== null) {
        // Claims the fingerprint only if it is new or its window has passed; a
        // concurrent claimant waits on the row and then finds the window closed.
        const claimed = await this.one(
          c,
          `INSERT INTO fingerprints (lead_id, fingerprint, at, conversion_id) VALUES ($1, $2, $3, 0)
           ON CONFLICT (lead_id, fingerprint) DO UPDATE SET at = excluded.at, conversion_id = 0
           WHERE fingerprints.at <= excluded.at - $4 RETURNING at`,
          [leadId, attempt.fingerprint, input.at, input.windowMs],
        );
        if (!claimed) {
          const fp = (await this.one(
            c,
            'SELECT conversion_id FROM fingerprints WHERE lead_id = $1 AND fingerprint = $2',
            [leadId, attempt.fingerprint],
          )) as Row;
          return {
            status: 'duplicate',
            event: attempt.event,
            conversionId: String(fp.conversion_id),
            leadId,
          };
        }
        const row = (await insert(i, attempt.event, null, null)) as Row;
        await this.run(
          c,
          'UPDATE fingerprints SET conversion_id = $1 WHERE lead_id = $2 AND fingerprint = $3',
          [row.id, leadId, attempt.fingerprint],
        );
        await this.enqueue(
          c,
          'conversion',
          String(row.id),
          leadId,
          lead.campaign_id,
          attempt.event,
          input.at,
          lead.routed === true,
        );
        return { status: 'recorded', event: attempt.event, conversionId: String(row.id), leadId };
      }

      const row = await insert(i, attempt.event, attempt.onceKey, attempt.tidKey);
      if (row) {
        await this.enqueue(
          c,
          'conversion',
          String(row.id),
          leadId,
          lead.campaign_id,
          attempt.event,
          input.at,
          lead.routed === true,
        );
        return { status: 'recorded', event: attempt.event, conversionId: String(row.id), leadId };
      }
      if (attempt.tidKey !== null) {
        const same =
          seen(i, 'tid') ??
          (await this.one(
            c,
            'SELECT id, event FROM conversions WHERE lead_id = $1 AND tid_key = $2',
            [leadId, attempt.tidKey],
          ));
        if (same)
          return {
            status: 'duplicate',
            event: same.event as string,
            conversionId: String(same.id),
            leadId,
          };
      }
      if (attempt.onceKey !== null && last) {
        const once = (seen(i, 'once') ??
          (await this.one(
            c,
            'SELECT id, event FROM conversions WHERE lead_id = $1 AND once_key = $2',
            [leadId, attempt.onceKey],
          ))) as Row;
        return {
          status: 'duplicate',
          event: once.event as string,
          conversionId: String(once.id),
          leadId,
        };
      }
    }
    throw new Error('counting plan ended without an outcome');
  }

  /**
   * Adds a postback-log row to c's transaction. The rows of a transaction are
   * written by one statement just before it commits (writeLogs): a round trip
   * per batch instead of one per request.
   */
  private deferLog(c: pg.PoolClient, request: LogRequest, outcome: LogOutcome): void {
    let rows = this.logRows.get(c);
    if (!rows) {
      rows = [];
      this.logRows.set(c, rows);
    }
    rows.push([
      id(request.workspaceId),
      id(request.postbackId),
      request.at,
      request.method,
      request.url,
      request.ip,
      request.userAgent,
      request.body,
      outcome.httpStatus,
      outcome.status,
      outcome.error,
      outcome.event,
      outcome.clickid,
      id(outcome.conversionId),
    ]);
  }

  private async writeLogs(c: pg.PoolClient): Promise<void> {
    const rows = this.logRows.get(c);
    if (!rows) return;
    this.logRows.delete(c);
    await this.run(
      c,
      `INSERT INTO postback_logs (workspace_id, postback_id, at, method, url, ip, user_agent, body, http_status, status, error, event, clickid, conversion_id)
       SELECT workspace_id, postback_id, at, method, url, ip, user_agent, body, http_status, status, error, event, clickid, conversion_id
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[])
         WITH ORDINALITY AS t(workspace_id, postback_id, at, method, url, ip, user_agent, body, http_status, status, error, event, clickid, conversion_id, n)
       ORDER BY n`,
      Array.from({ length: 14 }, (_, column) => rows.map((row) => row[column])),
    );
  }

  async appendPostbackLog(request: LogRequest, outcome: LogOutcome): Promise<void> {
    await this.batched(async (c) => this.deferLog(c, request, outcome));
  }

  async listPostbackLogs(workspaceId: string, filter: LogFilter): Promise<Page<LogEntry>> {
    const values: unknown[] = [id(workspaceId)];
    const where = ['workspace_id = $1'];
    const add = (clause: (n: number) => string, value: unknown) => {
      values.push(value);
      where.push(clause(values.length));
    };
    const before = decodeCursor(filter.cursor);
    if (before !== null) add((n) => `id < $${n}`, before);
    if (filter.postbackId !== undefined) add((n) => `postback_id = $${n}`, id(filter.postbackId));
    if (filter.status !== undefined) add((n) => `status = $${n}`, filter.status);
    if (filter.q) {
      values.push(filter.q, like(filter.q));
      const n = values.length;
      where.push(`(clickid = $${n - 1} OR url LIKE $${n} OR error LIKE $${n})`);
    }
    values.push(filter.limit + 1);
    // The page is cut first; each of its rows then looks its conversion up
    // by primary key (at most limit + 1 lookups, whatever the conversions).
    const rows = await this.all(
      this.pool,
      `SELECT l.*, c.amount_micros AS conversion_micros, c.currency AS conversion_currency
       FROM (SELECT * FROM postback_logs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${values.length}) l
       LEFT JOIN conversions c ON c.id = l.conversion_id AND c.workspace_id = l.workspace_id
       ORDER BY l.id DESC`,
      values,
    );
    const more = rows.length > filter.limit;
    const items = rows.slice(0, filter.limit).map((r): LogEntry => {
      const amount = micros(r.conversion_micros);
      return {
        id: String(r.id),
        at: num(r.at),
        postbackId: String(r.postback_id),
        method: r.method as string,
        url: r.url as string,
        ip: str(r.ip),
        userAgent: str(r.user_agent),
        body: str(r.body),
        httpStatus: num(r.http_status),
        status: r.status as string,
        error: str(r.error),
        event: str(r.event),
        clickid: str(r.clickid),
        conversionId: str(r.conversion_id),
        micros: amount,
        currency: amount === null ? null : str(r.conversion_currency),
      };
    });
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
  }

  // --- forwarding ---------------------------------------------------------

  /**
   * Queues what just happened for every destination routed to it, inside the
   * caller's transaction: the event and its deliveries commit together. The
   * transaction's deliveries are written just before its COMMIT, all at once
   * (writeDeliveries): two round trips per transaction instead of three per
   * conversion.
   */
  private async enqueue(
    c: pg.PoolClient,
    subject: Subject,
    subjectId: string,
    leadId: string,
    campaignId: unknown,
    event: string,
    at: number,
    /** Known already (read with the lead), or null when the write below will tell. */
    routed: boolean | null = null,
  ): Promise<void> {
    if (campaignId === null || campaignId === undefined || routed === false) return;
    let pending = this.deliveries.get(c);
    if (!pending) {
      pending = [];
      this.deliveries.set(c, pending);
    }
    pending.push({ subject, subjectId, leadId, campaignId: String(campaignId), event, at });
  }

  /**
   * Writes the deliveries c's transaction queued (enqueue), in the order they
   * happened. A conversion's occurrence (the Nth deposit of its lead) is the
   * lead's count of that event less the ones this transaction counted after
   * it. Two nodes counting events of one lead at once would each see only
   * their own new rows, so the leads are locked first, in id order, and the
   * count runs in the next statement: under READ COMMITTED it takes a fresh
   * snapshot, which sees what the other node committed before releasing the
   * lock. NO KEY UPDATE does not wait for the key-share locks the conversion
   * inserts hold.
   */
  private async writeDeliveries(c: pg.PoolClient): Promise<void> {
    const pending = this.deliveries.get(c);
    if (!pending) return;
    this.deliveries.delete(c);
    const conversions = pending.filter((d) => d.subject === 'conversion');
    if (conversions.length > 0) {
      const leads = [...new Set(conversions.map((d) => d.leadId))];
      await this.run(
        c,
        'SELECT 1 FROM leads WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE',
        [leads],
      );
    }
    // Conversions of the same lead and event that this transaction counted later.
    const later = new Array<number>(pending.length).fill(0);
    const seen = new Map<string, number>();
    for (let i = pending.length - 1; i >= 0; i--) {
      const d = pending[i] as PendingDelivery;
      if (d.subject !== 'conversion') continue;
      const key = `${d.leadId} ${d.event}`;
      later[i] = seen.get(key) ?? 0;
      seen.set(key, (later[i] as number) + 1);
    }
    const result = await this.run(
      c,
      `${OUTBOX_INSERT}
       SELECT d.workspace_id, d.campaign_id, d.id, p.subject, p.subject_id, p.lead_id, p.event, o.n, p.at, 'pending', p.at, p.at, p.at
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::integer[])
         WITH ORDINALITY AS p(subject, subject_id, lead_id, campaign_id, event, at, later, ord)
       CROSS JOIN LATERAL (
         SELECT CASE WHEN p.subject = 'conversion'
           THEN (SELECT count(*) FROM conversions v WHERE v.lead_id = p.lead_id AND v.event = p.event)::integer - p.later
           ELSE 1 END AS n
       ) o
       JOIN forward_routes r ON r.campaign_id = p.campaign_id
         AND r.event IN (p.event, p.event || '#' || o.n, CASE WHEN p.subject = 'conversion' THEN '${ALL_CONVERSIONS}' END)
       JOIN destinations d ON d.id = r.destination_id
       ORDER BY p.ord, d.id
       ON CONFLICT DO NOTHING`,
      [
        pending.map((d) => d.subject),
        pending.map((d) => d.subjectId),
        pending.map((d) => d.leadId),
        pending.map((d) => d.campaignId),
        pending.map((d) => d.event),
        pending.map((d) => d.at),
        later,
      ],
    );
    if ((result.rowCount ?? 0) > 0) this.queued.add(c);
  }

  private async writeRoutes(
    c: pg.PoolClient,
    destinationId: unknown,
    campaignId: unknown,
    input: DestinationInput,
  ): Promise<void> {
    await this.run(c, 'DELETE FROM forward_routes WHERE campaign_id = $1 AND destination_id = $2', [
      campaignId,
      destinationId,
    ]);
    if (!input.enabled || input.routes.length === 0) return;
    await this.run(
      c,
      `INSERT INTO forward_routes (campaign_id, event, destination_id)
       SELECT $1::bigint, e, $2::bigint FROM unnest($3::text[]) AS e
       ON CONFLICT DO NOTHING`,
      [campaignId, destinationId, input.routes],
    );
  }

  async createDestination(
    workspaceId: string,
    campaignId: string,
    input: DestinationInput,
    at: number,
  ): Promise<Destination> {
    return this.tx(async (c) => {
      const r = (await this.one(
        c,
        `INSERT INTO destinations (workspace_id, campaign_id, kind, name, enabled, settings, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [
          id(workspaceId),
          id(campaignId),
          input.settings.kind,
          input.name,
          input.enabled,
          JSON.stringify(input.settings),
          input.secret,
          at,
          at,
        ],
      )) as Row;
      await this.writeRoutes(c, r.id, r.campaign_id, input);
      return toDestination(r);
    });
  }

  async listDestinations(workspaceId: string, campaignId: string): Promise<Destination[]> {
    const rows = await this.all(
      this.pool,
      `SELECT * FROM destinations WHERE workspace_id = $1 AND campaign_id = $2 AND deleted_at IS NULL
       ORDER BY id`,
      [id(workspaceId), id(campaignId)],
    );
    return rows.map(toDestination);
  }

  async getDestination(workspaceId: string, destinationId: string): Promise<Destination | null> {
    const r = await this.one(
      this.pool,
      'SELECT * FROM destinations WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL',
      [id(destinationId), id(workspaceId)],
    );
    return r ? toDestination(r) : null;
  }

  async updateDestination(
    workspaceId: string,
    destinationId: string,
    input: DestinationInput,
    at: number,
    ifRevision: number,
  ): Promise<Destination | null | 'stale'> {
    return this.tx(async (c) => {
      const r = await this.one(
        c,
        `UPDATE destinations
         SET name = $1, enabled = $2, settings = $3, secret = $4, updated_at = $5, revision = revision + 1
         WHERE id = $6 AND workspace_id = $7 AND deleted_at IS NULL AND revision = $8
         RETURNING *`,
        [
          input.name,
          input.enabled,
          JSON.stringify(input.settings),
          input.secret,
          at,
          id(destinationId),
          id(workspaceId),
          ifRevision,
        ],
      );
      if (!r) {
        // Under READ COMMITTED the UPDATE waited for a concurrent change and
        // then saw its revision; a row still there was changed meanwhile.
        const exists = await this.one(
          c,
          'SELECT 1 FROM destinations WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL',
          [id(destinationId), id(workspaceId)],
        );
        return exists ? 'stale' : null;
      }
      await this.writeRoutes(c, r.id, r.campaign_id, input);
      return toDestination(r);
    });
  }

  async deleteDestination(
    workspaceId: string,
    destinationId: string,
    at: number,
  ): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await this.one(
        c,
        `UPDATE destinations SET deleted_at = $1, enabled = false
         WHERE id = $2 AND workspace_id = $3 AND deleted_at IS NULL RETURNING id, campaign_id`,
        [at, id(destinationId), id(workspaceId)],
      );
      if (!r) return false;
      await this.run(
        c,
        'DELETE FROM forward_routes WHERE campaign_id = $1 AND destination_id = $2',
        [r.campaign_id, r.id],
      );
      return true;
    });
  }

  async claimDeliveries(input: ClaimInput): Promise<DeliveryJob[]> {
    // Several nodes claim from one table. Under READ COMMITTED a node whose
    // subquery picked a row another node has just leased waits for that
    // node's commit, then re-checks the outer WHERE against the row as it is
    // now: the lease (or a finished or rescheduled row) makes it skip the row,
    // so no row is claimed twice.
    const claimed = await this.all(
      this.pool,
      // The destinations with pending rows are walked one index step each,
      // then each one's oldest due rows read: a claim reads only what it
      // takes, however many rows wait (migration 8).
      `UPDATE outbox SET lease_until = $1, lease_owner = $7 WHERE id IN (
         WITH RECURSIVE pending(id) AS (
           SELECT min(destination_id) FROM outbox WHERE status = 'pending'
           UNION ALL
           SELECT (SELECT min(o.destination_id) FROM outbox o
                   WHERE o.status = 'pending' AND o.destination_id > pending.id)
           FROM pending WHERE pending.id IS NOT NULL
         )
         SELECT due.id FROM pending
         JOIN destinations d ON d.id = pending.id
         CROSS JOIN LATERAL (
           SELECT o.id, o.next_at FROM outbox o
           WHERE o.destination_id = d.id AND o.status = 'pending' AND o.next_at <= $2
             AND (o.lease_until IS NULL OR o.lease_until <= $2)
           ORDER BY o.next_at, o.id
           LIMIT CASE WHEN d.kind = 'facebook' THEN $6::bigint ELSE $4::bigint END
         ) due
         WHERE d.id <> ALL($3::bigint[])
         ORDER BY due.next_at, due.id LIMIT $5
       ) AND status = 'pending' AND next_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
       RETURNING id`,
      [
        input.leaseUntil,
        input.now,
        input.busy.flatMap((b) => id(b) ?? []),
        input.perDestination,
        input.limit,
        input.perBatchedDestination,
        input.owner,
      ],
    );
    if (claimed.length === 0) return [];
    const rows = await this.all(
      this.pool,
      `SELECT o.id, o.workspace_id, o.campaign_id, o.subject, o.subject_id, o.lead_id, o.event,
         o.occurrence, o.event_at, o.attempts, o.budget_from, o.queued_at,
         g.slug,
         d.id AS d_id, d.workspace_id AS d_workspace_id, d.campaign_id AS d_campaign_id, d.name AS d_name,
         d.enabled AS d_enabled, d.settings AS d_settings, d.secret AS d_secret,
         d.created_at AS d_created_at, d.updated_at AS d_updated_at, d.deleted_at AS d_deleted_at,
         d.revision AS d_revision,
         l.clickid, l.external_id, l.username, l.params AS lead_params, l.created_at AS lead_created_at,
         k.id AS click_row, k.at AS click_at, k.ip, k.user_agent, k.referrer, k.params AS click_params,
         v.amount_micros, v.currency, v.tid
       FROM outbox o
       JOIN destinations d ON d.id = o.destination_id
       JOIN campaigns g ON g.id = o.campaign_id
       JOIN leads l ON l.id = o.lead_id
       LEFT JOIN clicks k ON k.id = l.click_id
       LEFT JOIN conversions v ON o.subject = 'conversion' AND v.id = o.subject_id
       WHERE o.id = ANY($1::bigint[])
       ORDER BY o.next_at, o.id`,
      [claimed.map((r) => String(r.id))],
    );
    const fields = new Map<string, Record<string, string>>();
    for (const f of await this.all(
      this.pool,
      'SELECT lead_id, key, value FROM lead_fields WHERE lead_id = ANY($1::bigint[])',
      [[...new Set(rows.map((r) => String(r.lead_id)))]],
    )) {
      const leadId = String(f.lead_id);
      const map = fields.get(leadId) ?? {};
      map[f.key as string] = f.value as string;
      fields.set(leadId, map);
    }
    const lease = { owner: input.owner, until: input.leaseUntil };
    return rows.map(
      (r): DeliveryJob => ({
        outboxId: String(r.id),
        lease,
        workspaceId: String(r.workspace_id),
        campaignId: String(r.campaign_id),
        campaignSlug: r.slug as string,
        destination: toDestination({
          id: r.d_id,
          workspace_id: r.d_workspace_id,
          campaign_id: r.d_campaign_id,
          name: r.d_name,
          enabled: r.d_enabled,
          settings: r.d_settings,
          secret: r.d_secret,
          created_at: r.d_created_at,
          updated_at: r.d_updated_at,
          deleted_at: r.d_deleted_at,
          revision: r.d_revision,
        }),
        subject: r.subject as Subject,
        subjectId: String(r.subject_id),
        event: r.event as string,
        occurrence: num(r.occurrence),
        eventAt: num(r.event_at),
        attempts: num(r.attempts),
        budgetAttempts: num(r.attempts) - num(r.budget_from),
        queuedAt: num(r.queued_at),
        conversion:
          r.subject === 'conversion' && r.currency !== null
            ? { micros: micros(r.amount_micros), currency: r.currency as string, tid: str(r.tid) }
            : null,
        lead: {
          clickid: r.clickid as string,
          externalId: str(r.external_id),
          username: str(r.username),
          params: (r.lead_params ?? {}) as Record<string, string>,
          createdAt: num(r.lead_created_at),
        },
        click:
          r.click_row === null
            ? null
            : {
                at: num(r.click_at),
                ip: str(r.ip),
                userAgent: str(r.user_agent),
                referrer: str(r.referrer),
                params: (r.click_params ?? {}) as Record<string, string>,
              },
        fields: fields.get(String(r.lead_id)) ?? {},
      }),
    );
  }

  async finishDelivery(
    outboxId: string,
    lease: DeliveryLease,
    attempt: DeliveryAttempt | null,
    outcome: DeliveryOutcome,
  ): Promise<boolean> {
    return this.tx(async (c) => {
      // Locked, so the attempt number and the counter move on together.
      const o = await this.one(
        c,
        `SELECT id, workspace_id, destination_id, campaign_id, event, attempts, lease_owner, lease_until
         FROM outbox WHERE id = $1 FOR UPDATE`,
        [id(outboxId)],
      );
      if (!o) return false;
      if (attempt) {
        await this.run(
          c,
          `INSERT INTO deliveries (workspace_id, outbox_id, destination_id, campaign_id, event, destination_event, event_id, attempt, at, duration_ms, http_status, status, error, request, response)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            o.workspace_id,
            o.id,
            o.destination_id,
            o.campaign_id,
            o.event,
            attempt.destinationEvent,
            attempt.eventId,
            num(o.attempts) + 1,
            attempt.at,
            attempt.durationMs,
            attempt.httpStatus,
            attempt.status,
            attempt.error,
            attempt.request,
            attempt.response,
          ],
        );
      }
      if (!holds(o, lease)) {
        // The request went out all the same: it is counted, and its numbering
        // goes on, but the row's state is its holder's to set.
        if (attempt)
          await this.run(c, 'UPDATE outbox SET attempts = attempts + 1 WHERE id = $1', [o.id]);
        return false;
      }
      await this.run(
        c,
        `UPDATE outbox SET status = $1, next_at = $2, attempts = attempts + $3, lease_until = NULL, lease_owner = NULL, last_error = $4
         WHERE id = $5`,
        [
          outcome.state === 'done' ? outcome.status : 'pending',
          outcome.state === 'retry' ? outcome.nextAt : (attempt?.at ?? 0),
          attempt ? 1 : 0,
          attempt?.error ?? null,
          o.id,
        ],
      );
      return true;
    });
  }

  async finishDeliveries(finished: FinishedDelivery[]): Promise<string[]> {
    if (finished.length === 0) return [];
    const ids = finished.map((f) => id(f.outboxId) as string);
    if (new Set(ids).size !== ids.length) {
      // The same row twice: its attempts are numbered one after the other.
      const lost: string[] = [];
      for (const f of finished) {
        if (!(await this.finishDelivery(f.outboxId, f.lease, f.attempt, f.outcome)))
          lost.push(f.outboxId);
      }
      return lost;
    }
    return this.tx(async (c) => {
      // Locked in id order, so the attempt numbers and the counters move on
      // together and two workers' batches cannot deadlock.
      const rows = await this.all(
        c,
        `SELECT id, workspace_id, destination_id, campaign_id, event, attempts, lease_owner, lease_until
         FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
        [ids],
      );
      const byId = new Map(rows.map((o) => [String(o.id), o]));
      const found = finished.flatMap((f) => {
        const o = byId.get(id(f.outboxId) as string);
        return o ? [{ ...f, o }] : [];
      });
      const attempted = found.filter((f) => f.attempt !== null);
      if (attempted.length > 0) {
        const column = (pick: (f: (typeof attempted)[number], a: DeliveryAttempt) => unknown) =>
          attempted.map((f) => pick(f, f.attempt as DeliveryAttempt));
        await this.run(
          c,
          `INSERT INTO deliveries (workspace_id, outbox_id, destination_id, campaign_id, event, destination_event, event_id, attempt, at, duration_ms, http_status, status, error, request, response)
           SELECT workspace_id, outbox_id, destination_id, campaign_id, event, destination_event, event_id, attempt, at, duration_ms, http_status, status, error, request, response
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::integer[], $9::bigint[], $10::integer[], $11::integer[], $12::text[], $13::text[], $14::text[], $15::text[])
             WITH ORDINALITY AS t(workspace_id, outbox_id, destination_id, campaign_id, event, destination_event, event_id, attempt, at, duration_ms, http_status, status, error, request, response, n)
           ORDER BY n`,
          [
            column((f) => f.o.workspace_id),
            column((f) => f.o.id),
            column((f) => f.o.destination_id),
            column((f) => f.o.campaign_id),
            column((f) => f.o.event),
            column((_, a) => a.destinationEvent),
            column((_, a) => a.eventId),
            column((f) => num(f.o.attempts) + 1),
            column((_, a) => a.at),
            column((_, a) => a.durationMs),
            column((_, a) => a.httpStatus),
            column((_, a) => a.status),
            column((_, a) => a.error),
            column((_, a) => a.request),
            column((_, a) => a.response),
          ],
        );
      }
      // A row its lease no longer holds only counts the attempt (see finishDelivery).
      const held = found.filter((f) => holds(f.o, f.lease));
      const lost = found.filter((f) => !holds(f.o, f.lease));
      const lostAttempts = lost.filter((f) => f.attempt !== null).map((f) => f.o.id);
      if (lostAttempts.length > 0) {
        await this.run(
          c,
          'UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])',
          [lostAttempts],
        );
      }
      if (held.length > 0) {
        await this.run(
          c,
          `UPDATE outbox o SET status = u.status, next_at = u.next_at, attempts = o.attempts + u.added,
             lease_until = NULL, lease_owner = NULL, last_error = u.last_error
           FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::integer[], $5::text[])
             AS u(id, status, next_at, added, last_error)
           WHERE o.id = u.id`,
          [
            held.map((f) => f.o.id),
            held.map((f) => (f.outcome.state === 'done' ? f.outcome.status : 'pending')),
            held.map((f) =>
              f.outcome.state === 'retry' ? f.outcome.nextAt : (f.attempt?.at ?? 0),
            ),
            held.map((f) => (f.attempt ? 1 : 0)),
            held.map((f) => f.attempt?.error ?? null),
          ],
        );
      }
      const moved = new Set(held.map((f) => f.outboxId));
      return finished.filter((f) => !moved.has(f.outboxId)).map((f) => f.outboxId);
    });
  }

  async pruneLogs(before: number, limit: number): Promise<PrunedLogs> {
    // Two statements, each its own transaction: nothing to keep together.
    // Nodes pruning at once take the same oldest rows; one deletes them and
    // the others find them gone.
    const logs = await this.run(
      this.pool,
      `DELETE FROM postback_logs
       WHERE id IN (SELECT id FROM postback_logs ORDER BY id LIMIT $1) AND at < $2`,
      [limit, before],
    );
    const deliveries = await this.run(
      this.pool,
      `DELETE FROM deliveries
       WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT $1) AND at < $2`,
      [limit, before],
    );
    return { postbackLogs: logs.rowCount ?? 0, deliveries: deliveries.rowCount ?? 0 };
  }

  async releaseDeliveryLeases(isGone: (owner: string) => boolean): Promise<number> {
    // Other live nodes may hold leases on this database: only the owners
    // `isGone` vouches for are freed. The rest run out on their own.
    const owners = await this.all(
      this.pool,
      `SELECT DISTINCT lease_owner FROM outbox
       WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_owner IS NOT NULL`,
    );
    const gone = owners.map((r) => String(r.lease_owner)).filter(isGone);
    if (gone.length === 0) return 0;
    const freed = await this.run(
      this.pool,
      `UPDATE outbox SET lease_until = NULL, lease_owner = NULL
       WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_owner = ANY($1::text[])`,
      [gone],
    );
    return freed.rowCount ?? 0;
  }

  async listDeliveries(workspaceId: string, filter: DeliveryFilter): Promise<Page<DeliveryEntry>> {
    const values: unknown[] = [id(workspaceId)];
    const where = ['x.workspace_id = $1'];
    const add = (clause: (n: number) => string, value: unknown) => {
      values.push(value);
      where.push(clause(values.length));
    };
    if (filter.sourceId !== undefined) add((n) => `x.destination_id = $${n}`, id(filter.sourceId));
    if (filter.campaignId !== undefined) add((n) => `x.campaign_id = $${n}`, id(filter.campaignId));
    if (filter.event !== undefined) add((n) => `x.event = $${n}`, filter.event);
    if (filter.status !== undefined) add((n) => `x.status = $${n}`, filter.status);
    const before = decodeCursor(filter.cursor);
    if (before !== null) add((n) => `x.id < $${n}`, before);
    values.push(filter.limit + 1);
    const rows = await this.all(
      this.pool,
      `SELECT x.*, d.name AS source_name, d.kind AS source_type FROM deliveries x
       JOIN destinations d ON d.id = x.destination_id
       WHERE ${where.join(' AND ')} ORDER BY x.id DESC LIMIT $${values.length}`,
      values,
    );
    const more = rows.length > filter.limit;
    const items = rows.slice(0, filter.limit).map(
      (r): DeliveryEntry => ({
        id: String(r.id),
        outboxId: String(r.outbox_id),
        campaignId: String(r.campaign_id),
        sourceId: String(r.destination_id),
        sourceName: r.source_name as string,
        sourceType: r.source_type as string,
        event: r.event as string,
        attempt: num(r.attempt),
        at: num(r.at),
        durationMs: num(r.duration_ms),
        destinationEvent: str(r.destination_event),
        eventId: r.event_id as string,
        httpStatus: r.http_status === null ? null : num(r.http_status),
        status: r.status as DeliveryEntry['status'],
        error: str(r.error),
        request: r.request as string,
        response: str(r.response),
      }),
    );
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(last.id) : null };
  }

  async retryDelivery(
    workspaceId: string,
    deliveryId: string,
    now: number,
  ): Promise<string | null | 'in_flight'> {
    return this.tx(async (c) => {
      const d = await this.one(
        c,
        'SELECT outbox_id FROM deliveries WHERE id = $1 AND workspace_id = $2',
        [id(deliveryId), id(workspaceId)],
      );
      if (!d) return null;
      // A row being delivered right now keeps its lease: the attempt under
      // way may end for good (its last try, a refusal), so the caller is told
      // rather than answered as if the retry were queued.
      const moved = await this.run(
        c,
        `UPDATE outbox SET status = 'pending', next_at = $1, queued_at = $1, budget_from = attempts,
           lease_until = NULL, lease_owner = NULL
         WHERE id = $2 AND (lease_until IS NULL OR lease_until <= $1)`,
        [now, d.outbox_id],
      );
      if (moved.rowCount === 0) return 'in_flight';
      this.queued.add(c);
      return String(d.outbox_id);
    });
  }

  async destinationHealth(destinationIds: string[]): Promise<DeliveryFacts[]> {
    const rows = await Promise.all(
      destinationIds.map((d) =>
        this.one(this.pool, DESTINATION_HEALTH_SQL, [id(d), HEALTH_WINDOW, PENDING_LIMIT]),
      ),
    );
    const orNull = (v: unknown) => (v === null || v === undefined ? null : num(v));
    return rows.map(
      (r): DeliveryFacts => ({
        lastDeliveredAt: orNull(r?.delivered_at),
        failedInARow: num(r?.failed ?? 0),
        gaveUp: num(r?.gave_up ?? 0),
        failingSince: orNull(r?.failing_since),
        lastFailedAt: orNull(r?.failed_at),
        lastError: str(r?.error),
        pending: num(r?.pending ?? 0),
      }),
    );
  }

  async listDestinationsLastFailed(workspaceId: string): Promise<Destination[]> {
    const rows = await this.all(
      this.pool,
      `SELECT d.* FROM campaigns c JOIN destinations d ON d.campaign_id = c.id
       WHERE c.workspace_id = $1 AND c.deleted_at IS NULL
         AND d.workspace_id = $1 AND d.deleted_at IS NULL AND d.enabled
         AND (
           SELECT status FROM deliveries
           WHERE destination_id = d.id AND status IN ('delivered', 'retrying', 'failed')
           ORDER BY destination_id DESC, id DESC LIMIT 1
         ) IN ('retrying', 'failed')
       ORDER BY c.id, d.id`,
      [id(workspaceId)],
    );
    return rows.map(toDestination);
  }

  async outboxCounts(workspaceId: string | null): Promise<Record<string, number>> {
    const rows =
      workspaceId === null
        ? await this.all(this.pool, 'SELECT status, count(*) AS n FROM outbox GROUP BY status')
        : await this.all(
            this.pool,
            'SELECT status, count(*) AS n FROM outbox WHERE workspace_id = $1 GROUP BY status',
            [id(workspaceId)],
          );
    return Object.fromEntries(rows.map((r) => [r.status as string, num(r.n)]));
  }

  // --- statistics ---------------------------------------------------------

  async stats(
    workspaceId: string,
    query: StatsQuery,
  ): Promise<{ rows: StatsRow[]; currency: string; currencies: string[] }> {
    const ws = id(workspaceId);
    // An id that can't exist matches nothing (never 'no filter').
    const campaign = query.campaignId === undefined ? null : (id(query.campaignId) ?? '-1');
    const plan = planStats(query);
    const path = query.groupBy.startsWith('param.') ? query.groupBy.slice('param.'.length) : null;
    // Sums come back per currency, so the reads need not wait for the choice of one.
    const [counted, results] = await Promise.all([
      Promise.all(
        plan.currency.map(({ source, fromMs, toMs }) =>
          this.named(CURRENCY_SQL[source], { ws, campaign, from: fromMs, to: toMs }),
        ),
      ),
      Promise.all(
        plan.reads.map((read) => {
          const sql = statsSql(query.groupBy, read);
          const args = {
            ws,
            campaign,
            path,
            ...(read.kind === 'days'
              ? {
                  keys: read.ranges.map((r) => r.key),
                  starts: read.ranges.map((r) => r.startMs),
                  ends: read.ranges.map((r) => r.endMs),
                }
              : { from: read.fromMs, to: read.toMs }),
          };
          return Promise.all([
            sql.clicks ? this.named(sql.clicks, args) : [],
            sql.leads ? this.named(sql.leads, args) : [],
            this.named(sql.conversions, args),
          ]);
        }),
      ),
    ]);
    const priced = new Map<string, number>();
    for (const r of counted.flat()) {
      const c = r.currency as string;
      priced.set(c, (priced.get(c) ?? 0) + num(r.n));
    }
    // Ordered here, not by the database's collation: both engines agree.
    const currencies = [...priced]
      .sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0))
      .map(([c]) => c);

    const currency = query.currency ?? currencies[0] ?? 'USD';
    const rows = new Map<string, StatsRow>();
    const row = (key: string, label: string): StatsRow => {
      let r = rows.get(key);
      if (!r) {
        r = emptyStatsRow(key, label);
        rows.set(key, r);
      }
      return r;
    };
    if (query.groupBy === 'day') for (const b of query.buckets) row(b.key, b.key);

    plan.reads.forEach((read, i) => {
      const [clicks, leads, conversions] = results[i] as Row[][];
      // The group a result row counts towards; null: another read counts it.
      const target = (r: Row): StatsRow | null => {
        if (read.kind !== 'buckets') {
          return row(String(r.key ?? ''), String(r.label ?? r.key ?? ''));
        }
        const day = read.dayOf(num(r.key));
        return day === null ? null : row(day, day);
      };
      for (const r of clicks ?? []) {
        const t = target(r);
        if (t) t.clicks += num(r.n);
      }
      for (const r of leads ?? []) {
        const t = target(r);
        if (t) t.leads += num(r.n);
      }
      for (const r of conversions ?? []) {
        const t = target(r);
        if (!t) continue;
        // Counts count every currency; money only the chosen one.
        t.registrations += num(r.registrations);
        t.firstDeposits += num(r.first_deposits);
        t.deposits += num(r.deposits);
        if (r.currency !== currency) continue;
        t.firstDepositMicros += BigInt(r.ftd_micros as string);
        t.depositMicros += BigInt(r.dep_micros as string);
        t.withdrawalMicros += BigInt(r.wd_micros as string);
      }
    });
    return { rows: [...rows.values()], currency, currencies };
  }

  /** Runs a statement written with `@name` parameters. */
  private async named(text: string, args: Record<string, unknown>): Promise<Row[]> {
    const order: string[] = [];
    const sql = text.replace(/@([a-z]+)/g, (_m, name: string) => {
      let n = order.indexOf(name);
      if (n === -1) {
        order.push(name);
        n = order.length - 1;
      }
      return `$${n + 1}`;
    });
    return this.all(
      this.pool,
      sql,
      order.map((name) => args[name]),
    );
  }
}

/**
 * Where one table's counts come from: its raw rows, or its rollup (per
 * 15-minute bucket, key and connection shard; 0 for a key that is NULL in the
 * raw row). Both give the same columns. Sums of bigint are numeric here:
 * exact, whatever their size.
 */
interface Source {
  table: string;
  time: string;
  /** The campaign and postback ids, NULL where there is none. */
  campaign: string;
  postback: string | null;
  /** The lead's click parameters, and what to join to reach them; null: not kept. */
  params: { value: string; join: string } | null;
  /** More grouping columns: conversions are summed per currency. */
  groups: string[];
  select: string;
  /** Groups without rows: a rollup's counts can come back down to zero. */
  having: string;
}

const RAW: Record<'clicks' | 'leads' | 'conversions', Source> = {
  clicks: {
    table: 'clicks',
    time: 'at',
    campaign: 'x.campaign_id',
    postback: null,
    params: { value: 'x.params', join: '' },
    groups: [],
    select: 'count(*) AS n',
    having: '',
  },
  leads: {
    table: 'leads',
    time: 'created_at',
    campaign: 'x.campaign_id',
    postback: null,
    params: { value: 'x.params', join: '' },
    groups: [],
    select: 'count(*) AS n',
    having: '',
  },
  conversions: {
    table: 'conversions',
    time: 'at',
    campaign: 'x.campaign_id',
    postback: 'x.postback_id',
    params: { value: 'p.params', join: 'JOIN leads p ON p.id = x.lead_id' },
    groups: ['x.currency AS currency'],
    select: `
      count(*) FILTER (WHERE x.event = 'registration') AS registrations,
      count(*) FILTER (WHERE x.event = 'first_deposit') AS first_deposits,
      coalesce(sum(x.amount_micros) FILTER (WHERE x.event = 'first_deposit'), 0) AS ftd_micros,
      count(*) FILTER (WHERE x.event = 'deposit') AS deposits,
      coalesce(sum(x.amount_micros) FILTER (WHERE x.event = 'deposit'), 0) AS dep_micros,
      coalesce(sum(-x.amount_micros) FILTER (WHERE x.amount_micros < 0), 0) AS wd_micros`,
    having: '',
  },
};

const ROLLUPS: Record<'clicks' | 'leads' | 'conversions', Source> = {
  clicks: {
    table: 'click_rollups',
    time: 'bucket',
    campaign: 'nullif(x.campaign_id, 0)',
    postback: null,
    params: null,
    groups: [],
    select: 'sum(x.n) AS n',
    having: 'HAVING sum(x.n) > 0',
  },
  leads: {
    table: 'lead_rollups',
    time: 'bucket',
    campaign: 'nullif(x.campaign_id, 0)',
    postback: null,
    params: null,
    groups: [],
    select: 'sum(x.n) AS n',
    having: 'HAVING sum(x.n) > 0',
  },
  conversions: {
    table: 'conversion_rollups',
    time: 'bucket',
    campaign: 'nullif(x.campaign_id, 0)',
    postback: 'nullif(x.postback_id, 0)',
    params: null,
    groups: ['x.currency AS currency'],
    select: `
      coalesce(sum(x.n) FILTER (WHERE x.event = 'registration'), 0) AS registrations,
      coalesce(sum(x.n) FILTER (WHERE x.event = 'first_deposit'), 0) AS first_deposits,
      coalesce(sum(x.micros) FILTER (WHERE x.event = 'first_deposit'), 0) AS ftd_micros,
      coalesce(sum(x.n) FILTER (WHERE x.event = 'deposit'), 0) AS deposits,
      coalesce(sum(x.micros) FILTER (WHERE x.event = 'deposit'), 0) AS dep_micros,
      -sum(x.negative_micros) AS wd_micros`,
    having: 'HAVING sum(x.n) > 0',
  },
};

/** Conversions with an amount per currency in [@from, @to), to choose the one to sum. */
const CURRENCY_SQL = {
  raw: `SELECT currency, count(amount_micros) AS n FROM conversions
    WHERE workspace_id = @ws::bigint AND at >= @from::bigint AND at < @to::bigint
      AND (@campaign::bigint IS NULL OR campaign_id = @campaign::bigint)
    GROUP BY currency HAVING count(amount_micros) > 0`,
  rollups: `SELECT currency, sum(priced) AS n FROM conversion_rollups
    WHERE workspace_id = @ws::bigint AND bucket >= @from::bigint AND bucket < @to::bigint
      AND (@campaign::bigint IS NULL OR campaign_id = @campaign::bigint)
    GROUP BY currency HAVING sum(priced) > 0`,
};

interface Dimension {
  /** The grouping key; null: the source has nothing to count for it. */
  key: (s: Source) => string | null;
  /** Joins that bring `g` (the dimension's table) in. */
  join?: (s: Source) => string;
  label?: string;
}

const campaignJoin = (s: Source) => `LEFT JOIN campaigns g ON g.id = ${s.campaign}`;
const postbackJoin = (s: Source) => `LEFT JOIN postbacks g ON g.id = ${s.postback}`;

const DIMENSIONS: Record<string, Dimension> = {
  campaign: { key: (s) => s.campaign, join: campaignJoin, label: 'g.name' },
  buyer: { key: () => "coalesce(g.buyer, '')", join: campaignJoin },
  postback: { key: (s) => s.postback, join: postbackJoin, label: 'g.name' },
  network: { key: (s) => s.postback && "coalesce(g.network, 'manual')", join: postbackJoin },
  param: {
    key: (s) => (s.params ? `${s.params.value} ->> @path::text` : null),
    join: (s) => s.params?.join ?? '',
  },
  // Local days: the rollups by bucket (the caller adds buckets up into days),
  // the raw rows by the ranges in @keys/@starts/@ends, each with its day.
  day: { key: (s) => (s.time === 'bucket' ? 'x.bucket' : 'b.key') },
};

interface StatsSql {
  clicks: string | null;
  leads: string | null;
  conversions: string;
}

const statsCache = new Map<string, StatsSql>();

/** The same aggregate queries as the embedded engine, in PostgreSQL's dialect. */
function statsSql(groupBy: StatsQuery['groupBy'], read: StatsRead): StatsSql {
  const name = groupBy.startsWith('param.') ? 'param' : groupBy;
  const source = read.kind === 'span' ? read.source : read.kind === 'buckets' ? 'rollups' : 'raw';
  const cacheKey = `${name} ${read.kind} ${source}`;
  const cached = statsCache.get(cacheKey);
  if (cached) return cached;
  const dim = DIMENSIONS[name];
  if (!dim) throw new Error(`unknown grouping ${groupBy}`);
  const sources = source === 'rollups' ? ROLLUPS : RAW;

  const build = (s: Source): string | null => {
    const key = dim.key(s);
    if (key === null) return null;
    const columns = [`${key} AS key`, ...(dim.label ? [`${dim.label} AS label`] : []), ...s.groups];
    const from =
      read.kind === 'days'
        ? `unnest(@keys::text[], @starts::bigint[], @ends::bigint[]) AS b(key, s, e)
          JOIN ${s.table} x ON x.workspace_id = @ws::bigint AND x.${s.time} >= b.s AND x.${s.time} < b.e`
        : `${s.table} x ${dim.join?.(s) ?? ''}`;
    const span =
      read.kind === 'days'
        ? ''
        : `x.workspace_id = @ws::bigint AND x.${s.time} >= @from::bigint AND x.${s.time} < @to::bigint AND`;
    return `SELECT ${columns.join(', ')}, ${s.select} FROM ${from}
      WHERE ${span} (@campaign::bigint IS NULL OR x.campaign_id = @campaign::bigint)
      GROUP BY ${columns.map((_, i) => i + 1).join(', ')} ${s.having}`;
  };
  const result: StatsSql = {
    clicks: build(sources.clicks),
    leads: build(sources.leads),
    conversions: build(sources.conversions) as string,
  };
  statsCache.set(cacheKey, result);
  return result;
}
