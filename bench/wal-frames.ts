// WAL frames per write, read off the embedded engine's WAL file. Every page a
// commit changes is one frame (a 24-byte header and the page, two pwrite calls
// and a checksum): most of what a commit costs. Unlike CPU time the count
// moves by less than 0.5% from run to run, so a change to the schema or to
// what a write touches can be judged by it closely.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';

const WAL_HEADER = 32;
const FRAME_HEADER = 24;

export interface WalFrames {
  writes: number;
  commits: number;
  frames: number;
  /** Frames per write by the table or index the page belongs to, most first. */
  byTree: Array<[string, number]>;
}

/**
 * Opens the database at `path` with checkpoints held off (so the WAL only
 * grows), makes `warm` writes, then `writes` more from `callers` concurrent
 * callers (one group commit per turn, as in the server), and reads the
 * frames the latter added. Every write must answer "recorded".
 */
export async function walFrames(
  path: string,
  writer: (store: Store) => (n: number) => Promise<string>,
  options: { callers: number; warm: number; writes: number },
): Promise<WalFrames> {
  const store = openSqliteStore({
    path,
    checkpoint: { intervalMs: 2_000_000_000, restartFrames: 1_000_000_000, readyFrames: 0 },
  });
  const probe = new Database(path, { readonly: true });
  const pageSize = Number(probe.pragma('page_size', { simple: true }));
  probe.close();
  const frameSize = FRAME_HEADER + pageSize;
  const write = writer(store);
  let n = 0;
  const run = async (count: number) => {
    const end = n + count;
    await Promise.all(
      Array.from({ length: options.callers }, async () => {
        while (n < end) {
          const outcome = await write(n++);
          if (outcome !== 'recorded') throw new Error(`a write answered ${outcome}`);
        }
      }),
    );
  };
  try {
    await run(options.warm);
    const from = WAL_HEADER + Math.floor((walSize(path) - WAL_HEADER) / frameSize) * frameSize;
    await run(options.writes);
    const reader = new Database(path, { readonly: true });
    const trees = new Map<number, string>();
    for (const r of reader.prepare('SELECT name, pageno FROM dbstat').all() as Array<{
      name: string;
      pageno: number;
    }>) {
      trees.set(r.pageno, r.pageno === 1 ? 'page 1 (header, schema)' : r.name);
    }
    reader.close();
    const counts = new Map<string, number>();
    let frames = 0;
    let commits = 0;
    const fd = openSync(`${path}-wal`, 'r');
    try {
      const header = Buffer.alloc(FRAME_HEADER);
      const end = walSize(path);
      for (let at = from; at + frameSize <= end; at += frameSize) {
        readSync(fd, header, 0, FRAME_HEADER, at);
        const page = header.readUInt32BE(0);
        // A commit's last frame holds the database's size after it.
        if (header.readUInt32BE(4) !== 0) commits++;
        frames++;
        const tree = trees.get(page) ?? 'free pages';
        counts.set(tree, (counts.get(tree) ?? 0) + 1);
      }
    } finally {
      closeSync(fd);
    }
    return {
      writes: options.writes,
      commits,
      frames,
      byTree: [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([tree, count]) => [tree, count / options.writes]),
    };
  } finally {
    await store.close();
  }
}

function walSize(path: string): number {
  return statSync(`${path}-wal`).size;
}

export function describeFrames(name: string, f: WalFrames): string {
  const trees = f.byTree.map(([tree, perWrite]) => `${tree} ${perWrite.toFixed(3)}`).join(', ');
  return `${name}: ${(f.frames / f.writes).toFixed(3)} frames per write, ${(f.writes / f.commits).toFixed(1)} writes and ${(f.frames / f.commits).toFixed(1)} frames per commit (${trees})`;
}
