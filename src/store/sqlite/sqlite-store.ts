// The embedded engine: better-sqlite3 in WAL mode. Every method is one
// synchronous transaction, so no two requests ever interleave inside one.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  ALL_CONVERSIONS,
  type DestinationSettings,
  type Subject,
} from '../../domain/forwarding.js';
import type { NetworkMacros } from '../../domain/presets.js';
import { type DeliveryFacts, HEALTH_WINDOW, PENDING_LIMIT } from '../../domain/source-health.js';
import { type CachedLead, LeadCache } from '../lead-cache.js';
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
import { CHECKPOINT_DEFAULTS, Checkpointer, type CheckpointOptions } from './checkpointer.js';
import { LogBatch } from './log-batch.js';
import { MIGRATIONS, type SqliteMigration } from './migrations.js';
import { Reader, type ReadQuery } from './reader.js';
import { RollupBatch } from './rollups.js';

type Row = Record<string, unknown>;

const MAX_UNIQUE_RETRIES = 8;

export interface SqliteOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** WAL checkpointing; the defaults suit production (tests shorten them). */
  checkpoint?: CheckpointOptions;
  /**
   * How long writes wait for the file's write lock while another process
   * holds it, before they fail as unavailable (503). Default 5 s.
   */
  lockWaitMs?: number;
}

const LOCK_WAIT_MS = 5000;
/** The waits between attempts at a write lock another process holds, in ms (then the last, repeated). */
const LOCK_RETRY_MS = [1, 2, 5, 10, 20, 50, 100];

export function openSqliteStore(options: SqliteOptions): SqliteStore {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a committed transaction survives a crash of the
  // process (kill -9); only a power loss can take the last commits back.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Opening waits for another process's migration or write like any tool;
  // serving does not (see SqliteStore.flush).
  db.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
  migrate(db);
  db.pragma('busy_timeout = 0');
  const lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  if (options.path === ':memory:') return new SqliteStore(db, null, null, lockWaitMs);
  // Checkpoints run in a worker thread, not inside a commit on this one.
  db.pragma('wal_autocheckpoint = 0');
  const checkpoint = options.checkpoint ?? CHECKPOINT_DEFAULTS;
  // The log starts over in place and keeps its file: the writes after a
  // restart overwrite blocks the file already has. Cut back to the threshold
  // at every restart (about once a second at full load), the first commit
  // after one truncated the file on this thread and the next ones grew it
  // again, which doubled the postbacks' p99. Only a log grown past twice the
  // threshold, where the checkpointer stops waiting for a short hold (writes
  // outran it, or a long read held checkpoints back), is cut back, to that.
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  db.pragma(`journal_size_limit = ${2 * checkpoint.restartFrames * pageSize}`);
  return new SqliteStore(
    db,
    new Checkpointer(options.path, checkpoint),
    new Reader(options.path),
    lockWaitMs,
  );
}

/**
 * Applies the migrations not yet applied, each in its own write transaction.
 * Another process may open the same file at the same moment, so a migration
 * not applied yet is checked again once its transaction holds the write lock:
 * the process that comes second skips what the first has applied. (One found
 * applied needs no lock: nothing takes a migration back.)
 */
export function migrate(
  db: Database.Database,
  migrations: Iterable<SqliteMigration> = MIGRATIONS,
): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  for (const m of migrations) {
    if (applied.get(m.version)) continue;
    db.transaction(() => {
      if (applied.get(m.version)) return;
      if (m.sql !== undefined) db.exec(m.sql);
      m.apply?.(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    }).immediate();
  }
}

/**
 * One destination's delivery facts (Store.destinationHealth): its newest
 * delivered attempt (index deliveries_delivered), the failed attempts among
 * its newest @window since then (deliveries_destination), and its waiting
 * events up to @pending (outbox_pending). Each part stops at its bound; each
 * is ordered as its index is, so the planner walks that index.
 */
export const DESTINATION_HEALTH_SQL = `
WITH delivered AS (
  SELECT id, at FROM deliveries WHERE destination_id = @d AND status = 'delivered'
  ORDER BY destination_id DESC, id DESC LIMIT 1
), recent AS (
  SELECT id, at, status FROM deliveries
  WHERE destination_id = @d AND id > coalesce((SELECT id FROM delivered), 0)
  ORDER BY destination_id DESC, id DESC LIMIT @window
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
    SELECT 1 FROM outbox WHERE destination_id = @d AND status = 'pending'
    ORDER BY destination_id, next_at, id LIMIT @pending
  )) AS pending`;

/**
 * The workspace's enabled destinations whose newest attempt failed
 * (Store.listDestinationsLastFailed): through its campaigns (index
 * campaigns_workspace) to their destinations (destinations_campaign), then
 * each one's newest delivered, retrying or failed row, walking
 * deliveries_destination back from its end past any skipped or expired rows.
 */
export const DESTINATIONS_LAST_FAILED_SQL = `
SELECT d.* FROM campaigns c JOIN destinations d ON d.campaign_id = c.id
WHERE c.workspace_id = @ws AND c.deleted_at IS NULL
  AND d.workspace_id = @ws AND d.deleted_at IS NULL AND d.enabled = 1
  AND (
    SELECT status FROM deliveries
    WHERE destination_id = d.id AND status IN ('delivered', 'retrying', 'failed')
    ORDER BY destination_id DESC, id DESC LIMIT 1
  ) IN ('retrying', 'failed')
ORDER BY c.id, d.id`;

/**
 * A lead whose clickid starts with `q` (the exact one too): a range in the
 * clickid's order (BINARY: code points, case-sensitive), which its unique
 * index can answer, rather than a LIKE, whose prefix SQLite matches without
 * regard to case and with the index only under case_sensitive_like.
 */
export function clickidPrefix(q: string): { sql: string; params: string[] } {
  const end = prefixEnd(q);
  return end === null
    ? { sql: 'l.clickid >= ?', params: [q] }
    : { sql: '(l.clickid >= ? AND l.clickid < ?)', params: [q, end] };
}

/** The leads list's q: a clickid's start, an externalId, or part of a username. */
export function leadSearch(q: string): { sql: string; params: string[] } {
  const clickid = clickidPrefix(q);
  return {
    sql: `(${clickid.sql} OR l.external_id = ? OR l.username LIKE ? ESCAPE '\\')`,
    params: [...clickid.params, q, `%${q.replace(/[\\%_]/g, '\\$&')}%`],
  };
}

/**
 * A page of leads, newest first, with each one's registration, first deposit,
 * deposits and last event; `where` holds the conditions on the leads (alias
 * l), its parameters come first, then the limit. The page is the workspace's
 * leads walked back from the newest (leads_workspace_id) until it is full.
 * A search by q walks it too: its clickid range alone would be answered by the
 * clickid's index, but part of a username is in no index, and one term of an
 * OR that no index answers makes the whole OR a filter on the walk.
 */
export function leadPageSql(where: string): string {
  return `SELECT l.*,
     EXISTS (SELECT 1 FROM conversions c WHERE c.lead_id = l.id AND c.once_key = 'registration') AS registered,
     (SELECT amount_micros FROM conversions c WHERE c.lead_id = l.id AND c.once_key = 'first_deposit') AS ftd_micros,
     (SELECT currency FROM conversions c WHERE c.lead_id = l.id AND c.once_key = 'first_deposit') AS ftd_currency,
     (SELECT count(*) FROM conversions c WHERE c.lead_id = l.id AND c.event IN ('first_deposit', 'deposit')) AS deposit_count,
     (SELECT max(at) FROM conversions c WHERE c.lead_id = l.id) AS last_event_at
   FROM leads l WHERE ${where} ORDER BY l.id DESC LIMIT ?`;
}

/** A row id from its text: 1-16 ASCII digits without a leading zero, else null. */
function id(value: string | undefined | null): number | null {
  // By hand rather than by a regular expression: several times per postback.
  if (value === undefined || value === null) return null;
  const length = value.length;
  if (length === 0 || length > 16 || value.charCodeAt(0) === 48) return null;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  return Number(value);
}

function str(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** SQLITE_BUSY and its extended codes: a lock another connection holds. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function encodeCursor(value: number): string {
  return Buffer.from(String(value)).toString('base64url');
}

/** The row a page starts after; a cursor this API did not give out is refused (400). */
function decodeCursor(cursor: string | undefined): number | null {
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
    createdAt: Number(r.created_at),
  };
}

function toApiKey(r: Row): ApiKey {
  return {
    id: String(r.id),
    name: r.name as string,
    prefix: r.prefix as string,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
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
    macros: JSON.parse(r.macros as string) as NetworkMacros,
    enabled: Number(r.enabled) === 1,
    deleted: r.deleted_at !== null,
    createdAt: Number(r.created_at),
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
    params: JSON.parse(r.params as string) as Record<string, string>,
    createdAt: Number(r.created_at),
  };
}

function toDestination(r: Row): Destination {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    campaignId: String(r.campaign_id),
    name: r.name as string,
    enabled: Number(r.enabled) === 1,
    settings: JSON.parse(r.settings as string) as DestinationSettings,
    secret: str(r.secret),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    deleted: r.deleted_at !== null,
    revision: Number(r.revision),
  };
}

/**
 * A page of the postback log, newest first, with the amount and currency of
 * each row's conversion. The page is cut first (by the workspace's log index)
 * and each of its rows then looks its conversion up by primary key: at most
 * limit + 1 lookups, however many conversions the workspace has. `where`
 * holds the log's own conditions; the parameters are theirs, then the limit.
 */
export function postbackLogPageSql(where: string): string {
  return `SELECT l.*, c.amount_micros AS conversion_micros, c.currency AS conversion_currency
    FROM (SELECT * FROM postback_logs WHERE ${where} ORDER BY id DESC LIMIT ?) l
    LEFT JOIN conversions c ON c.id = l.conversion_id AND c.workspace_id = l.workspace_id
    ORDER BY l.id DESC`;
}

function micros(value: unknown): bigint | null {
  return value === null || value === undefined ? null : BigInt(value as bigint | number | string);
}

interface PendingOp {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /**
   * When the write joined a wait for a lock another process holds; 0 if it
   * came before that wait began, which is then its start (lockBusySince).
   */
  since: number;
}

/** A campaign's forward routes: our event (`deposit`, `deposit#2`, `*`) → where it goes. */
type CampaignRoutes = Map<string, Array<{ workspaceId: number; destinationId: number }>>;

type BatchResult = { ok: true; value: unknown } | { ok: false; error: unknown };

export class SqliteStore implements Store {
  readonly engine = 'sqlite';
  private readonly statements = new Map<string, Database.Statement>();
  private pending: PendingOp[] = [];
  private readonly leads = new LeadCache();
  /** Statistics for the rows a batch inserts, written just before it commits. */
  private readonly rollups: RollupBatch;
  /** The postback-log rows of a batch, inserted just before it commits. */
  private readonly logs: LogBatch;

  /** Set when a write queued deliveries; the listener hears of it after the commit. */
  private outboxWritten = false;
  /** Campaigns' forward routes, read once per batch (see routesOf). */
  private readonly routesInBatch = new Map<number, CampaignRoutes>();
  private batchRunning = false;
  private outboxListener: (() => void) | null = null;
  /** Set once a batch's transaction has begun: a failure before it means the lock was not had. */
  private began = false;
  /** While another process holds the write lock: since when, how many attempts, the next one. */
  private lockBusySince: number | null = null;
  private lockAttempts = 0;
  private lockRetry: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    private readonly db: Database.Database,
    private readonly checkpointer: Checkpointer | null,
    /** Long reads, off this thread; null (an in-memory database): they run here. */
    private readonly reader: Reader | null,
    /** How long a batch waits for a write lock another process holds. */
    private readonly lockWaitMs: number,
  ) {
    this.rollups = new RollupBatch(db);
    this.logs = new LogBatch(db);
    this.runTogether = db.transaction((ops: PendingOp[]) => {
      this.began = true;
      const results = ops.map((op): BatchResult => ({ ok: true, value: op.fn() }));
      this.writeDeferred();
      return results;
    });
    // Nested in a transaction, better-sqlite3 runs this as a savepoint.
    const inSavepoint = db.transaction((fn: () => unknown) => {
      const value = fn();
      this.writeDeferred();
      return value;
    });
    this.runIsolated = db.transaction((ops: PendingOp[]) => {
      this.began = true;
      return ops.map((op): BatchResult => {
        const queuedBefore = this.outboxWritten;
        const leadsBefore = this.leads.mark();
        try {
          return { ok: true, value: inSavepoint(op.fn) };
        } catch (error) {
          // A full disk, an I/O error: SQLite may roll the whole transaction
          // back itself. Then nothing of the batch is kept, and the writes
          // after this one must not run on their own (each would commit
          // alone, its caller told it failed): the batch fails as a whole.
          if (!db.inTransaction) throw error;
          this.outboxWritten = queuedBefore;
          this.leads.rollbackTo(leadsBefore);
          this.dropDeferred();
          this.routesInBatch.clear();
          return { ok: false, error };
        }
      });
    });
  }

  onOutbox(listener: () => void): void {
    this.outboxListener = listener;
  }

  private notifyOutbox(): void {
    if (!this.outboxWritten) return;
    this.outboxWritten = false;
    this.outboxListener?.();
  }

  /** Prepared once, reused: the hot paths never re-parse SQL. */
  private sql(text: string, safeIntegers = false): Database.Statement {
    const key = safeIntegers ? `#${text}` : text;
    let stmt = this.statements.get(key);
    if (!stmt) {
      stmt = this.db.prepare(text);
      if (safeIntegers) stmt.safeIntegers(true);
      this.statements.set(key, stmt);
    }
    return stmt;
  }

  /**
   * Queries whose cost grows with the data, on the reader's thread; all of one
   * call read the same snapshot.
   */
  private async read(queries: ReadQuery[]): Promise<Row[][]> {
    if (this.reader) return this.reader.read(queries);
    return queries.map((q) => {
      const statement = this.sql(q.sql, q.safeIntegers === true);
      return (
        Array.isArray(q.params) ? statement.all(...q.params) : statement.all(q.params)
      ) as Row[];
    });
  }

  /**
   * Group commit: the writes that arrive in one turn of the event loop run in
   * one transaction, and every caller is answered only after that transaction
   * commits. One commit for many writes is what makes a write per request
   * affordable. A write that throws fails alone (see flush).
   *
   * Every write goes through here, even a one-statement one: this is where a
   * write lock held by another process is waited for without holding up the
   * thread.
   */
  private batch<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.db.open) {
        reject(new Error('the store is closed'));
        return;
      }
      this.pending.push({
        fn,
        resolve: resolve as (value: unknown) => void,
        reject,
        // Read only while a wait is under way: the hot path takes no clock.
        since: this.lockBusySince === null ? 0 : Date.now(),
      });
      if (this.pending.length === 1) setImmediate(this.flush);
    });
  }

  /** The batch as one transaction; any write that throws rolls all of it back. */
  private readonly runTogether: Database.Transaction<(ops: PendingOp[]) => BatchResult[]>;
  /** The batch again, each write in its own savepoint: one that throws rolls back alone. */
  private readonly runIsolated: Database.Transaction<(ops: PendingOp[]) => BatchResult[]>;

  /**
   * Writes almost never throw, so a batch first runs without savepoints (two
   * statements per write saved); if one does throw, the whole batch rolled
   * back and runs again isolated. Writes are pure database work, so running
   * one twice (only the second time committed) is safe.
   */
  private readonly flush = (): void => {
    this.lockRetry = null;
    const ops = this.pending;
    // close() may have flushed this batch already.
    if (ops.length === 0) return;
    if (!this.db.open) {
      this.pending = [];
      for (const op of ops) op.reject(new Error('the store is closed'));
      return;
    }
    if (this.checkpointer?.restartDue && this.db.open) {
      // Held until the log is all checkpointed, so this batch restarts it
      // (see Checkpointer). Writes arriving meanwhile join the batch.
      this.checkpointer.catchUp().then(this.flush);
      return;
    }
    this.pending = [];
    let results: BatchResult[] | null = null;
    let failure: unknown;
    this.batchRunning = true;
    this.began = false;
    try {
      results = this.runTogether.immediate(ops);
    } catch (first) {
      this.forgetBatch();
      if (this.lockNotHad(first)) {
        this.waitForLock(ops, first);
        return;
      }
      this.began = false;
      try {
        results = this.runIsolated.immediate(ops);
      } catch (error) {
        this.forgetBatch();
        if (this.lockNotHad(error)) {
          this.waitForLock(ops, error);
          return;
        }
        failure = error;
      }
    } finally {
      this.batchRunning = false;
      this.routesInBatch.clear();
    }
    // The batch had the lock: any wait for it is over.
    this.lockBusySince = null;
    this.lockAttempts = 0;
    if (results === null) {
      for (const op of ops) op.reject(failure);
      return;
    }
    this.leads.commit();
    ops.forEach((op, i) => {
      const result = results[i];
      if (result?.ok) op.resolve(result.value);
      else op.reject(result?.error);
    });
    this.notifyOutbox();
  };

  /** The batch failed in BEGIN because another connection holds the write lock. */
  private lockNotHad(error: unknown): boolean {
    return !this.began && isBusy(error);
  }

  /** The rows a write defers to the end of its batch or savepoint: rollups and log rows. */
  private writeDeferred(): void {
    this.rollups.write();
    this.logs.write();
  }

  /** Drops deferred rows whose writes rolled back. */
  private dropDeferred(): void {
    this.rollups.clear();
    this.logs.clear();
  }

  /** What a rolled-back batch left in memory. */
  private forgetBatch(): void {
    this.outboxWritten = false;
    this.leads.discard();
    this.dropDeferred();
    this.routesInBatch.clear();
  }

  /**
   * Another process (an operator's sqlite3 shell, a second server on the same
   * file) holds the write lock. SQLite's busy handler would sleep in BEGIN,
   * and with it every request on this thread, reads included. Instead the
   * batch goes back to the head of the queue and BEGIN is tried again in a
   * few ms while the thread serves on; writes arriving meanwhile join it.
   * A write that has waited lockWaitMs since it joined fails as unavailable
   * (503), as a busy handler's timeout would have; one that joined later
   * waits on for the rest of its own bound.
   */
  private waitForLock(ops: PendingOp[], error: unknown): void {
    const now = Date.now();
    this.lockBusySince ??= now;
    const spell = this.lockBusySince;
    const waiting: PendingOp[] = [];
    for (const op of ops) {
      if (!this.closing && now - (op.since || spell) < this.lockWaitMs) waiting.push(op);
      else op.reject(error);
    }
    if (waiting.length === 0) {
      this.lockBusySince = null;
      this.lockAttempts = 0;
      return;
    }
    // No write can have been queued meanwhile: flush runs without yielding.
    this.pending = waiting;
    const wait = LOCK_RETRY_MS[Math.min(this.lockAttempts++, LOCK_RETRY_MS.length - 1)];
    this.lockRetry = setTimeout(this.flush, wait);
  }

  async ping(): Promise<void> {
    this.sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    // Stopping first: a batch never waits on a worker that is going away.
    const stopping = this.checkpointer?.stop();
    // From now on a batch that finds the lock taken fails instead of waiting.
    this.closing = true;
    if (this.pending.length > 0) {
      // The last batch waits for the lock here, on the thread: nothing is
      // served any more, and its callers are answered before the file closes.
      // It waits for what is left of its newest write's bound.
      if (this.lockRetry) clearTimeout(this.lockRetry);
      const spell = this.lockBusySince;
      let left = this.lockWaitMs;
      if (spell !== null) {
        let joined = spell;
        for (const op of this.pending) joined = Math.max(joined, op.since || spell);
        left = Math.max(0, joined + this.lockWaitMs - Date.now());
      }
      this.db.pragma(`busy_timeout = ${left}`);
      this.flush();
    }
    await stopping;
    await this.reader?.close();
    if (this.db.open) {
      try {
        // Planner statistics: worth keeping, not worth failing a stop over
        // (on a full disk, this write fails like any other).
        this.db.pragma('optimize');
      } catch {}
      this.db.close();
    }
  }

  /**
   * For tests: caps the file at this many pages (PRAGMA max_page_count), so
   * a write past it fails with SQLITE_FULL, as it does on a full disk.
   */
  capPages(pages: number): number {
    return Number(this.db.pragma(`max_page_count = ${Math.floor(pages)}`, { simple: true }));
  }

  /** For tests and tooling: the pages the file holds now. */
  pageCount(): number {
    return Number(this.db.pragma('page_count', { simple: true }));
  }

  /** For tests and tooling: rows in one of our tables, across workspaces. */
  countRows(table: string): number {
    if (!/^[a-z_]+$/.test(table)) throw new Error(`invalid table ${table}`);
    return Number((this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as Row).n);
  }

  /** For tests and tooling: the integrity of the file. */
  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  // --- accounts -----------------------------------------------------------

  async createAccount(input: {
    email: string;
    passwordHash: string;
    workspaceName: string;
    at: number;
  }): Promise<Account | 'email_taken'> {
    try {
      return await this.batch(() => {
        const ws = this.sql('INSERT INTO workspaces (name, created_at) VALUES (?, ?)').run(
          input.workspaceName,
          input.at,
        );
        const user = this.sql(
          'INSERT INTO users (workspace_id, email, password_hash, created_at) VALUES (?, ?, ?, ?)',
        ).run(ws.lastInsertRowid, input.email, input.passwordHash, input.at);
        return {
          user: { id: String(user.lastInsertRowid), email: input.email },
          workspace: { id: String(ws.lastInsertRowid), name: input.workspaceName },
        };
      });
    } catch (error) {
      if (isUniqueViolation(error)) return 'email_taken';
      throw error;
    }
  }

  async findLogin(email: string): Promise<(Account & { passwordHash: string }) | null> {
    const r = this.sql(
      `SELECT u.id, u.email, u.password_hash, w.id AS workspace_id, w.name AS workspace_name
       FROM users u JOIN workspaces w ON w.id = u.workspace_id WHERE u.email = ?`,
    ).get(email) as Row | undefined;
    if (!r) return null;
    return {
      user: { id: String(r.id), email: r.email as string },
      workspace: { id: String(r.workspace_id), name: r.workspace_name as string },
      passwordHash: r.password_hash as string,
    };
  }

  async createSession(input: {
    tokenHash: string;
    userId: string;
    workspaceId: string;
    at: number;
    expiresAt: number;
  }): Promise<void> {
    await this.batch(() =>
      this.sql(
        'INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ).run(input.tokenHash, id(input.userId), id(input.workspaceId), input.at, input.expiresAt),
    );
  }

  async findSession(tokenHash: string, now: number): Promise<Account | null> {
    const r = this.sql(
      `SELECT u.id, u.email, w.id AS workspace_id, w.name AS workspace_name
       FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = s.workspace_id
       WHERE s.token_hash = ? AND s.expires_at > ?`,
    ).get(tokenHash, now) as Row | undefined;
    if (!r) return null;
    return {
      user: { id: String(r.id), email: r.email as string },
      workspace: { id: String(r.workspace_id), name: r.workspace_name as string },
    };
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.batch(() => this.sql('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash));
  }

  async createApiKey(input: {
    workspaceId: string;
    userId: string;
    name: string;
    keyHash: string;
    prefix: string;
    at: number;
  }): Promise<ApiKey> {
    return this.batch(() =>
      toApiKey(
        this.sql(
          `INSERT INTO api_keys (workspace_id, user_id, name, key_hash, prefix, created_at)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
        ).get(
          id(input.workspaceId),
          id(input.userId),
          input.name,
          input.keyHash,
          input.prefix,
          input.at,
        ) as Row,
      ),
    );
  }

  async listApiKeys(workspaceId: string): Promise<ApiKey[]> {
    const rows = this.sql(
      'SELECT * FROM api_keys WHERE workspace_id = ? AND revoked_at IS NULL ORDER BY id DESC',
    ).all(id(workspaceId)) as Row[];
    return rows.map(toApiKey);
  }

  async revokeApiKey(workspaceId: string, keyId: string, at: number): Promise<boolean> {
    const result = await this.batch(() =>
      this.sql(
        'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL',
      ).run(at, id(keyId), id(workspaceId)),
    );
    return result.changes === 1;
  }

  async findApiKey(keyHash: string, now: number): Promise<Account | null> {
    const r = this.sql(
      `SELECT k.id AS key_id, k.last_used_at, u.id, u.email, w.id AS workspace_id, w.name AS workspace_name
       FROM api_keys k JOIN users u ON u.id = k.user_id JOIN workspaces w ON w.id = k.workspace_id
       WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
    ).get(keyHash) as Row | undefined;
    if (!r) return null;
    // Once a minute is precise enough and keeps reads from writing on every
    // call. Bookkeeping: the request neither waits for it (it commits with
    // this turn's group, or waits with it for another process's write lock)
    // nor fails with it.
    if (r.last_used_at === null || now - Number(r.last_used_at) > 60_000) {
      this.batch(() =>
        this.sql('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(now, r.key_id),
      ).catch(() => {});
    }
    return {
      user: { id: String(r.id), email: r.email as string },
      workspace: { id: String(r.workspace_id), name: r.workspace_name as string },
    };
  }

  // --- campaigns ----------------------------------------------------------

  async createCampaign(
    workspaceId: string,
    input: CampaignInput,
    slug: () => string,
    at: number,
  ): Promise<Campaign> {
    return this.batch(() => {
      for (let attempt = 0; ; attempt++) {
        try {
          const r = this.sql(
            `INSERT INTO campaigns (workspace_id, slug, name, description, buyer, destination_url, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          ).get(
            id(workspaceId),
            slug(),
            input.name,
            input.description,
            input.buyer,
            input.destinationUrl,
            at,
          ) as Row;
          return toCampaign(r);
        } catch (error) {
          if (!isUniqueViolation(error) || attempt >= MAX_UNIQUE_RETRIES) throw error;
        }
      }
    });
  }

  async listCampaigns(workspaceId: string): Promise<Campaign[]> {
    const rows = this.sql(
      'SELECT * FROM campaigns WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id DESC',
    ).all(id(workspaceId)) as Row[];
    return rows.map(toCampaign);
  }

  async getCampaign(workspaceId: string, campaignId: string): Promise<Campaign | null> {
    const r = this.sql(
      'SELECT * FROM campaigns WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
    ).get(id(campaignId), id(workspaceId)) as Row | undefined;
    return r ? toCampaign(r) : null;
  }

  async updateCampaign(
    workspaceId: string,
    campaignId: string,
    patch: Partial<CampaignInput>,
  ): Promise<Campaign | null> {
    const r = await this.batch(
      () =>
        this.sql(
          `UPDATE campaigns SET
             name = coalesce(?, name), description = coalesce(?, description),
             buyer = coalesce(?, buyer), destination_url = coalesce(?, destination_url)
           WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL RETURNING *`,
        ).get(
          patch.name ?? null,
          patch.description ?? null,
          patch.buyer ?? null,
          patch.destinationUrl ?? null,
          id(campaignId),
          id(workspaceId),
        ) as Row | undefined,
    );
    return r ? toCampaign(r) : null;
  }

  async deleteCampaign(workspaceId: string, campaignId: string, at: number): Promise<boolean> {
    const result = await this.batch(() =>
      this.sql(
        'UPDATE campaigns SET deleted_at = ? WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
      ).run(at, id(campaignId), id(workspaceId)),
    );
    return result.changes === 1;
  }

  async findCampaignForClick(slugOrId: string): Promise<Campaign | null> {
    const r = this.sql('SELECT * FROM campaigns WHERE slug = ? AND deleted_at IS NULL').get(
      slugOrId,
    ) as Row | undefined;
    if (r) return toCampaign(r);
    const byId = this.sql('SELECT * FROM campaigns WHERE id = ? AND deleted_at IS NULL').get(
      id(slugOrId),
    ) as Row | undefined;
    return byId ? toCampaign(byId) : null;
  }

  // --- clicks and leads ---------------------------------------------------

  private insertLead(
    workspaceId: number,
    campaignId: number | null,
    clickRowId: number | null,
    lead: Omit<NewLead, 'campaignId'>,
    /** lead.params as JSON, when the caller has it already. */
    params: string = JSON.stringify(lead.params),
  ): Lead {
    for (let attempt = 0; ; attempt++) {
      const clickid = lead.newClickid();
      try {
        // The lead is what was written: no RETURNING, no re-parse of params.
        const r = this.sql(
          `INSERT INTO leads (workspace_id, clickid, campaign_id, click_id, external_id, username, params, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          workspaceId,
          clickid,
          campaignId,
          clickRowId,
          lead.externalId,
          lead.username,
          params,
          lead.at,
        );
        this.rollups.lead(workspaceId, lead.at, campaignId);
        return {
          id: String(r.lastInsertRowid),
          workspaceId: String(workspaceId),
          clickid,
          campaignId: campaignId === null ? null : String(campaignId),
          externalId: lead.externalId,
          username: lead.username,
          params: { ...lead.params },
          createdAt: lead.at,
        };
      } catch (error) {
        // A clickid collision: draw another one.
        if (!isUniqueViolation(error) || attempt >= MAX_UNIQUE_RETRIES) throw error;
      }
    }
  }

  async recordClick(click: NewClick): Promise<Lead> {
    const ws = id(click.campaign.workspaceId) as number;
    const campaignId = id(click.campaign.id);
    return this.batch(() => {
      // The click and its lead keep the same parameters.
      const params = JSON.stringify(click.params);
      const c = this.sql(
        `INSERT INTO clicks (workspace_id, campaign_id, at, ip, user_agent, referrer, params)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(ws, campaignId, click.at, click.ip, click.userAgent, click.referrer, params);
      this.rollups.click(ws, click.at, campaignId);
      const lead = this.insertLead(
        ws,
        campaignId,
        Number(c.lastInsertRowid),
        {
          externalId: null,
          username: null,
          params: click.params,
          at: click.at,
          newClickid: click.newClickid,
        },
        params,
      );
      this.enqueue('click', Number(lead.id), Number(lead.id), campaignId, 'click', click.at);
      return lead;
    });
  }

  async createLead(workspaceId: string, lead: NewLead): Promise<Lead> {
    return this.batch(() => {
      const campaignId = id(lead.campaignId);
      const created = this.insertLead(id(workspaceId) as number, campaignId, null, lead);
      if (lead.externalId !== null) {
        const leadId = Number(created.id);
        this.enqueue('contact', leadId, leadId, campaignId, 'contact', lead.at);
      }
      return created;
    });
  }

  async bindLead(
    workspaceId: string,
    clickid: string,
    bind: { externalId: string | null; username: string | null; at?: number },
  ): Promise<Lead | 'not_found' | 'bound_elsewhere'> {
    return this.batch(() => {
      const r = this.sql('SELECT * FROM leads WHERE clickid = ? AND workspace_id = ?').get(
        clickid,
        id(workspaceId),
      ) as Row | undefined;
      if (!r) return 'not_found';
      const current = str(r.external_id);
      if (bind.externalId !== null && current !== null && current !== bind.externalId) {
        return 'bound_elsewhere';
      }
      const updated = this.sql(
        `UPDATE leads SET external_id = coalesce(external_id, ?), username = coalesce(?, username)
         WHERE id = ? RETURNING *`,
      ).get(bind.externalId, bind.username, r.id) as Row;
      if (current === null && bind.externalId !== null) {
        const leadId = Number(r.id);
        const campaignId = r.campaign_id === null ? null : Number(r.campaign_id);
        this.enqueue('contact', leadId, leadId, campaignId, 'contact', bind.at ?? Date.now());
      }
      return toLead(updated);
    });
  }

  async getLead(workspaceId: string, clickid: string): Promise<LeadDetail | null> {
    const r = this.sql('SELECT * FROM leads WHERE clickid = ? AND workspace_id = ?').get(
      clickid,
      id(workspaceId),
    ) as Row | undefined;
    if (!r) return null;
    const lead = toLead(r);
    const fields: Record<string, string> = {};
    for (const f of this.sql(
      'SELECT key, value FROM lead_fields WHERE lead_id = ? ORDER BY key',
    ).all(r.id) as Row[]) {
      fields[f.key as string] = f.value as string;
    }
    const events = (
      this.sql(
        `SELECT id, event, amount_micros, currency, tid, postback_id, at
         FROM conversions WHERE lead_id = ? ORDER BY at, id`,
        true,
      ).all(r.id) as Row[]
    ).map(
      (e): Conversion => ({
        id: String(e.id),
        event: e.event as string,
        micros: micros(e.amount_micros),
        currency: e.currency as string,
        tid: str(e.tid),
        postbackId: str(e.postback_id),
        at: Number(e.at),
      }),
    );
    const totals = (
      this.sql(
        `SELECT currency,
           ${splitSum("CASE WHEN event IN ('first_deposit', 'deposit') THEN amount_micros END", 'deposits')},
           ${splitSum('CASE WHEN amount_micros < 0 THEN -amount_micros END', 'withdrawals')}
         FROM conversions WHERE lead_id = ? AND amount_micros IS NOT NULL
         GROUP BY currency ORDER BY count(*) DESC, currency`,
        true,
      ).all(r.id) as Row[]
    ).map((t) => ({
      currency: t.currency as string,
      depositMicros: exactSum(t, 'deposits'),
      withdrawalMicros: exactSum(t, 'withdrawals'),
    }));
    return { ...lead, fields, events, totals };
  }

  async listLeads(
    workspaceId: string,
    filter: { campaignId?: string; q?: string; limit: number; cursor?: string },
  ): Promise<Page<LeadSummary>> {
    const where = ['l.workspace_id = ?'];
    const args: unknown[] = [id(workspaceId)];
    const before = decodeCursor(filter.cursor);
    if (before !== null) {
      where.push('l.id < ?');
      args.push(before);
    }
    if (filter.campaignId !== undefined) {
      where.push('l.campaign_id = ?');
      args.push(id(filter.campaignId));
    }
    if (filter.q) {
      const search = leadSearch(filter.q);
      where.push(search.sql);
      args.push(...search.params);
    }
    const [rows = []] = await this.read([
      {
        sql: leadPageSql(where.join(' AND ')),
        params: [...args, filter.limit + 1],
        safeIntegers: true,
      },
    ]);
    const more = rows.length > filter.limit;
    const items = rows.slice(0, filter.limit).map(
      (r): LeadSummary => ({
        ...toLead(r),
        registered: Number(r.registered) === 1,
        firstDepositMicros: micros(r.ftd_micros),
        firstDepositCurrency: str(r.ftd_currency),
        depositCount: Number(r.deposit_count),
        lastEventAt: r.last_event_at === null ? null : Number(r.last_event_at),
      }),
    );
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(Number(last.id)) : null };
  }

  // --- postback configurations -------------------------------------------

  async createPostback(
    workspaceId: string,
    input: PostbackInput,
    token: string,
    at: number,
  ): Promise<PostbackConfig> {
    const r = await this.batch(
      () =>
        this.sql(
          `INSERT INTO postbacks (workspace_id, token, name, network, campaign_id, clickid_param, currency, macros, enabled, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        ).get(
          id(workspaceId),
          token,
          input.name,
          input.network,
          id(input.campaignId),
          input.clickidParam,
          input.currency,
          JSON.stringify(input.macros),
          input.enabled ? 1 : 0,
          at,
        ) as Row,
    );
    return toPostback(r);
  }

  async listPostbacks(workspaceId: string): Promise<PostbackConfig[]> {
    const rows = this.sql(
      'SELECT * FROM postbacks WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id DESC',
    ).all(id(workspaceId)) as Row[];
    return rows.map(toPostback);
  }

  async getPostback(workspaceId: string, postbackId: string): Promise<PostbackConfig | null> {
    const r = this.sql(
      'SELECT * FROM postbacks WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
    ).get(id(postbackId), id(workspaceId)) as Row | undefined;
    return r ? toPostback(r) : null;
  }

  async updatePostback(
    workspaceId: string,
    postbackId: string,
    patch: Partial<PostbackInput>,
  ): Promise<PostbackConfig | null> {
    // Read and merged in the write's own transaction: two changes at once
    // (or queued behind another process's lock) both keep their fields.
    return this.batch(() => {
      const current = this.sql(
        'SELECT * FROM postbacks WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
      ).get(id(postbackId), id(workspaceId)) as Row | undefined;
      if (!current) return null;
      const next = { ...toPostback(current), ...patch };
      const r = this.sql(
        `UPDATE postbacks SET name = ?, network = ?, campaign_id = ?, clickid_param = ?, currency = ?, macros = ?, enabled = ?
         WHERE id = ? RETURNING *`,
      ).get(
        next.name,
        next.network,
        id(next.campaignId),
        next.clickidParam,
        next.currency,
        JSON.stringify(next.macros),
        next.enabled ? 1 : 0,
        current.id,
      ) as Row;
      return toPostback(r);
    });
  }

  async deletePostback(workspaceId: string, postbackId: string, at: number): Promise<boolean> {
    const result = await this.batch(() =>
      this.sql(
        'UPDATE postbacks SET deleted_at = ? WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
      ).run(at, id(postbackId), id(workspaceId)),
    );
    return result.changes === 1;
  }

  async findPostbackByToken(token: string): Promise<PostbackConfig | null> {
    const r = this.sql('SELECT * FROM postbacks WHERE token = ?').get(token) as Row | undefined;
    return r ? toPostback(r) : null;
  }

  // --- counting -----------------------------------------------------------

  async recordEvent(input: RecordEvent): Promise<RecordOutcome> {
    return this.batch(() => {
      const outcome = this.countEvent(input);
      if (input.log) {
        const counted = outcome.status !== 'unmatched';
        this.insertLog(input.log, {
          httpStatus: 200,
          status: outcome.status,
          error: counted ? input.note : outcome.reason,
          event: counted ? outcome.event : (input.plan[0]?.event ?? null),
          clickid: input.clickid,
          conversionId: counted ? outcome.conversionId : null,
        });
      }
      return outcome;
    });
  }

  /** The lead a postback names, from the cache or the database (then cached once committed). */
  private findLead(workspaceId: number, clickid: string): CachedLead | null {
    const cached = this.leads.get(workspaceId, clickid);
    if (cached) return cached;
    const r = this.sql(
      'SELECT id, campaign_id, clickid FROM leads WHERE clickid = ? AND workspace_id = ?',
    ).get(clickid, workspaceId) as Row | undefined;
    if (!r) return null;
    const lead = {
      id: r.id as number,
      campaignId: r.campaign_id === null ? null : Number(r.campaign_id),
    };
    // The cache keeps the database's copy of the clickid: the request's may
    // be a slice of its whole URL, which the cache would then keep alive.
    this.leads.stage(workspaceId, r.clickid as string, lead);
    return lead;
  }

  private countEvent(input: RecordEvent): RecordOutcome {
    const lead = this.findLead(id(input.workspaceId) as number, input.clickid);
    if (!lead) return { status: 'unmatched', reason: 'unknown_clickid' };
    const leadCampaign = lead.campaignId === null ? null : String(lead.campaignId);
    if (input.scopeCampaignId !== null && leadCampaign !== input.scopeCampaignId) {
      return { status: 'unmatched', reason: 'campaign_mismatch' };
    }
    const leadId = lead.id;
    for (const [key, value] of Object.entries(input.fields)) {
      this.sql(
        `INSERT INTO lead_fields (lead_id, key, value, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (lead_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ).run(leadId, key, value, input.at);
    }

    const insert = this.sql(
      `INSERT INTO conversions (workspace_id, lead_id, campaign_id, postback_id, event, amount_micros, currency, tid, once_key, tid_key, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const workspaceId = id(input.workspaceId) as number;
    const postbackId = id(input.postbackId);
    // No RETURNING on the hot path: SQLite buffers RETURNING rows in an
    // ephemeral table, opened and torn down per statement (about 2 µs of a
    // postback, measured). changes and lastInsertRowid say the same.
    const insertOnce = (
      event: string,
      onceKey: string | null,
      tidKey: string | null,
    ): number | null => {
      const r = insert.run(
        workspaceId,
        leadId,
        lead.campaignId,
        postbackId,
        event,
        input.micros,
        input.currency,
        input.tid,
        onceKey,
        tidKey,
        input.at,
      );
      if (r.changes === 0) return null;
      this.rollups.conversion({
        workspaceId,
        at: input.at,
        campaignId: lead.campaignId,
        postbackId,
        event,
        currency: input.currency,
        micros: input.micros,
      });
      return Number(r.lastInsertRowid);
    };
    const leadIdText = String(leadId);

    for (let i = 0; i < input.plan.length; i++) {
      const attempt = input.plan[i];
      if (!attempt) break;
      const last = i === input.plan.length - 1;

      if (attempt.fingerprint !== null) {
        // Claims the fingerprint only if it is new or its window has passed.
        const claimed = this.sql(
          `INSERT INTO fingerprints (lead_id, fingerprint, at, conversion_id) VALUES (?, ?, ?, 0)
           ON CONFLICT (lead_id, fingerprint) DO UPDATE SET at = excluded.at, conversion_id = 0
           WHERE fingerprints.at <= excluded.at - ?`,
        ).run(leadId, attempt.fingerprint, input.at, input.windowMs).changes;
        if (claimed === 0) {
          const fp = this.sql(
            'SELECT conversion_id FROM fingerprints WHERE lead_id = ? AND fingerprint = ?',
          ).get(leadId, attempt.fingerprint) as Row;
          return {
            status: 'duplicate',
            event: attempt.event,
            conversionId: String(fp.conversion_id),
            leadId: leadIdText,
          };
        }
        const conversionId = insertOnce(attempt.event, null, null);
        if (conversionId === null) throw new Error('a conversion without keys conflicted');
        this.sql(
          'UPDATE fingerprints SET conversion_id = ? WHERE lead_id = ? AND fingerprint = ?',
        ).run(conversionId, leadId, attempt.fingerprint);
        this.enqueue('conversion', conversionId, leadId, lead.campaignId, attempt.event, input.at);
        return {
          status: 'recorded',
          event: attempt.event,
          conversionId: String(conversionId),
          leadId: leadIdText,
        };
      }

      const conversionId = insertOnce(attempt.event, attempt.onceKey, attempt.tidKey);
      if (conversionId !== null) {
        this.enqueue('conversion', conversionId, leadId, lead.campaignId, attempt.event, input.at);
        return {
          status: 'recorded',
          event: attempt.event,
          conversionId: String(conversionId),
          leadId: leadIdText,
        };
      }
      if (attempt.tidKey !== null) {
        const same = this.sql(
          'SELECT id, event FROM conversions WHERE lead_id = ? AND tid_key = ?',
        ).get(leadId, attempt.tidKey) as Row | undefined;
        if (same) {
          return {
            status: 'duplicate',
            event: same.event as string,
            conversionId: String(same.id),
            leadId: leadIdText,
          };
        }
      }
      if (attempt.onceKey !== null && last) {
        const once = this.sql(
          'SELECT id, event FROM conversions WHERE lead_id = ? AND once_key = ?',
        ).get(leadId, attempt.onceKey) as Row;
        return {
          status: 'duplicate',
          event: once.event as string,
          conversionId: String(once.id),
          leadId: leadIdText,
        };
      }
    }
    throw new Error('counting plan ended without an outcome');
  }

  /** Adds a postback-log row to the batch: inserted with the others just before it commits. */
  private insertLog(request: LogRequest, outcome: LogOutcome): void {
    // In LOG_COLUMNS order.
    this.logs.add([
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

  async appendPostbackLog(request: LogRequest, outcome: LogOutcome): Promise<void> {
    return this.batch(() => this.insertLog(request, outcome));
  }

  async listPostbackLogs(workspaceId: string, filter: LogFilter): Promise<Page<LogEntry>> {
    const where = ['workspace_id = ?'];
    const args: unknown[] = [id(workspaceId)];
    const before = decodeCursor(filter.cursor);
    if (before !== null) {
      where.push('id < ?');
      args.push(before);
    }
    if (filter.postbackId !== undefined) {
      where.push('postback_id = ?');
      args.push(id(filter.postbackId));
    }
    if (filter.status !== undefined) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.q) {
      where.push("(clickid = ? OR url LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\')");
      const like = `%${filter.q.replace(/[\\%_]/g, '\\$&')}%`;
      args.push(filter.q, like, like);
    }
    const [rows = []] = await this.read([
      {
        sql: postbackLogPageSql(where.join(' AND ')),
        params: [...args, filter.limit + 1],
        // Amounts reach 10^18 micro-units, past a double's exact integers.
        safeIntegers: true,
      },
    ]);
    const more = rows.length > filter.limit;
    const items = rows.slice(0, filter.limit).map((r): LogEntry => {
      const amount = micros(r.conversion_micros);
      return {
        id: String(r.id),
        at: Number(r.at),
        postbackId: String(r.postback_id),
        method: r.method as string,
        url: r.url as string,
        ip: str(r.ip),
        userAgent: str(r.user_agent),
        body: str(r.body),
        httpStatus: Number(r.http_status),
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
    return { items, nextCursor: more && last ? encodeCursor(Number(last.id)) : null };
  }

  // --- forwarding ---------------------------------------------------------

  /**
   * A campaign's routes: event → the destinations it reaches. Remembered
   * while one batch runs; a write of that batch that changes them forgets
   * them (writeRoutes, deleteDestination), as does a rollback.
   */
  private routesOf(campaignId: number): CampaignRoutes {
    const known = this.batchRunning ? this.routesInBatch.get(campaignId) : undefined;
    if (known !== undefined) return known;
    const routes: CampaignRoutes = new Map();
    const rows = this.sql(
      `SELECT r.event, d.workspace_id, d.id FROM forward_routes r
       JOIN destinations d ON d.id = r.destination_id WHERE r.campaign_id = ?`,
    ).raw(true);
    for (const [event, workspaceId, destinationId] of rows.all(campaignId) as Array<
      [string, number, number]
    >) {
      let to = routes.get(event);
      if (!to) {
        to = [];
        routes.set(event, to);
      }
      to.push({ workspaceId, destinationId });
    }
    if (this.batchRunning) this.routesInBatch.set(campaignId, routes);
    return routes;
  }

  /**
   * Queues what just happened for every destination routed to it, inside the
   * caller's transaction: the event and its deliveries commit together.
   */
  private enqueue(
    subject: Subject,
    subjectId: number,
    leadId: number,
    campaignId: unknown,
    event: string,
    at: number,
  ): void {
    if (campaignId === null || campaignId === undefined) return;
    const campaign = Number(campaignId);
    const routes = this.routesOf(campaign);
    if (routes.size === 0) return;
    const conversion = subject === 'conversion';
    // The Nth deposit may have routes of its own (`deposit#2`); counting the
    // lead's conversions is skipped when nothing can match.
    if (!routes.has(event) && !(conversion && routes.has(ALL_CONVERSIONS))) {
      let numbered = false;
      for (const routed of routes.keys()) {
        if (routed.startsWith(`${event}#`)) {
          numbered = true;
          break;
        }
      }
      if (!numbered) return;
    }
    const occurrence = conversion
      ? Number(
          (
            this.sql('SELECT count(*) AS n FROM conversions WHERE lead_id = ? AND event = ?').get(
              leadId,
              event,
            ) as Row
          ).n,
        )
      : 1;
    const insert = this.sql(
      `INSERT INTO outbox (workspace_id, campaign_id, destination_id, subject, subject_id, lead_id, event, occurrence, event_at, status, next_at, created_at, queued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    for (const routed of [event, `${event}#${occurrence}`, conversion ? ALL_CONVERSIONS : null]) {
      if (routed === null) continue;
      for (const to of routes.get(routed) ?? []) {
        const changes = insert.run(
          to.workspaceId,
          campaign,
          to.destinationId,
          subject,
          subjectId,
          leadId,
          event,
          occurrence,
          at,
          at,
          at,
          at,
        ).changes;
        if (changes > 0) this.outboxWritten = true;
      }
    }
  }

  private writeRoutes(destinationId: number, campaignId: number, input: DestinationInput): void {
    // Events later in the same batch read the routes as they are now.
    this.routesInBatch.delete(campaignId);
    this.sql('DELETE FROM forward_routes WHERE campaign_id = ? AND destination_id = ?').run(
      campaignId,
      destinationId,
    );
    if (!input.enabled) return;
    const add = this.sql(
      'INSERT OR IGNORE INTO forward_routes (campaign_id, event, destination_id) VALUES (?, ?, ?)',
    );
    for (const event of input.routes) add.run(campaignId, event, destinationId);
  }

  async createDestination(
    workspaceId: string,
    campaignId: string,
    input: DestinationInput,
    at: number,
  ): Promise<Destination> {
    return this.batch(() => {
      const r = this.sql(
        `INSERT INTO destinations (workspace_id, campaign_id, kind, name, enabled, settings, secret, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ).get(
        id(workspaceId),
        id(campaignId),
        input.settings.kind,
        input.name,
        input.enabled ? 1 : 0,
        JSON.stringify(input.settings),
        input.secret,
        at,
        at,
      ) as Row;
      this.writeRoutes(Number(r.id), Number(r.campaign_id), input);
      return toDestination(r);
    });
  }

  async listDestinations(workspaceId: string, campaignId: string): Promise<Destination[]> {
    return (
      this.sql(
        `SELECT * FROM destinations WHERE workspace_id = ? AND campaign_id = ? AND deleted_at IS NULL
         ORDER BY id`,
      ).all(id(workspaceId), id(campaignId)) as Row[]
    ).map(toDestination);
  }

  async getDestination(workspaceId: string, destinationId: string): Promise<Destination | null> {
    const r = this.sql(
      'SELECT * FROM destinations WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
    ).get(id(destinationId), id(workspaceId)) as Row | undefined;
    return r ? toDestination(r) : null;
  }

  async updateDestination(
    workspaceId: string,
    destinationId: string,
    input: DestinationInput,
    at: number,
    ifRevision: number,
  ): Promise<Destination | null | 'stale'> {
    return this.batch(() => {
      const r = this.sql(
        `UPDATE destinations
         SET name = ?, enabled = ?, settings = ?, secret = ?, updated_at = ?, revision = revision + 1
         WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL AND revision = ?
         RETURNING *`,
      ).get(
        input.name,
        input.enabled ? 1 : 0,
        JSON.stringify(input.settings),
        input.secret,
        at,
        id(destinationId),
        id(workspaceId),
        ifRevision,
      ) as Row | undefined;
      if (!r) {
        const exists = this.sql(
          'SELECT 1 FROM destinations WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL',
        ).get(id(destinationId), id(workspaceId));
        return exists ? 'stale' : null;
      }
      this.writeRoutes(Number(r.id), Number(r.campaign_id), input);
      return toDestination(r);
    });
  }

  async deleteDestination(
    workspaceId: string,
    destinationId: string,
    at: number,
  ): Promise<boolean> {
    return this.batch(() => {
      const r = this.sql(
        `UPDATE destinations SET deleted_at = ?, enabled = 0
         WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL RETURNING id, campaign_id`,
      ).get(at, id(destinationId), id(workspaceId)) as Row | undefined;
      if (!r) return false;
      this.routesInBatch.delete(Number(r.campaign_id));
      this.sql('DELETE FROM forward_routes WHERE campaign_id = ? AND destination_id = ?').run(
        r.campaign_id,
        r.id,
      );
      return true;
    });
  }

  async claimDeliveries(input: ClaimInput): Promise<DeliveryJob[]> {
    // Reads only what it takes, however many rows wait: the destinations with
    // pending rows (one index step each), then each one's oldest due rows.
    const claimed = await this.batch(() => {
      const busy = new Set(input.busy.map(Number));
      const destinations = this.sql(
        `WITH RECURSIVE pending(id) AS (
           SELECT min(destination_id) FROM outbox WHERE status = 'pending'
           UNION ALL
           SELECT (SELECT min(destination_id) FROM outbox
                   WHERE status = 'pending' AND destination_id > pending.id)
           FROM pending WHERE pending.id IS NOT NULL
         )
         SELECT d.id, d.kind FROM pending JOIN destinations d ON d.id = pending.id`,
      ).all() as Row[];
      const due = this.sql(
        `SELECT id, next_at FROM outbox
         WHERE destination_id = ? AND status = 'pending' AND next_at <= ?
           AND (lease_until IS NULL OR lease_until <= ?)
         ORDER BY next_at, id LIMIT ?`,
      );
      const candidates: Array<{ id: number; nextAt: number }> = [];
      for (const d of destinations) {
        if (busy.has(Number(d.id))) continue;
        const per = d.kind === 'facebook' ? input.perBatchedDestination : input.perDestination;
        for (const r of due.all(d.id, input.now, input.now, per) as Row[]) {
          candidates.push({ id: Number(r.id), nextAt: Number(r.next_at) });
        }
      }
      candidates.sort((a, b) => a.nextAt - b.nextAt || a.id - b.id);
      const taken = candidates.slice(0, input.limit).map((c) => c.id);
      if (taken.length > 0) {
        this.sql(
          'UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id IN (SELECT value FROM json_each(?))',
        ).run(input.leaseUntil, input.owner, JSON.stringify(taken));
      }
      return taken.map((id) => ({ id }));
    });
    if (claimed.length === 0) return [];
    const ids = JSON.stringify(claimed.map((r) => Number(r.id)));
    const rows = this.sql(
      `SELECT o.id, o.workspace_id, o.campaign_id, o.subject, o.subject_id, o.lead_id, o.event,
         o.occurrence, o.event_at, o.attempts, o.budget_from, o.queued_at,
         o.destination_id, g.slug,
         l.clickid, l.external_id, l.username, l.params AS lead_params, l.created_at AS lead_created_at,
         k.id AS click_row, k.at AS click_at, k.ip, k.user_agent, k.referrer, k.params AS click_params,
         CAST(v.amount_micros AS TEXT) AS amount_micros, v.currency, v.tid
       FROM outbox o
       JOIN destinations d ON d.id = o.destination_id
       JOIN campaigns g ON g.id = o.campaign_id
       JOIN leads l ON l.id = o.lead_id
       LEFT JOIN clicks k ON k.id = l.click_id
       LEFT JOIN conversions v ON o.subject = 'conversion' AND v.id = o.subject_id
       WHERE o.id IN (SELECT value FROM json_each(?))
       ORDER BY o.next_at, o.id`,
    ).all(ids) as Row[];
    const fields = new Map<number, Record<string, string>>();
    for (const f of this.sql(
      `SELECT lead_id, key, value FROM lead_fields
       WHERE lead_id IN (SELECT lead_id FROM outbox WHERE id IN (SELECT value FROM json_each(?)))`,
    ).all(ids) as Row[]) {
      const leadId = Number(f.lead_id);
      const map = fields.get(leadId) ?? {};
      map[f.key as string] = f.value as string;
      fields.set(leadId, map);
    }
    // A claim's rows go to a few destinations: each is read once.
    const destinations = new Map<number, Destination>();
    const destinationOf = (r: Row): Destination => {
      const destinationId = Number(r.destination_id);
      let d = destinations.get(destinationId);
      if (!d) {
        d = toDestination(
          this.sql('SELECT * FROM destinations WHERE id = ?').get(destinationId) as Row,
        );
        destinations.set(destinationId, d);
      }
      return d;
    };
    const lease = { owner: input.owner, until: input.leaseUntil };
    return rows.map((r) => ({
      outboxId: String(r.id),
      lease,
      workspaceId: String(r.workspace_id),
      campaignId: String(r.campaign_id),
      campaignSlug: r.slug as string,
      destination: destinationOf(r),
      subject: r.subject as Subject,
      subjectId: String(r.subject_id),
      event: r.event as string,
      occurrence: Number(r.occurrence),
      eventAt: Number(r.event_at),
      attempts: Number(r.attempts),
      budgetAttempts: Number(r.attempts) - Number(r.budget_from),
      queuedAt: Number(r.queued_at),
      conversion:
        r.subject === 'conversion' && r.currency !== null
          ? { micros: micros(r.amount_micros), currency: r.currency as string, tid: str(r.tid) }
          : null,
      lead: {
        clickid: r.clickid as string,
        externalId: str(r.external_id),
        username: str(r.username),
        params: JSON.parse(r.lead_params as string) as Record<string, string>,
        createdAt: Number(r.lead_created_at),
      },
      click:
        r.click_row === null
          ? null
          : {
              at: Number(r.click_at),
              ip: str(r.ip),
              userAgent: str(r.user_agent),
              referrer: str(r.referrer),
              params: JSON.parse(r.click_params as string) as Record<string, string>,
            },
      fields: fields.get(Number(r.lead_id)) ?? {},
    }));
  }

  async finishDelivery(
    outboxId: string,
    lease: DeliveryLease,
    attempt: DeliveryAttempt | null,
    outcome: DeliveryOutcome,
  ): Promise<boolean> {
    return this.batch(() => this.finishOne({ outboxId, lease, attempt, outcome }));
  }

  async finishDeliveries(finished: FinishedDelivery[]): Promise<string[]> {
    if (finished.length === 0) return [];
    return this.batch(() => finished.filter((f) => !this.finishOne(f)).map((f) => f.outboxId));
  }

  /** False if the lease no longer holds the row (see Store.finishDelivery). */
  private finishOne({ outboxId, lease, attempt, outcome }: FinishedDelivery): boolean {
    const o = this.sql(
      `SELECT id, workspace_id, destination_id, campaign_id, event, attempts, lease_owner, lease_until
       FROM outbox WHERE id = ?`,
    ).get(id(outboxId)) as Row | undefined;
    if (!o) return false;
    const held = o.lease_owner === lease.owner && Number(o.lease_until) === lease.until;
    if (attempt) {
      this.sql(
        `INSERT INTO deliveries (workspace_id, outbox_id, destination_id, campaign_id, event, destination_event, event_id, attempt, at, duration_ms, http_status, status, error, request, response)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        o.workspace_id,
        o.id,
        o.destination_id,
        o.campaign_id,
        o.event,
        attempt.destinationEvent,
        attempt.eventId,
        Number(o.attempts) + 1,
        attempt.at,
        attempt.durationMs,
        attempt.httpStatus,
        attempt.status,
        attempt.error,
        attempt.request,
        attempt.response,
      );
    }
    if (!held) {
      // The request went out all the same: it is counted, and its numbering
      // goes on, but the row's state is its holder's to set.
      if (attempt) this.sql('UPDATE outbox SET attempts = attempts + 1 WHERE id = ?').run(o.id);
      return false;
    }
    this.sql(
      `UPDATE outbox SET status = ?, next_at = ?, attempts = attempts + ?, lease_until = NULL, lease_owner = NULL, last_error = ?
       WHERE id = ?`,
    ).run(
      outcome.state === 'done' ? outcome.status : 'pending',
      outcome.state === 'retry' ? outcome.nextAt : (attempt?.at ?? 0),
      attempt ? 1 : 0,
      attempt?.error ?? null,
      o.id,
    );
    return true;
  }

  async pruneLogs(before: number, limit: number): Promise<PrunedLogs> {
    // A chunk reads its rows from the front of the table by rowid: no index
    // on the time, and no scan past the oldest rows that are still kept.
    return this.batch(() => ({
      postbackLogs: this.sql(
        `DELETE FROM postback_logs
         WHERE id IN (SELECT id FROM postback_logs ORDER BY id LIMIT ?) AND at < ?`,
      ).run(limit, before).changes,
      deliveries: this.sql(
        `DELETE FROM deliveries
         WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT ?) AND at < ?`,
      ).run(limit, before).changes,
    }));
  }

  async releaseDeliveryLeases(isGone: (owner: string) => boolean): Promise<number> {
    return this.batch(() => {
      // Only pending rows hold leases (closing a row clears its lease).
      const owners = this.sql(
        `SELECT DISTINCT lease_owner FROM outbox
         WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_owner IS NOT NULL`,
      ).all() as Row[];
      const gone = owners.map((r) => String(r.lease_owner)).filter(isGone);
      if (gone.length === 0) return 0;
      return this.sql(
        `UPDATE outbox SET lease_until = NULL, lease_owner = NULL
         WHERE status = 'pending' AND lease_until IS NOT NULL
           AND lease_owner IN (SELECT value FROM json_each(?))`,
      ).run(JSON.stringify(gone)).changes;
    });
  }

  async listDeliveries(workspaceId: string, filter: DeliveryFilter): Promise<Page<DeliveryEntry>> {
    const where = ['x.workspace_id = ?'];
    const args: unknown[] = [id(workspaceId)];
    if (filter.sourceId !== undefined) {
      where.push('x.destination_id = ?');
      args.push(id(filter.sourceId));
    }
    if (filter.campaignId !== undefined) {
      where.push('x.campaign_id = ?');
      args.push(id(filter.campaignId));
    }
    if (filter.event !== undefined) {
      where.push('x.event = ?');
      args.push(filter.event);
    }
    if (filter.status !== undefined) {
      where.push('x.status = ?');
      args.push(filter.status);
    }
    const cursor = decodeCursor(filter.cursor);
    if (cursor !== null) {
      where.push('x.id < ?');
      args.push(cursor);
    }
    const [rows = []] = await this.read([
      {
        sql: `SELECT x.*, d.name AS source_name, d.kind AS source_type FROM deliveries x
         JOIN destinations d ON d.id = x.destination_id
         WHERE ${where.join(' AND ')} ORDER BY x.id DESC LIMIT ?`,
        params: [...args, filter.limit + 1],
      },
    ]);
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
        attempt: Number(r.attempt),
        at: Number(r.at),
        durationMs: Number(r.duration_ms),
        destinationEvent: str(r.destination_event),
        eventId: r.event_id as string,
        httpStatus: r.http_status === null ? null : Number(r.http_status),
        status: r.status as DeliveryEntry['status'],
        error: str(r.error),
        request: r.request as string,
        response: str(r.response),
      }),
    );
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(Number(last.id)) : null };
  }

  async destinationHealth(destinationIds: string[]): Promise<DeliveryFacts[]> {
    const ids = destinationIds.map(id);
    const rows = await this.read(
      ids.map((d) => ({
        sql: DESTINATION_HEALTH_SQL,
        params: { d, window: HEALTH_WINDOW, pending: PENDING_LIMIT },
      })),
    );
    return rows.map(([r]): DeliveryFacts => {
      const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      return {
        lastDeliveredAt: num(r?.delivered_at),
        failedInARow: Number(r?.failed ?? 0),
        gaveUp: Number(r?.gave_up ?? 0),
        failingSince: num(r?.failing_since),
        lastFailedAt: num(r?.failed_at),
        lastError: str(r?.error),
        pending: Number(r?.pending ?? 0),
      };
    });
  }

  async listDestinationsLastFailed(workspaceId: string): Promise<Destination[]> {
    const [rows = []] = await this.read([
      { sql: DESTINATIONS_LAST_FAILED_SQL, params: { ws: id(workspaceId) } },
    ]);
    return rows.map(toDestination);
  }

  async retryDelivery(
    workspaceId: string,
    deliveryId: string,
    now: number,
  ): Promise<string | null | 'in_flight'> {
    return this.batch(() => {
      const d = this.sql('SELECT outbox_id FROM deliveries WHERE id = ? AND workspace_id = ?').get(
        id(deliveryId),
        id(workspaceId),
      ) as Row | undefined;
      if (!d) return null;
      // A row being delivered right now keeps its lease: the attempt under
      // way may end for good (its last try, a refusal), so the caller is told
      // rather than answered as if the retry were queued.
      const moved = this.sql(
        `UPDATE outbox SET status = 'pending', next_at = ?, queued_at = ?, budget_from = attempts,
           lease_until = NULL, lease_owner = NULL
         WHERE id = ? AND (lease_until IS NULL OR lease_until <= ?)`,
      ).run(now, now, d.outbox_id, now).changes;
      if (moved === 0) return 'in_flight';
      this.outboxWritten = true;
      return String(d.outbox_id);
    });
  }

  async outboxCounts(workspaceId: string | null): Promise<Record<string, number>> {
    const rows = (
      workspaceId === null
        ? this.sql('SELECT status, count(*) AS n FROM outbox GROUP BY status').all()
        : this.sql(
            'SELECT status, count(*) AS n FROM outbox WHERE workspace_id = ? GROUP BY status',
          ).all(id(workspaceId))
    ) as Row[];
    return Object.fromEntries(rows.map((r) => [r.status as string, Number(r.n)]));
  }

  // --- statistics ---------------------------------------------------------

  async stats(
    workspaceId: string,
    query: StatsQuery,
  ): Promise<{ rows: StatsRow[]; currency: string; currencies: string[] }> {
    const ws = id(workspaceId);
    // An id that can't exist matches nothing (never 'no filter').
    const campaign = query.campaignId === undefined ? null : (id(query.campaignId) ?? -1);
    const plan = planStats(query);
    const priced = new Map<string, number>();
    const currencyReads = await this.read(
      plan.currency.map(({ source, fromMs, toMs }) => ({
        sql: CURRENCY_SQL[source],
        params: { ws, campaign, from: fromMs, to: toMs },
      })),
    );
    for (const r of currencyReads.flat()) {
      const c = r.currency as string;
      priced.set(c, (priced.get(c) ?? 0) + Number(r.n));
    }
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

    const path = query.groupBy.startsWith('param.')
      ? `$."${query.groupBy.slice('param.'.length).replace(/"/g, '')}"`
      : null;
    // Every read of the plan, on one snapshot; then each result row is added
    // to its group.
    const queries: ReadQuery[] = [];
    const apply: Array<(rows: Row[]) => void> = [];
    for (const read of plan.reads) {
      const sql = statsSql(query.groupBy, read);
      const args = {
        ws,
        campaign,
        cur: currency,
        path,
        from: read.kind === 'days' ? null : read.fromMs,
        to: read.kind === 'days' ? null : read.toMs,
        ranges:
          read.kind === 'days'
            ? JSON.stringify(read.ranges.map((r) => [r.key, r.startMs, r.endMs]))
            : null,
      };
      // The group a result row counts towards; null: another read counts it.
      const target = (r: Row): StatsRow | null => {
        if (read.kind !== 'buckets') {
          return row(String(r.key ?? ''), String(r.label ?? r.key ?? ''));
        }
        const day = read.dayOf(Number(r.key));
        return day === null ? null : row(day, day);
      };
      if (sql.clicks) {
        queries.push({ sql: sql.clicks, params: pick(sql.clicks, args) });
        apply.push((result) => {
          for (const r of result) {
            const t = target(r);
            if (t) t.clicks += Number(r.n);
          }
        });
      }
      if (sql.leads) {
        queries.push({ sql: sql.leads, params: pick(sql.leads, args) });
        apply.push((result) => {
          for (const r of result) {
            const t = target(r);
            if (t) t.leads += Number(r.n);
          }
        });
      }
      queries.push({
        sql: sql.conversions,
        params: pick(sql.conversions, args),
        safeIntegers: true,
      });
      apply.push((result) => {
        for (const r of result) {
          const t = target(r);
          if (!t) continue;
          t.registrations += Number(r.registrations);
          t.firstDeposits += Number(r.first_deposits);
          t.firstDepositMicros += exactSum(r, 'ftd');
          t.deposits += Number(r.deposits);
          t.depositMicros += exactSum(r, 'dep');
          t.withdrawalMicros += exactSum(r, 'wd');
        }
      });
    }
    const results = await this.read(queries);
    results.forEach((result, i) => {
      apply[i]?.(result);
    });
    return { rows: [...rows.values()], currency, currencies };
  }
}

/** Only the named parameters a statement uses: better-sqlite3 refuses extra ones. */
function pick(sql: string, args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) if (sql.includes(`@${name}`)) out[name] = value;
  return out;
}

/**
 * A money sum as read with safe integers. A rollup's integer addition past
 * 2^63 turns into a REAL, where SUM over the raw rows stops with an error:
 * statistics refuse both rather than answer an inexact amount.
 */
/**
 * `sum(expr)` of micro-units as two sums, of whole units and of the rest:
 * neither can pass a 64-bit integer (SQLite's sum() would throw past it),
 * and exactSum puts them back together exactly.
 */
function splitSum(expr: string, name: string): string {
  return `coalesce(sum((${expr}) / 1000000), 0) AS ${name}_units, coalesce(sum((${expr}) % 1000000), 0) AS ${name}_rest`;
}

/** A splitSum's two columns of `row`, as one exact sum of micro-units. */
function exactSum(row: Row, name: string): bigint {
  const units = row[`${name}_units`];
  const rest = row[`${name}_rest`];
  // A float here is a rollup written before sums were kept exact.
  if (typeof units !== 'bigint' || typeof rest !== 'bigint') throw new Error('integer overflow');
  return units * 1_000_000n + rest;
}

/**
 * Where one table's counts come from: its raw rows (one per click, lead or
 * conversion), or its rollup (one per 15-minute bucket and key, 0 for a key
 * that is NULL in the raw row). Both give the same columns.
 */
interface Source {
  table: string;
  time: string;
  /** The campaign and postback ids, NULL where there is none. */
  campaign: string;
  postback: string | null;
  /** The lead's click parameters, and what to join to reach them; null: not kept. */
  params: { value: string; join: string } | null;
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
    select: 'count(*) AS n',
    having: '',
  },
  leads: {
    table: 'leads',
    time: 'created_at',
    campaign: 'x.campaign_id',
    postback: null,
    params: { value: 'x.params', join: '' },
    select: 'count(*) AS n',
    having: '',
  },
  conversions: {
    table: 'conversions',
    time: 'at',
    campaign: 'x.campaign_id',
    postback: 'x.postback_id',
    params: { value: 'p.params', join: 'JOIN leads p ON p.id = x.lead_id' },
    select: `
      count(CASE WHEN x.event = 'registration' THEN 1 END) AS registrations,
      count(CASE WHEN x.event = 'first_deposit' THEN 1 END) AS first_deposits,
      ${splitSum("CASE WHEN x.event = 'first_deposit' AND x.currency = @cur THEN x.amount_micros END", 'ftd')},
      count(CASE WHEN x.event = 'deposit' THEN 1 END) AS deposits,
      ${splitSum("CASE WHEN x.event = 'deposit' AND x.currency = @cur THEN x.amount_micros END", 'dep')},
      ${splitSum('CASE WHEN x.amount_micros < 0 AND x.currency = @cur THEN -x.amount_micros END', 'wd')}`,
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
    select: 'sum(x.n) AS n',
    having: 'HAVING sum(x.n) > 0',
  },
  leads: {
    table: 'lead_rollups',
    time: 'bucket',
    campaign: 'nullif(x.campaign_id, 0)',
    postback: null,
    params: null,
    select: 'sum(x.n) AS n',
    having: 'HAVING sum(x.n) > 0',
  },
  conversions: {
    table: 'conversion_rollups',
    time: 'bucket',
    campaign: 'nullif(x.campaign_id, 0)',
    postback: 'nullif(x.postback_id, 0)',
    params: null,
    select: `
      coalesce(sum(CASE WHEN x.event = 'registration' THEN x.n END), 0) AS registrations,
      coalesce(sum(CASE WHEN x.event = 'first_deposit' THEN x.n END), 0) AS first_deposits,
      ${splitSum("CASE WHEN x.event = 'first_deposit' AND x.currency = @cur THEN x.micros END", 'ftd')},
      coalesce(sum(CASE WHEN x.event = 'deposit' THEN x.n END), 0) AS deposits,
      ${splitSum("CASE WHEN x.event = 'deposit' AND x.currency = @cur THEN x.micros END", 'dep')},
      ${splitSum('CASE WHEN x.currency = @cur THEN -x.negative_micros END', 'wd')}`,
    having: 'HAVING sum(x.n) > 0',
  },
};

/** Conversions with an amount per currency in [@from, @to), to choose the one to sum. */
const CURRENCY_SQL = {
  raw: `SELECT currency, count(amount_micros) AS n FROM conversions
    WHERE workspace_id = @ws AND at >= @from AND at < @to
      AND (@campaign IS NULL OR campaign_id = @campaign)
    GROUP BY currency HAVING count(amount_micros) > 0`,
  rollups: `SELECT currency, sum(priced) AS n FROM conversion_rollups
    WHERE workspace_id = @ws AND bucket >= @from AND bucket < @to
      AND (@campaign IS NULL OR campaign_id = @campaign)
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
    key: (s) => (s.params ? `json_extract(${s.params.value}, @path)` : null),
    join: (s) => s.params?.join ?? '',
  },
  // Local days: the rollups by bucket (the caller adds buckets up into days),
  // the raw rows by the ranges in @ranges, each with its day.
  day: { key: (s) => (s.time === 'bucket' ? 'x.bucket' : 'b.key') },
};

interface StatsSql {
  clicks: string | null;
  leads: string | null;
  conversions: string;
}

const statsCache = new Map<string, StatsSql>();

/**
 * The aggregate queries of one read: clicks, leads and conversions, each
 * over the workspace's time-range index (of the raw table or the rollup).
 */
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
    const label = dim.label ? `, ${dim.label} AS label` : '';
    const join = dim.join?.(s) ?? '';
    const filter = '(@campaign IS NULL OR x.campaign_id = @campaign)';
    if (read.kind === 'days') {
      return `WITH b(key, s, e) AS (
          SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
          FROM json_each(@ranges))
        SELECT ${key} AS key, ${s.select} FROM b
        JOIN ${s.table} x ON x.workspace_id = @ws AND x.${s.time} >= b.s AND x.${s.time} < b.e
        WHERE ${filter} GROUP BY 1 ${s.having}`;
    }
    return `SELECT ${key} AS key${label}, ${s.select} FROM ${s.table} x ${join}
      WHERE x.workspace_id = @ws AND x.${s.time} >= @from AND x.${s.time} < @to AND ${filter}
      GROUP BY 1 ${s.having}`;
  };
  const result: StatsSql = {
    clicks: build(sources.clicks),
    leads: build(sources.leads),
    conversions: build(sources.conversions) as string,
  };
  statsCache.set(cacheKey, result);
  return result;
}
