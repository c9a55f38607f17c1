// Another process on the same SQLite file, taking its write lock the way an
// operator's sqlite3 shell or a second server would: BEGIN IMMEDIATE on a
// connection of its own. The lock is held in that process, so nothing here
// (our event loop, our connection) can let go of it early.
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

// Plain JavaScript, so the child needs no loader. Commands on stdin, one a
// line: `hold` (`hold <ms>`: and let go after ms), `release`, `contend <holdMs> <freeMs>` (take the lock for
// holdMs, leave it for freeMs, over and over until `stop`), `write <ms> <sql>`
// (take the lock, run the SQL, commit after ms), `stop`.
const CHILD = `
const Database = require(process.argv[2]);
const db = new Database(process.argv[1]);
db.pragma('busy_timeout = 5000');
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(sleeper, 0, 0, ms);
let contending = null;
let held = 0;
const say = (line) => process.stdout.write(line + '\\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, a, b] = line.split(' ');
  if (command === 'hold') {
    db.exec('BEGIN IMMEDIATE');
    if (a !== undefined) setTimeout(() => db.exec('ROLLBACK'), Number(a));
    say('held');
  }
  else if (command === 'release') { db.exec('ROLLBACK'); say('released'); }
  else if (command === 'write') {
    db.exec('BEGIN IMMEDIATE');
    db.exec(line.split(' ').slice(2).join(' '));
    setTimeout(() => db.exec('COMMIT'), Number(a));
    say('writing');
  }
  else if (command === 'contend') {
    const holdMs = Number(a), freeMs = Number(b);
    const turn = () => {
      db.exec('BEGIN IMMEDIATE');
      held++;
      sleep(holdMs);
      db.exec('ROLLBACK');
      contending = setTimeout(turn, freeMs);
    };
    turn();
    say('contending');
  } else if (command === 'stop') {
    clearTimeout(contending);
    say('stopped ' + held);
    db.close();
    process.exit(0);
  }
});
say('ready');
`;

export interface LockHolder {
  /** Takes the write lock and keeps it until release(), or for ms by itself. */
  hold(ms?: number): Promise<void>;
  release(): Promise<void>;
  /** Takes the write lock, runs sql (one line) and commits it ms later. */
  write(sql: string, ms: number): Promise<void>;
  /** Takes the lock for holdMs, leaves it for freeMs, over and over. */
  contend(holdMs: number, freeMs: number): Promise<void>;
  /** Ends the process; how many times it took the lock while contending. */
  stop(): Promise<number>;
}

/** Rejects after 10 s: a lock holder that stops answering fails the test, not hangs it. */
function timeout(command: string): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`lock holder: no answer to ${command}`)), 10_000).unref();
  });
}

export async function lockHolder(path: string): Promise<LockHolder> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', CHILD, path, createRequire(import.meta.url).resolve('better-sqlite3')],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code})`))),
  );
  exited.catch(() => {});
  const ask = async (command: string | null, expect: string): Promise<string> => {
    const answer = new Promise<string>((resolve) => waiting.push(resolve));
    if (command !== null) child.stdin?.write(`${command}\n`);
    const line = await Promise.race([answer, exited, timeout(command ?? 'start')]);
    if (!line.startsWith(expect)) throw new Error(`lock holder: ${line}, expected ${expect}`);
    return line;
  };
  await ask(null, 'ready');
  return {
    hold: async (ms) => void (await ask(ms === undefined ? 'hold' : `hold ${ms}`, 'held')),
    release: async () => void (await ask('release', 'released')),
    write: async (sql, ms) => void (await ask(`write ${ms} ${sql}`, 'writing')),
    contend: async (holdMs, freeMs) =>
      void (await ask(`contend ${holdMs} ${freeMs}`, 'contending')),
    stop: async () => Number((await ask('stop', 'stopped')).split(' ')[1]),
  };
}
