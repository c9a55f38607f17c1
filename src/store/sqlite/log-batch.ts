// The postback-log rows of a batch, inserted together just before it commits,
// in the same transaction as the writes they log. One multi-row INSERT costs
// less than a statement per postback: better-sqlite3 builds a result object
// for every run, and SQLite starts and halts a program for every statement.
import type Database from 'better-sqlite3';

export const LOG_COLUMNS = [
  'workspace_id',
  'postback_id',
  'at',
  'method',
  'url',
  'ip',
  'user_agent',
  'body',
  'http_status',
  'status',
  'error',
  'event',
  'clickid',
  'conversion_id',
] as const;

/** Rows per INSERT: 64 × 14 parameters, far below SQLite's limit of 32,766. */
const MAX_ROWS = 64;

export class LogBatch {
  /** The rows' values, one after the other, in LOG_COLUMNS order. */
  private values: unknown[] = [];
  /** The INSERT for n rows at [n - 1], prepared when first needed. */
  private readonly inserts: Database.Statement[] = [];

  constructor(private readonly db: Database.Database) {}

  add(row: readonly unknown[]): void {
    if (row.length !== LOG_COLUMNS.length) throw new Error('a log row has one value per column');
    for (const value of row) this.values.push(value);
  }

  get size(): number {
    return this.values.length / LOG_COLUMNS.length;
  }

  /** Inserts the rows added since the last write, in the order they were added. */
  write(): void {
    const values = this.values;
    if (values.length === 0) return;
    // Cleared first: a failed insert leaves nothing to insert twice.
    this.values = [];
    const total = values.length / LOG_COLUMNS.length;
    for (let first = 0; first < total; first += MAX_ROWS) {
      const rows = Math.min(MAX_ROWS, total - first);
      const whole = rows === total;
      // Spread, not one array argument: better-sqlite3 reads an array's
      // elements through V8's slower object API, one call each.
      this.insert(rows).run(
        ...(whole
          ? values
          : values.slice(first * LOG_COLUMNS.length, (first + rows) * LOG_COLUMNS.length)),
      );
    }
  }

  /** Drops the rows added since the last write (their batch rolled back). */
  clear(): void {
    this.values = [];
  }

  private insert(rows: number): Database.Statement {
    let statement = this.inserts[rows - 1];
    if (statement === undefined) {
      const row = `(${LOG_COLUMNS.map(() => '?').join(', ')})`;
      statement = this.db.prepare(
        `INSERT INTO postback_logs (${LOG_COLUMNS.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}`,
      );
      this.inserts[rows - 1] = statement;
    }
    return statement;
  }
}
