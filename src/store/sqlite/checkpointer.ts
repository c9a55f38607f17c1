// WAL checkpoints off the request path: a worker thread with its own
// connection copies committed pages into the database file (and fsyncs it)
// while the main thread keeps answering. Commits themselves are unchanged.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {}
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class Checkpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | null = null;

  constructor(path: string, intervalMs = 250) {
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { path, intervalMs, module: BETTER_SQLITE3 },
    });
    this.worker.unref();
    // A failed checkpoint only lets the WAL grow until the next one; the
    // connection's own checkpoint at close still runs.
    this.worker.on('error', () => {});
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      // Held while it stops, so the process waits for the worker's goodbye.
      this.worker.ref();
      this.worker.once('exit', () => resolve());
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}
