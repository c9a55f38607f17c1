// The bench's load generators (bench/load.ts) against a local server that
// records every request: each sends what its scenario says, counts the answers
// the way the bench's database check relies on, and reports errors. wrk is
// Debian's package: without it the wrk cases skip, except under CI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type LoadGenerator,
  loadGenerator,
  reapedChildrenCpuUs,
  wrkInstalled,
} from '../../bench/load.js';

const CONNECTIONS = 4;
let server: Server;
let url: string;
let paths: string[] = [];
let dir: string;
let clickidFile: string;
/** Transaction ids answered `recorded`; a repeat is answered `duplicate`. */
const seenTids = new Set<string>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clickback-load-'));
  clickidFile = join(dir, 'clickids.txt');
  writeFileSync(clickidFile, 'AAAAAAAAAAAA\nBBBBBBBBBBBB\nCCCCCCCCCCCC\n');
  server = createServer((req, res) => {
    const path = req.url ?? '';
    paths.push(path);
    const u = new URL(path, 'http://x');
    if (u.pathname.startsWith('/c/')) {
      res.writeHead(302, { location: 'https://example.com/', 'content-length': '0' });
      res.end();
    } else if (u.pathname === '/api/postbacks/tok/deposit') {
      const tid = u.searchParams.get('tid') ?? '';
      const status = seenTids.has(tid) ? 'duplicate' : 'recorded';
      seenTids.add(tid);
      const body = JSON.stringify({ status });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    } else if (u.pathname === '/refused') {
      res.writeHead(400, { 'content-length': '0' });
      res.end();
    } else {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function cases(generator: () => LoadGenerator) {
  test('a plain run: the requests the server saw, their rate and latency', async () => {
    paths = [];
    const out = await generator().run({
      url: `${url}/`,
      seconds: 1,
      connections: CONNECTIONS,
      scenario: null,
      args: [],
    });
    assert.ok(out.requests > 100, `only ${out.requests} requests`);
    // Requests still in flight when the run stopped reached the server unanswered.
    assert.ok(paths.length >= out.requests && paths.length - out.requests <= CONNECTIONS);
    assert.ok(out.rps > 0 && Number.isFinite(out.p50Ms) && Number.isFinite(out.p99Ms));
    assert.ok(out.p99Ms >= out.p50Ms);
    assert.equal(out.errors, 0);
    // The generator's own CPU: something, and no more than all cores for the run.
    assert.ok(out.cpuUs !== null && out.cpuUs > 0, `cpuUs ${out.cpuUs}`);
    assert.ok(out.cpuUs <= 1.5 * cpus().length * 1e6, `cpuUs ${out.cpuUs}`);
  });

  test('answers of 400 or more are errors', async () => {
    const out = await generator().run({
      url: `${url}/refused`,
      seconds: 1,
      connections: CONNECTIONS,
      scenario: null,
      args: [],
    });
    assert.ok(out.requests > 0);
    assert.equal(out.errors, out.requests);
  });

  test('clicks: every click different, 302s counted as ok', async () => {
    paths = [];
    const out = await generator().run({
      url,
      seconds: 1,
      connections: CONNECTIONS,
      scenario: 'clicks',
      args: ['camp'],
    });
    assert.ok(paths.every((p) => p.startsWith('/c/camp?fbclid=IwAR')));
    assert.equal(new Set(paths).size, paths.length, 'a click was sent twice');
    assert.equal(out.result.ok, out.requests);
    assert.equal(out.result.other ?? 0, 0);
    assert.equal(out.errors, 0);
  });

  test('postbacks with 20% duplicates: exact repeats, counted by the answer', async () => {
    paths = [];
    seenTids.clear();
    const out = await generator().run({
      url,
      seconds: 1,
      connections: CONNECTIONS,
      scenario: 'postbacks',
      args: ['tok', '0.2', clickidFile, 'test'],
    });
    const recorded = out.result.ok ?? 0;
    const duplicate = out.result.duplicate ?? 0;
    assert.equal(recorded + duplicate, out.requests);
    assert.equal(out.result.other ?? 0, 0);
    const share = duplicate / out.requests;
    assert.ok(share > 0.1 && share < 0.3, `duplicate share ${share}`);
    const first = new Set<string>();
    for (const p of paths) {
      const u = new URL(p, 'http://x');
      assert.equal(u.pathname, '/api/postbacks/tok/deposit');
      assert.match(u.searchParams.get('clickid') ?? '', /^(A|B|C){12}$/);
      assert.match(u.searchParams.get('amount') ?? '', /^\d+\.25$/);
      assert.match(u.searchParams.get('tid') ?? '', /^test-\d+-\d+$/);
      first.add(p);
    }
    // Every transaction id stands for one path: a duplicate repeats a postback exactly.
    assert.equal(first.size, seenTids.size);
  });
}

describe('autocannon', () => cases(() => loadGenerator('autocannon')));

const wrkMissing = !wrkInstalled() && !process.env.CI;
describe(
  'wrk',
  { skip: wrkMissing ? 'wrk is not installed (apt-get install wrk); CI fails instead' : false },
  () => cases(() => loadGenerator('wrk')),
);

test("a child's CPU is read once it has exited, and this process's own is not counted", () => {
  const before = reapedChildrenCpuUs();
  assert.notEqual(before, null);
  const ownBefore = process.cpuUsage();
  // About 300 ms of CPU in a child, while this process only waits for it.
  // User and system time both: each cpuUsage() is a system call, and under
  // load the system time of a loop bounded by user time alone reached 1.9 s.
  const child = spawnSync(process.execPath, [
    '-e',
    'const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; }; const end = cpu() + 300000; while (cpu() < end);',
  ]);
  assert.equal(child.status, 0);
  const spent = (reapedChildrenCpuUs() as number) - (before as number);
  const own = process.cpuUsage(ownBefore);
  assert.ok(spent >= 280_000 && spent < 2_000_000, `the child spent ${spent} µs`);
  assert.ok(own.user + own.system < 150_000, 'this process was busy itself');
});

test('no wrk asked for by name when it is missing, and no unknown generator', () => {
  assert.throws(() => loadGenerator('ab'), /expected wrk or autocannon/);
  if (!wrkInstalled()) assert.throws(() => loadGenerator('wrk'), /not installed/);
  assert.equal(loadGenerator(undefined).name, wrkInstalled() ? 'wrk' : 'autocannon');
});
