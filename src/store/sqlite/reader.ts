// Reads whose cost grows with the data (a search through the postback log,
// statistics, lead and delivery lists) run on a worker thread with its own
// read-only connection, so the thread that answers clicks and postbacks never
// waits for them: a search of 1,000,000 log rows that matches nothing took
// that thread 350 ms. WAL lets the reader and the writer work at once; a
// read sees every transaction committed before it began, so whatever the
// store has acknowledged.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

export type Row = Record<string, unknown>;

export interface ReadQuery {
  sql: string;
  /** Positional or named parameters. */
  params: unknown[] | Record<string, unknown>;
  /** Integers as BigInt (money sums). */
  safeIntegers?: boolean;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const statements = new Map();
function statement(sql, safeIntegers) {
  const key = (safeIntegers ? '#' : '') + sql;
  let s = statements.get(key);
  if (!s) {
    s = db.prepare(sql);
    if (safeIntegers) s.safeIntegers(true);
    statements.set(key, s);
  }
  return s;
}
// The queries of one message read one snapshot.
const inOneSnapshot = db.transaction((queries) =>
  queries.map((q) => {
    const s = statement(q.sql, q.safeIntegers === true);
    return Array.isArray(q.params) ? s.all(...q.params) : s.all(q.params);
  }),
);
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ id: message.id, rows: inOneSnapshot(message.queries) });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

interface Waiting {
  resolve: (rows: Row[][]) => void;
  reject: (error: Error) => void;
}

export class Reader {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly path: string) {}

  /** Runs the queries, in order, on one snapshot of the database. */
  read(queries: ReadQuery[]): Promise<Row[][]> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const worker = this.started();
    const id = this.nextId++;
    return new Promise<Row[][]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, queries });
    });
  }

  /** Finishes the reads already asked for, then stops; once, however often it is called. */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  /** The worker, started on the first read (most processes that never read never pay for it). */
  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { module: BETTER_SQLITE3, path: this.path },
    });
    // Only a read in flight keeps the process alive.
    worker.unref();
    worker.on(
      'message',
      (message: { id: number; rows?: Row[][]; error?: Error & { code?: string } }) => {
        const waiting = this.waiting.get(message.id);
        if (!waiting) return;
        this.waiting.delete(message.id);
        if (this.waiting.size === 0) worker.unref();
        if (message.error) {
          waiting.reject(
            Object.assign(new Error(message.error.message), { code: message.error.code }),
          );
        } else {
          waiting.resolve(message.rows as Row[][]);
        }
      },
    );
    const fail = (error: Error) => {
      // A worker that died is started again by the next read.
      if (this.worker === worker) this.worker = null;
      for (const waiting of this.waiting.values()) waiting.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`the reader stopped (exit ${code})`));
    });
    this.worker = worker;
    return worker;
  }
}
