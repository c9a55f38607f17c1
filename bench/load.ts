// The load generator, always in a process of its own: wrk when it is
// installed (Debian's package; bench/*.lua make every request different),
// otherwise autocannon from npm (bench/autocannon-load.ts, the same requests).
// `--load=wrk` or `--load=autocannon` chooses one.
import { fork, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { statTicks } from './proc-stat.js';

const BENCH = fileURLToPath(new URL('.', import.meta.url));

/** What a run sends: the bare server's `/` (null), ad clicks, or postbacks. */
export type Scenario = 'clicks' | 'postbacks' | null;

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  scenario: Scenario;
  /** The scenario's arguments: the campaign slug; or token, duplicate share, clickid file, run label. */
  args: string[];
}

export interface LoadOutput {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors, timeouts and answers of 400 or more. */
  errors: number;
  /** The scenario's own count of answers: ok (302, or recorded), duplicate, other. */
  result: Record<string, number>;
  /**
   * CPU time the load generator itself spent (all its threads), in µs: it
   * shares the machine with the server, so it is part of what a request costs
   * the machine. Null where it cannot be read.
   */
  cpuUs: number | null;
}

export interface LoadGenerator {
  name: 'wrk' | 'autocannon';
  /** For the report: the generator and how it drives the load. */
  describe(connections: number): string;
  run(options: LoadOptions): Promise<LoadOutput>;
}

export function wrkInstalled(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/** `choice` as given (`--load=`), or wrk when it is installed, otherwise autocannon. */
export function loadGenerator(choice: string | undefined): LoadGenerator {
  const installed = wrkInstalled();
  const name = choice ?? (installed ? 'wrk' : 'autocannon');
  if (name === 'wrk') {
    if (!installed) throw new Error('--load=wrk: wrk is not installed (apt-get install wrk)');
    return {
      name,
      describe: (connections) => `wrk, 2 threads, ${connections} connections`,
      run: wrk,
    };
  }
  if (name === 'autocannon') {
    return {
      name,
      describe: (connections) => `autocannon, 1 thread, ${connections} connections`,
      run: autocannonRun,
    };
  }
  throw new Error(`--load=${name}: expected wrk or autocannon`);
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/**
 * CPU time of this process's children that have exited and been waited for
 * (cutime + cstime of /proc/self/stat), in µs; null off Linux. Around one wrk
 * run it is wrk's own: the servers under test outlive the run.
 */
export function reapedChildrenCpuUs(): number | null {
  try {
    const ticks = statTicks('/proc/self/stat', ['cutime', 'cstime']);
    // Clock ticks of 10 ms.
    return Number.isFinite(ticks) ? ticks * 10_000 : null;
  } catch {
    return null;
  }
}

function wrk(options: LoadOptions): Promise<LoadOutput> {
  const argv = [
    '-t2',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    '--timeout',
    '5s',
  ];
  if (options.scenario) argv.push('-s', join(BENCH, `${options.scenario}.lua`));
  argv.push(options.url);
  if (options.args.length) argv.push('--', ...options.args);
  return new Promise((resolve, reject) => {
    const cpuBefore = reapedChildrenCpuUs();
    const child = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', () => {
      const cpuAfter = reapedChildrenCpuUs();
      const cpuUs = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
      const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
        out,
      );
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const errors = non2xx + (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0);
      const result: Record<string, number> = {};
      for (const [, k, v] of (/RESULT (.*)/.exec(out)?.[1] ?? '').matchAll(/(\w+)=(\d+)/g)) {
        result[k as string] = Number(v);
      }
      if (!Number.isFinite(rps)) reject(new Error(`wrk printed no result:\n${out}`));
      else resolve({ rps, requests, p50Ms: p50, p99Ms: p99, errors, result, cpuUs });
    });
  });
}

function autocannonRun(options: LoadOptions): Promise<LoadOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(join(BENCH, 'autocannon-load.ts'), [JSON.stringify(options)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let output: LoadOutput | null = null;
    child.on('message', (message) => {
      output = message as LoadOutput;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (output) resolve(output);
      else reject(new Error(`autocannon exited (${code}) without a result`));
    });
  });
}
