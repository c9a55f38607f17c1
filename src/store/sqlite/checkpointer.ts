// WAL checkpoints off the request path: a worker thread with its own
// connection copies committed pages into the database file (and fsyncs it)
// while the main thread keeps answering.
//
// A checkpoint alone never shortens the WAL: SQLite starts writing the log
// from its beginning again only when a write transaction begins while every
// frame is already in the database file. Under steady load the worker's
// checkpoint never catches the writer, so the log would grow without bound
// (about 100 MB/s at full postback load). When the log passes a threshold the
// store therefore holds its next batch (requests keep arriving and queue), asks
// the worker to catch up, and begins that batch the moment it has: the log
// restarts, and the file is cut back to `journal_size_limit`.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
function pass() {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    return { log: r.log, checkpointed: r.checkpointed };
  } catch {
    return { log: -1, checkpointed: -1 };
  }
}
const timer = setInterval(() => parentPort.postMessage({ type: 'pass', ...pass() }), workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'catch-up') {
    parentPort.postMessage({ type: 'caught-up', ...pass() });
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

interface PassResult {
  type: 'pass' | 'caught-up';
  /** Frames in the log; -1 when the pass failed. */
  log: number;
  /** Frames of the log already in the database file. */
  checkpointed: number;
}

export interface CheckpointOptions {
  /** Between the worker's checkpoints. */
  intervalMs: number;
  /** Past this many frames in the log, the next batch waits for a full checkpoint. */
  restartFrames: number;
}

/**
 * A checkpoint every 250 ms, and a restart once the log holds 16,384 frames
 * (64 MB of 4 KB pages). At full postback load the restart comes about once a
 * second and holds one batch for a checkpoint's time: 5-25 ms on the bench
 * machine, mostly an fsync of the log and one of the database. With 4,096
 * frames it came four times as often, for as long, and p99 rose by 3-4 ms.
 */
export const CHECKPOINT_DEFAULTS: CheckpointOptions = { intervalMs: 250, restartFrames: 16_384 };
/** How long a held batch waits for the worker before it goes ahead anyway. */
const CATCH_UP_TIMEOUT_MS = 250;

export class Checkpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | null = null;
  /** Frames in the log at the worker's last pass. */
  private logFrames = 0;
  private catchingUp: Promise<void> | null = null;
  private caughtUp: (() => void) | null = null;

  private readonly restartFrames: number;

  constructor(path: string, options: CheckpointOptions = CHECKPOINT_DEFAULTS) {
    this.restartFrames = options.restartFrames;
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { path, intervalMs: options.intervalMs, module: BETTER_SQLITE3 },
    });
    this.worker.unref();
    // A failed checkpoint only lets the WAL grow until the next one; the
    // connection's own checkpoint at close still runs.
    this.worker.on('error', () => {});
    this.worker.on('message', (message: PassResult) => {
      if (message.log >= 0) this.logFrames = message.log;
      if (message.type === 'caught-up') this.caughtUp?.();
    });
  }

  /** True while a batch should wait for `catchUp()`: the log is long. */
  get logIsLong(): boolean {
    return this.logFrames >= this.restartFrames && this.stopped === null;
  }

  /**
   * Resolves once the worker has checkpointed every frame committed so far (or
   * after a timeout). The caller begins no write before then, so its next
   * transaction starts the log over.
   */
  catchUp(): Promise<void> {
    this.catchingUp ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.caughtUp = null;
        this.catchingUp = null;
        // Until the next pass says otherwise: the log is about to restart.
        this.logFrames = 0;
        resolve();
      };
      const timer = setTimeout(done, CATCH_UP_TIMEOUT_MS);
      this.caughtUp = done;
      this.worker.postMessage('catch-up');
    });
    return this.catchingUp;
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
