// WAL checkpoints off the request path: a worker thread with its own
// connection copies committed pages into the database file (and fsyncs it)
// while the main thread keeps answering.
//
// A checkpoint alone never shortens the WAL: SQLite starts writing the log
// from its beginning again only when a write transaction begins while every
// frame is already in the database file. Under steady load the worker never
// catches the writer, so the log would grow without bound (about 100 MB/s at
// full postback load). So, once the log passes a threshold:
//  1. the worker checkpoints back to back, writes going on, until one pass has
//     had little to copy, and says it is ready;
//  2. the store holds its next batch (requests keep arriving and join it) while
//     the worker copies and fsyncs the last few milliseconds of frames;
//  3. that batch begins with every frame checkpointed, so the log restarts
//     from the beginning of its file (which keeps its size up to
//     `journal_size_limit`, see openSqliteStore).
// A hold costs 2-4 ms at full load. What made it short is the fsync after each
// partial pass (see below): before it, the completing pass synced every page
// copied since the last restart and holds took up to 25 ms. Step 1 on its own
// did not shorten them measurably; it bounds what the held pass has to copy.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const { openSync, closeSync, fdatasyncSync } = require('node:fs');
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
// SQLite fsyncs the database only when a checkpoint completes the whole log;
// an fsync after each partial one spreads that work, so the completing pass
// (the one a held batch waits for) has only its own pages to sync.
const file = openSync(workerData.path, 'r');
let checkpointed = 0;
/** Frames copied by the pass just run. */
let copied = 0;
function pass() {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // After a restart the count starts again from zero.
    copied = r.checkpointed >= checkpointed ? r.checkpointed - checkpointed : r.checkpointed;
    checkpointed = r.checkpointed;
    if (copied > 0) fdatasyncSync(file);
    return { log: r.log, checkpointed: r.checkpointed };
  } catch {
    copied = 0;
    return { log: -1, checkpointed: -1 };
  }
}
let timer;
function tick() {
  const r = pass();
  const due = r.log >= workerData.restartFrames;
  // Writes faster than passes can converge: hold anyway, for longer, rather
  // than let the log grow.
  const overdue = r.log >= 2 * workerData.restartFrames;
  if (due && (copied <= workerData.readyFrames || overdue)) {
    // Ready: the held batch's pass will be about as short as this one. Passes
    // pause until the store asks (or, if no write comes, for one interval).
    parentPort.postMessage({ type: 'ready', ...r });
    timer = setTimeout(tick, workerData.intervalMs);
    return;
  }
  parentPort.postMessage({ type: 'pass', ...r });
  timer = setTimeout(tick, due ? 0 : workerData.intervalMs);
}
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (message) => {
  clearTimeout(timer);
  if (message === 'catch-up') {
    parentPort.postMessage({ type: 'caught-up', ...pass() });
    timer = setTimeout(tick, workerData.intervalMs);
    return;
  }
  db.close();
  closeSync(file);
  parentPort.close();
});
`;

interface PassResult {
  type: 'pass' | 'ready' | 'caught-up';
  /** Frames in the log; -1 when the pass failed. */
  log: number;
  /** Frames of the log already in the database file. */
  checkpointed: number;
}

export interface CheckpointOptions {
  /** Between the worker's checkpoints. */
  intervalMs: number;
  /** Past this many frames in the log, the log is started over. */
  restartFrames: number;
  /** A pass that copied no more frames than this means the next will be short too: time to hold. */
  readyFrames: number;
}

/**
 * A checkpoint every 250 ms, and a restart once the log holds 16,384 frames
 * (64 MB of 4 KB pages): about once a second at full postback load.
 */
export const CHECKPOINT_DEFAULTS: CheckpointOptions = {
  intervalMs: 250,
  restartFrames: 16_384,
  readyFrames: 512,
};
/** How long a held batch waits for the worker before it goes ahead anyway. */
const CATCH_UP_TIMEOUT_MS = 250;

export class Checkpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | null = null;
  /** The worker has caught up closely enough for a short hold. */
  private ready = false;
  private catchingUp: Promise<void> | null = null;
  private caughtUp: (() => void) | null = null;

  constructor(path: string, options: CheckpointOptions = CHECKPOINT_DEFAULTS) {
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { ...options, path, module: BETTER_SQLITE3 },
    });
    this.worker.unref();
    // A failed checkpoint only lets the WAL grow until the next one; the
    // connection's own checkpoint at close still runs.
    this.worker.on('error', () => {});
    this.worker.on('message', (message: PassResult) => {
      if (message.type === 'ready') this.ready = true;
      else if (message.type === 'caught-up') this.caughtUp?.();
      else this.ready = false;
    });
  }

  /** True when the next batch should wait for `catchUp()` so the log restarts. */
  get restartDue(): boolean {
    return this.ready && this.stopped === null;
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
        this.ready = false;
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
