// Runs the real process (`node --import tsx src/main.ts`) on a port picked here,
// with its own environment; every child is tracked so `killAll()` in an `after`
// hook can end the ones a failing test left running.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Variables of ours that must not leak from the developer's shell into a child. */
const OURS = [
  'PORT',
  'HOST',
  'DATABASE_URL',
  'DATABASE_CONNECT_TIMEOUT_MS',
  'DATABASE_QUERY_TIMEOUT_MS',
  'PUBLIC_URL',
  'ALLOW_SIGNUP',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'DEDUP_WINDOW_SECONDS',
  'SESSION_DAYS',
  'DATA_DIR',
  'SECRET_KEY',
  'FACEBOOK_GRAPH_URL',
  'FACEBOOK_GRAPH_VERSION',
  'ALLOW_PRIVATE_WEBHOOKS',
  'FORWARD_TIMEOUT_MS',
  'FORWARD_RETRY_BASE_MS',
  'FORWARD_MAX_ATTEMPTS',
  'FORWARD_MAX_AGE_HOURS',
  'FORWARD_CONCURRENCY',
  'FORWARD_POLL_MS',
  'NODE_OPTIONS',
  'NODE_TEST_CONTEXT',
];

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<Exit>;
  running(): boolean;
}

export interface Server extends Child {
  port: number;
  base: string;
  /** Sends SIGTERM (unless already exited) and waits for the exit. */
  stop(): Promise<Exit>;
}

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running; for `after` hooks. */
export async function killAll(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      waits.push(new Promise((resolve) => child.once('exit', resolve)));
      child.kill('SIGKILL');
    }
  }
  await Promise.all(waits);
  children.clear();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Spawns the server with `env` over a clean copy of this process's environment. */
export function spawnMain(env: Record<string, string>): Child {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of OURS) delete base[key];
  // Nothing of a test run (such as a generated secret key) lands in the checkout.
  base.DATA_DIR = mkdtempSync(join(tmpdir(), 'clickback-data-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  // 'close' comes after 'exit' once the pipes are drained: the output is complete.
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
  };
}

/** Resolves with the exit, or rejects if the process is still running after `ms`. */
export async function exitWithin(child: Child, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts the server and waits until GET /healthz answers 200 (15 s at most).
 * `dbPath`: an embedded database file, or null when `env` has DATABASE_URL
 * (the generated secret key then lives in a fresh directory of the child's).
 */
export async function startServer(
  dbPath: string | null,
  env: Record<string, string> = {},
): Promise<Server> {
  if (dbPath === null && !env.DATABASE_URL) throw new Error('startServer(null) needs DATABASE_URL');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawnMain({
    PORT: String(port),
    HOST: '127.0.0.1',
    // The generated secret key lives beside the database, not in the checkout.
    ...(dbPath === null ? {} : { DATABASE_URL: `sqlite:${dbPath}`, DATA_DIR: dirname(dbPath) }),
    PUBLIC_URL: base,
    LOG_LEVEL: 'info',
    ...env,
  });
  const server: Server = {
    ...child,
    port,
    base,
    async stop() {
      if (child.running()) child.process.kill('SIGTERM');
      return exitWithin(child, 15_000);
    },
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!child.running()) {
      throw new Error(`the server exited before it was ready:\n${child.stderr()}`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return server;
      await res.body?.cancel();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.process.kill('SIGKILL');
  throw new Error(`the server was not ready within 15 s:\n${child.stdout()}\n${child.stderr()}`);
}

/** JSON over HTTP to a running server. */
export async function call<T = Record<string, unknown>>(
  server: Pick<Server, 'base'>,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}
