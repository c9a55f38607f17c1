// The real process: configuration checked at boot, the embedded database created
// and kept across restarts, a graceful stop under load that loses no recorded
// answer, and structured logs on stdout.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setUpTracker } from '../durability/support.js';
import { tempDir } from '../helpers.js';
import { call, exitWithin, killAll, type Server, spawnMain, startServer } from './server.js';

const dirs: { remove(): void }[] = [];
function freshDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir.path;
}

after(async () => {
  await killAll();
  for (const dir of dirs) dir.remove();
});

const PASSWORD = 'correct horse battery';

async function signupOver(server: Server, email: string) {
  const res = await call<{ token: string; workspace: { id: string } }>(
    server,
    'POST',
    '/api/v1/auth/signup',
    { email, password: PASSWORD, workspaceName: 'Proc' },
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

test('a bad variable stops the process with a non-zero code and a message naming it', async () => {
  const cases: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'notaurl' }],
    ['ALLOW_SIGNUP', { ALLOW_SIGNUP: 'maybe' }],
    // Read only when the app is built, after the rest: reported the same way.
    ['SECRET_KEY', { SECRET_KEY: 'short' }],
  ];
  const dir = freshDir();
  await Promise.all(
    cases.map(async ([variable, env]) => {
      // A valid rest of the environment, so only the variable under test is wrong.
      const child = spawnMain({
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, `${variable}.db`)}`,
        LOG_LEVEL: 'info',
        ...env,
      });
      const exit = await exitWithin(child, 15_000);
      assert.equal(exit.code, 78, `${variable}: exit code (EX_CONFIG)`);
      assert.match(
        child.stderr(),
        new RegExp(`^clickback: bad configuration: .*\\b${variable}\\b`, 'm'),
        `${variable}: stderr`,
      );
      if (variable !== 'SECRET_KEY') {
        assert.ok(!existsSync(join(dir, `${variable}.db`)), `${variable}: no database opened`);
      }
    }),
  );
});

test('boot on an empty data dir creates the database; a restart keeps the data', async () => {
  const dbPath = join(freshDir(), 'nested', 'data', 'clickback.db');
  assert.ok(!existsSync(dbPath));
  const first = await startServer(dbPath);
  assert.ok(existsSync(dbPath), 'the database file was created');
  const health = await call(first, 'GET', '/healthz');
  assert.equal(health.status, 200);
  const email = `restart-${Date.now()}@example.com`;
  const created = await signupOver(first, email);
  const exit = await first.stop();
  assert.equal(exit.code, 0, first.stderr());

  const second = await startServer(dbPath);
  try {
    const login = await call<{ workspace: { id: string }; token: string }>(
      second,
      'POST',
      '/api/v1/auth/login',
      { email, password: PASSWORD },
    );
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.workspace.id, created.workspace.id);
    const me = await call(second, 'GET', '/api/v1/me', undefined, created.token);
    assert.equal(me.status, 200, 'the session from before the restart is still valid');
    const again = await call(second, 'POST', '/api/v1/auth/signup', {
      email,
      password: PASSWORD,
    });
    assert.equal(again.status, 409, 'the account is still there');
  } finally {
    assert.equal((await second.stop()).code, 0);
  }
});

type Outcome =
  | { kind: 'answer'; status: number; body: Record<string, unknown> }
  | { kind: 'refused'; code: string }
  | { kind: 'hang' }
  | { kind: 'error'; message: string };

/** One request; a network failure is "refused", an abort after `ms` is a hang. */
async function attempt(url: string, ms = 12_000): Promise<Outcome> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { kind: 'answer', status: res.status, body };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return { kind: 'hang' };
    if (e.name === 'TypeError' && e.cause) {
      return { kind: 'refused', code: e.cause.code ?? e.cause.message ?? 'unknown' };
    }
    return { kind: 'error', message: `${e.name}: ${e.message}` };
  }
}

/**
 * A form POST whose headers and first half of the body go out now; `finish()`
 * sends the rest and resolves with the answer.
 */
function slowPost(server: Server, path: string, body: string) {
  const half = Math.floor(body.length / 2);
  const req = request({
    host: '127.0.0.1',
    port: server.port,
    method: 'POST',
    path,
    agent: false,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
    },
  });
  const answer = new Promise<Outcome>((resolve) => {
    req.setTimeout(12_000, () => {
      resolve({ kind: 'hang' });
      req.destroy();
    });
    req.on('error', (error: Error & { code?: string }) =>
      resolve({ kind: 'refused', code: error.code ?? error.message }),
    );
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { raw: text };
        }
        resolve({ kind: 'answer', status: res.statusCode ?? 0, body: parsed });
      });
    });
  });
  const started = new Promise<void>((resolve) => {
    req.on('socket', (socket) => socket.once('connect', () => resolve()));
  });
  req.flushHeaders();
  req.write(body.slice(0, half));
  return {
    started,
    finish(): Promise<Outcome> {
      req.end(body.slice(half));
      return answer;
    },
  };
}

test('SIGTERM under load: exit 0, every recorded answer is in the database, nothing hangs', async (ctx) => {
  const dbPath = join(freshDir(), 'clickback.db');
  const server = await startServer(dbPath);
  const { token } = await signupOver(server, `shutdown-${Date.now()}@example.com`);
  const postback = await call<{ id: string; links: Record<string, string> }>(
    server,
    'POST',
    '/api/v1/postbacks',
    { name: '1win', network: '1win' },
    token,
  );
  assert.equal(postback.status, 201);
  const lead = await call<{ clickid: string }>(server, 'POST', '/api/v1/leads', {}, token);
  assert.equal(lead.status, 201);
  const { clickid } = lead.body;
  const depositLink = postback.body.links.deposit as string;
  assert.ok(depositLink.startsWith(server.base), depositLink);
  const url = (i: number) =>
    depositLink
      .replace('{sub1}', clickid)
      .replace('{amount}', '1')
      .replace('{event_id}', `tx-${i}`);

  // Three requests whose headers are in before the signal and whose bodies
  // come after it: the stop must wait for them, not cut them off.
  const { pathname } = new URL(depositLink);
  const slow = [0, 1, 2].map((i) =>
    slowPost(server, pathname, `sub1=${clickid}&amount=1&event_id=slow-${i}`),
  );
  await Promise.all(slow.map((s) => s.started));
  await new Promise((resolve) => setTimeout(resolve, 200));

  const TOTAL = 200;
  let answered = 0;
  let signalled = false;
  const sigterm = () => {
    if (signalled) return;
    signalled = true;
    server.process.kill('SIGTERM');
  };
  const outcomes = await Promise.all(
    Array.from({ length: TOTAL }, (_, i) =>
      attempt(url(i)).then((outcome) => {
        // Stop while most of the batch is still in flight.
        if (++answered >= 5) sigterm();
        return outcome;
      }),
    ),
  );
  sigterm();
  // Once the server refuses new connections it is stopping: now the slow
  // requests send the rest of their bodies and must still be answered.
  const deadline = Date.now() + 10_000;
  while ((await attempt(`${server.base}/healthz`, 2_000)).kind === 'answer') {
    assert.ok(Date.now() < deadline, 'the server kept accepting connections after SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const slowOutcomes = await Promise.all(slow.map((s) => s.finish()));
  for (const o of slowOutcomes) {
    assert.equal(o.kind, 'answer', `in-flight request cut off: ${JSON.stringify(o)}`);
    if (o.kind === 'answer') {
      assert.equal(o.status, 200, JSON.stringify(o.body));
      assert.equal(o.body.status, 'recorded');
    }
  }
  // Requests sent after the signal: answered (if they beat it), 503 or refused.
  const late = await Promise.all(
    Array.from({ length: 10 }, (_, i) => attempt(url(TOTAL + i), 12_000)),
  );
  const exit = await exitWithin(server, 15_000);
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${server.stderr()}`);

  const all = [...outcomes, ...late, ...slowOutcomes];
  const hangs = all.filter((o) => o.kind === 'hang').length;
  assert.equal(hangs, 0, 'no request hung');
  const unexpected = all.filter(
    (o) =>
      o.kind === 'error' ||
      (o.kind === 'answer' &&
        !(o.status === 503 || (o.status === 200 && o.body.status === 'recorded'))),
  );
  assert.deepEqual(unexpected, [], 'every answer is a 200 recorded, a 503 or a refusal');
  const recorded = all.filter((o) => o.kind === 'answer' && o.status === 200).length;
  const refusals = all.flatMap((o) =>
    o.kind === 'refused' ? [o.code] : o.kind === 'answer' && o.status === 503 ? ['503'] : [],
  );
  const tally = refusals.reduce<Record<string, number>>((acc, code) => {
    acc[code] = (acc[code] ?? 0) + 1;
    return acc;
  }, {});
  ctx.diagnostic(`recorded ${recorded} of ${all.length}; refused ${JSON.stringify(tally)}`);
  assert.ok(recorded >= 5, `at least the first answers were recorded (${recorded})`);

  // After the exit, a new request is refused at once.
  const afterExit = await attempt(`${server.base}/healthz`, 5_000);
  assert.equal(afterExit.kind, 'refused', JSON.stringify(afterExit));

  // Same database, new process: exactly the recorded answers were kept.
  const again = await startServer(dbPath);
  try {
    const stored = await call<{ events: { tid: string }[]; totals: { deposits: string } }>(
      again,
      'GET',
      `/api/v1/leads/${clickid}`,
      undefined,
      token,
    );
    assert.equal(stored.status, 200);
    const conversionIds = all
      .map((o) => (o.kind === 'answer' && o.status === 200 ? o.body : null))
      .filter((b) => b !== null)
      .map((b) => b.conversionId);
    assert.equal(new Set(conversionIds).size, recorded, 'distinct conversions');
    assert.equal(stored.body.events.length, recorded, 'events in the database = recorded answers');
    assert.equal(stored.body.totals.deposits, String(recorded), 'sum of 1 per recorded deposit');

    let logsRecorded = 0;
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: unknown[]; nextCursor: string | null } } =
        await call(
          again,
          'GET',
          `/api/v1/postback-logs?status=recorded&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
          undefined,
          token,
        );
      assert.equal(page.status, 200);
      logsRecorded += page.body.items.length;
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.equal(logsRecorded, recorded, 'recorded rows in the postback log = recorded answers');
  } finally {
    assert.equal((await again.stop()).code, 0);
  }
});

test('SIGTERM with clients stalled mid-request: they are cut off after a grace, exit 0, the database closed', async () => {
  const dbPath = join(freshDir(), 'clickback.db');
  const server = await startServer(dbPath);
  const { postbackToken } = await setUpTracker(server, 0);
  const path = `/api/postbacks/${postbackToken}/deposit`;
  const stalled = [
    // Headers never finished, and a body that stops after 8 of its 100 bytes.
    `GET ${path}?sub1=x HTTP/1.1\r\nHost: x\r\n`,
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nsub1=abc`,
  ].map(async (head) => {
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(head);
    const closed = once(socket, 'close');
    socket.on('error', () => {});
    return { socket, closed };
  });
  const sockets = await Promise.all(stalled);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const signalled = Date.now();
  server.process.kill('SIGTERM');
  const exit = await exitWithin(server, 9_000);
  const took = Date.now() - signalled;
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)} after ${took} ms\n${server.stderr()}`);
  assert.ok(took < 6_000, `the stop took ${took} ms`);
  for (const { closed } of sockets) await closed;
  // A clean close checkpoints the WAL into the database and removes it.
  assert.equal(
    existsSync(`${dbPath}-wal`),
    false,
    'the WAL is still there: the store was not closed',
  );
});

test('stdout carries structured JSON log lines', async () => {
  const server = await startServer(join(freshDir(), 'clickback.db'));
  await call(server, 'GET', '/healthz');
  // Two refused requests: each line names its own request.
  assert.equal((await call(server, 'GET', '/api/v1/campaigns')).status, 401);
  assert.equal((await call(server, 'GET', '/api/v1/campaigns')).status, 401);
  const exit = await server.stop();
  assert.equal(exit.code, 0);
  const lines = server
    .stdout()
    .split('\n')
    .filter((line) => line.trim() !== '');
  assert.ok(lines.length >= 3, server.stdout());
  const entries = lines.map((line) => {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; time?: unknown };
    assert.equal(typeof entry.level, 'number', line);
    assert.equal(typeof entry.time, 'number', line);
    return entry;
  });
  const ready = entries.find((e) => e.msg === 'clickback is ready');
  assert.ok(ready, 'the ready line is logged');
  assert.equal(ready.level, 30);
  assert.ok(
    entries.every((e) => typeof e.msg === 'string' && e.msg.length > 0),
    'every line has a message',
  );
  assert.ok(entries.some((e) => e.msg === 'stopped'));
  const refused = entries.filter((e) => e.msg === 'request refused') as Array<{ reqId?: unknown }>;
  assert.equal(refused.length, 2, server.stdout());
  // One message per line: a refusal's own text is its `reason`, not a second `msg`.
  for (const line of lines.filter((l) => l.includes('"request refused"'))) {
    assert.equal(line.match(/"msg":/g)?.length, 1, line);
    assert.match(line, /"reason":"/);
  }
  assert.ok(refused.every((e) => typeof e.reqId === 'string' && e.reqId !== ''));
  assert.notEqual(refused[0]?.reqId, refused[1]?.reqId);
});
