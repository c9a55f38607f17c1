// npm run bench:instructions — what a request costs the thread that answers,
// counted in instructions by valgrind's callgrind: Clickback's postbacks and
// clicks against the bare node:http server. A count repeats within about 1.5%
// from run to run whatever else the machine is doing, where requests/s moves
// by 10-30% between runs, so it is the figure to judge a change to the hot
// paths by (a smaller change per function, with --keep). Each server runs under valgrind, warms up (every lead of the
// postbacks' database comes round once, so all are in the lead cache, as in
// `npm run bench`'s measured seconds), and only then is counted.
//
// Needs valgrind (Debian's package) and a build (`npm run build`).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, seedBasics, seedLeads, target } from './support.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = benchArgs();
/** Requests counted per scenario. */
const COUNTED = Number(args.get('requests') ?? 8000);
const LEADS = Number(args.get('leads') ?? 100_000);
/** Warm-up requests of the bare server and of clicks (postbacks warm up over every lead). */
const WARM = Number(args.get('warm') ?? 20_000);
const CONNECTIONS = 32;
/** `--only=postbacks`, `--only=clicks`; `--only=baseline` counts the bare server alone. */
const ONLY = args.get('only')?.split(',') ?? null;
/**
 * `--keep=DIR`: callgrind's files are copied there, for callgrind_annotate,
 * with node's map of its compiled JavaScript (`perf-<pid>.map`, from
 * --perf-basic-prof) to name the addresses callgrind shows for it.
 */
const KEEP = args.get('keep') ?? null;
const only = (scenario: string) => ONLY === null || ONLY.includes(scenario);

/**
 * callgrind_control finds the process by a file named after the user and host
 * in its environment: both sides are given the same (the server's HOST is its
 * listening address).
 */
const VGDB_ENV = { ...process.env, USER: 'bench', LOGNAME: 'bench', HOST: '127.0.0.1' };

const work = mkdtempSync(join(tmpdir(), 'clickback-instructions-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Counted {
  child: ChildProcess;
  port: number;
  /** callgrind's output files of this process, one per thread. */
  outPrefix: string;
}

/** A node process under callgrind, counting nothing until told to. */
async function underCallgrind(
  name: string,
  script: (port: number) => string[],
  env: Record<string, string>,
): Promise<Counted> {
  const port = await freePort();
  const outPrefix = join(work, `callgrind.${name}`);
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      '--separate-threads=yes',
      `--callgrind-out-file=${outPrefix}.%p`,
      process.execPath,
      ...(KEEP ? ['--perf-basic-prof'] : []),
      ...script(port),
    ],
    {
      env: { ...VGDB_ENV, PORT: String(port), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  children.push(child);
  const until = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited while starting:\n${stderr}`);
    if (Date.now() > until) throw new Error(`${name} did not start within 120 s`);
    try {
      await get(port, '/healthz');
      return { child, port, outPrefix };
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `count` requests from CONNECTIONS callers at once; each answer must pass `ok`. */
async function drive(
  port: number,
  count: number,
  path: (i: number) => string,
  ok: (status: number, body: string) => boolean,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) {
        const i = next++;
        const { status, body } = await get(port, path(i));
        if (!ok(status, body)) throw new Error(`request ${path(i)} answered ${status} ${body}`);
      }
    }),
  );
}

function callgrindControl(pid: number, option: string): void {
  execFileSync('callgrind_control', [option, String(pid)], { env: VGDB_ENV, stdio: 'ignore' });
}

/** Instructions counted per thread of the process (files `<prefix>.<pid>-<thread>`), the main thread first. */
async function stopAndRead(server: Counted): Promise<number[]> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  const dir = work;
  const prefix = server.outPrefix.slice(dir.length + 1);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}.`) && /-\d+$/.test(f))
    .sort();
  if (KEEP) {
    mkdirSync(KEEP, { recursive: true });
    for (const f of files) copyFileSync(join(dir, f), join(KEEP, f));
    const map = `/tmp/perf-${server.child.pid}.map`;
    if (existsSync(map)) {
      copyFileSync(map, join(KEEP, `perf-${server.child.pid}.map`));
      rmSync(map);
    }
  }
  return files.map((f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    // A part's `summary:` line comes first and may be 0; `totals:` is the part's count.
    const totals = /^totals: (\d+)/m.exec(text);
    return totals ? Number(totals[1]) : 0;
  });
}

interface Result {
  scenario: string;
  requests: number;
  mainThread: number;
  allThreads: number;
}

async function count(
  scenario: string,
  server: Counted,
  warm: () => Promise<void>,
  counted: () => Promise<void>,
): Promise<Result> {
  await warm();
  const pid = server.child.pid as number;
  callgrindControl(pid, '--instr=on');
  await counted();
  callgrindControl(pid, '--instr=off');
  const threads = await stopAndRead(server);
  if (!threads[0]) {
    throw new Error(
      `callgrind counted nothing for ${scenario}: callgrind_control could not reach the process`,
    );
  }
  const perRequest = (n: number) => Math.round(n / COUNTED);
  const result = {
    scenario,
    requests: COUNTED,
    mainThread: perRequest(threads[0] ?? 0),
    allThreads: perRequest(threads.reduce((a, b) => a + b, 0)),
  };
  process.stderr.write(`${scenario}: ${result.mainThread} instructions per request\n`);
  return result;
}

async function main(): Promise<void> {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  const results: Result[] = [];

  // The bare server answers /healthz like any other path.
  const bare = await underCallgrind(
    'bare',
    (port) => [join(ROOT, 'bench/baseline.mjs'), String(port)],
    {},
  );
  results.push(
    await count(
      'baseline: bare node:http 200',
      bare,
      () =>
        drive(
          bare.port,
          WARM,
          () => '/',
          (s) => s === 200,
        ),
      () =>
        drive(
          bare.port,
          COUNTED,
          () => '/',
          (s) => s === 200,
        ),
    ),
  );

  const serverEnv = (db: string) => ({
    DATABASE_URL: db,
    DATA_DIR: work,
    LOG_LEVEL: 'warn',
    MAX_IN_FLIGHT: '4096',
  });
  const main = () => [join(ROOT, 'dist/main.js')];

  if (only('postbacks')) {
    const db = await target('postbacks', work);
    const seed = await seedBasics(db);
    const clickids = await seedLeads(
      db,
      seed.workspaceId,
      [seed.campaign.id],
      LEADS,
      Date.now() - 86_400_000,
      86_400_000,
    );
    const server = await underCallgrind('postbacks', main, serverEnv(db.url));
    const token = seed.postback.token;
    const path = (run: string) => (i: number) =>
      `/api/postbacks/${token}/deposit?clickid=${clickids[(i * 7919) % clickids.length]}&amount=${i % 500}.25&tid=${run}-${i}`;
    const recorded = (s: number, body: string) => s === 200 && body.includes('"recorded"');
    results.push(
      await count(
        'postbacks: deposits',
        server,
        // i * 7919 mod LEADS visits every lead once in LEADS requests.
        () => drive(server.port, Math.max(LEADS, WARM), path('warm'), recorded),
        () => drive(server.port, COUNTED, path('run'), recorded),
      ),
    );
  }

  if (only('clicks')) {
    const db = await target('clicks', work);
    const seed = await seedBasics(db);
    const server = await underCallgrind('clicks', main, serverEnv(db.url));
    const path = (run: string) => (i: number) =>
      `/c/${seed.campaign.slug}?fbclid=IwAR${run}x${i}&utm_campaign=bench&utm_source=fb&sub1=${i}`;
    const redirected = (s: number) => s === 302;
    results.push(
      await count(
        'clicks',
        server,
        () => drive(server.port, WARM, path('warm'), redirected),
        () => drive(server.port, COUNTED, path('run'), redirected),
      ),
    );
  }

  const bareCount = results[0]?.mainThread ?? 1;
  const lines = [
    `instructions per request, counted by callgrind over ${COUNTED} requests after warm-up, ${CONNECTIONS} callers`,
    '',
    '| scenario | thread that answers | × bare | all threads |',
    '|---|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${r.mainThread.toLocaleString('en')} | ${(r.mainThread / bareCount).toFixed(2)} | ${r.allThreads.toLocaleString('en')} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.has('json')) writeFileSync(args.get('json') as string, JSON.stringify(results, null, 2));
  agent.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
