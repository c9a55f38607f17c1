// Statistics rollups for the rows the store inserts, added once per batch.
// Migration 5's insert triggers did this row by row; a trigger makes every
// click, lead and conversion insert a multi-statement program with a
// statement journal, which cost a click about 2 µs of its 12 in the store.
// Now the store adds its own inserts here and writes one upsert per bucket and
// key, in the same transaction, just before it commits. Updates and deletes
// (rare, and what an operator may run by hand) keep their triggers.
import type Database from 'better-sqlite3';
import { ROLLUP_BUCKET_MS as BUCKET_MS } from '../stats-plan.js';
import { StoreRefusal } from '../store.js';

/** The start of the 15-minute bucket of `at`, as migration 5's SQL computes it. */
export function bucketOf(at: number): number {
  return at - (((at % BUCKET_MS) + BUCKET_MS) % BUCKET_MS);
}

interface Count {
  keys: unknown[];
  n: number;
}

/**
 * The sums of a batch by key. Most rows of a batch share a key (the same
 * bucket, workspace and campaign), so the last key's entry is checked before
 * a key string is built and looked up.
 */
class Sums<T extends { keys: unknown[] }> {
  readonly byKey = new Map<string, T>();
  private last: T | null = null;

  entry(keys: unknown[], create: () => T): T {
    const last = this.last;
    if (last !== null && sameKeys(last.keys, keys)) return last;
    const key = keys.join('\u0000');
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = create();
      this.byKey.set(key, entry);
    }
    this.last = entry;
    return entry;
  }

  get size(): number {
    return this.byKey.size;
  }

  values(): IterableIterator<T> {
    return this.byKey.values();
  }

  clear(): void {
    this.byKey.clear();
    this.last = null;
  }
}

function sameKeys(a: unknown[], b: unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

interface Money {
  keys: unknown[];
  n: number;
  priced: number;
  micros: bigint;
  negativeMicros: bigint;
}

export class RollupBatch {
  private readonly clicks = new Sums<Count>();
  private readonly leads = new Sums<Count>();
  private readonly conversions = new Sums<Money>();

  constructor(private readonly db: Database.Database) {}

  click(workspaceId: number, at: number, campaignId: number | null): void {
    count(this.clicks, workspaceId, bucketOf(at), campaignId ?? 0);
  }

  lead(workspaceId: number, at: number, campaignId: number | null): void {
    count(this.leads, workspaceId, bucketOf(at), campaignId ?? 0);
  }

  conversion(row: {
    workspaceId: number;
    at: number;
    campaignId: number | null;
    postbackId: number | null;
    event: string;
    currency: string;
    micros: bigint | null;
  }): void {
    const keys = [
      row.workspaceId,
      bucketOf(row.at),
      row.campaignId ?? 0,
      row.postbackId ?? 0,
      row.event,
      row.currency,
    ];
    const sum = this.conversions.entry(keys, () => ({
      keys,
      n: 0,
      priced: 0,
      micros: 0n,
      negativeMicros: 0n,
    }));
    sum.n++;
    if (row.micros !== null) {
      sum.priced++;
      sum.micros += row.micros;
      if (row.micros < 0n) sum.negativeMicros += row.micros;
    }
  }

  /** Adds what was gathered to the rollup tables, inside the caller's transaction. */
  write(): void {
    if (this.clicks.size > 0) {
      const upsert = this.statement(
        `INSERT INTO click_rollups (workspace_id, bucket, campaign_id, n) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, bucket, campaign_id) DO UPDATE SET n = n + excluded.n`,
      );
      for (const c of this.clicks.values()) upsert.run(...c.keys, c.n);
    }
    if (this.leads.size > 0) {
      const upsert = this.statement(
        `INSERT INTO lead_rollups (workspace_id, bucket, campaign_id, n) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, bucket, campaign_id) DO UPDATE SET n = n + excluded.n`,
      );
      for (const c of this.leads.values()) upsert.run(...c.keys, c.n);
    }
    if (this.conversions.size > 0) {
      const upsert = this.statement(
        `INSERT INTO conversion_rollups (workspace_id, bucket, campaign_id, postback_id, event, currency, n, priced, micros, negative_micros)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (workspace_id, bucket, campaign_id, postback_id, event, currency) DO UPDATE SET
           n = n + excluded.n, priced = priced + excluded.priced,
           micros = micros + excluded.micros, negative_micros = negative_micros + excluded.negative_micros
         RETURNING micros, negative_micros`,
        true,
      );
      for (const c of this.conversions.values()) {
        const sums = upsert.get(...c.keys, c.n, c.priced, c.micros, c.negativeMicros) as {
          micros: unknown;
          negative_micros: unknown;
        };
        // Past a 64-bit integer SQLite's + gives a float: an inexact sum is
        // never kept. Only this write rolls back (it runs again alone).
        if (typeof sums.micros !== 'bigint' || typeof sums.negative_micros !== 'bigint') {
          throw new StoreRefusal(
            'amount_out_of_range',
            'with this amount, the statistics of its 15 minutes would pass 9,223,372,036,854 units; it is not counted',
          );
        }
      }
    }
    this.clear();
  }

  /** Forgets what was gathered: its transaction (or savepoint) rolled back. */
  clear(): void {
    this.clicks.clear();
    this.leads.clear();
    this.conversions.clear();
  }

  private readonly statements = new Map<string, Database.Statement>();

  private statement(sql: string, safeIntegers = false): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (safeIntegers) stmt.safeIntegers(true);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

function count(sums: Sums<Count>, workspaceId: number, bucket: number, campaignId: number) {
  const keys = [workspaceId, bucket, campaignId];
  sums.entry(keys, () => ({ keys, n: 0 })).n++;
}
