// PostgreSQL goes away under load and comes back, three times: down (its port
// closed: connections refused), unreachable (connections accepted and never
// answered, as behind a dead network path), and stalled (open connections
// too go silent for good, as when a firewall forgets them), then once more
// stalled while the pool idles. A proxy between the real server and the real
// database plays each. Meanwhile the real process answers every deposit 200
// or, within its connect and statement timeouts, 503 with Retry-After, and a
// click 503 with no redirect; it never hangs or drops a connection, and once
// the database is back it answers 200 again. Every deposit sent again after a
// 503 is then stored exactly once, with its amount.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { postgresAvailable, TEST_DATABASE_URL } from '../pg.js';
import { PgProxy, type ProxyMode } from '../pg-proxy.js';
import { call, killAll, startServer } from '../process/server.js';
import {
  attempt,
  deposit,
  type Outcome,
  postgresSchema,
  retryRefusedThenCheckStored,
  setUpTracker,
} from './support.js';

const LEADS = 20;
const CONCURRENCY = 8;
const CONNECT_TIMEOUT_MS = 500;
const QUERY_TIMEOUT_MS = 500;
/** A 503 must come within a query's and a connection's timeout and this much more. */
const SLACK_MS = 1_500;
const PHASES: Array<[ProxyMode, number]> = [
  ['pass', 800],
  ['refuse', 1_500],
  ['pass', 1_200],
  ['blackhole', 1_500],
  ['pass', 1_200],
  ['stall', 3_500],
  ['pass', 1_500],
];

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const pgAvailable = await postgresAvailable();

test('PostgreSQL down, unreachable, then stalled, under load: 503 within the timeouts, 200 once it is back; every deposit stored once', {
  skip: !pgAvailable && 'PostgreSQL unreachable',
}, async (ctx) => {
  const { schema, admin, url: schemaUrl } = await postgresSchema(cleanups);
  const proxy = await PgProxy.start(TEST_DATABASE_URL);
  cleanups.push(() => proxy.close());
  const url = schemaUrl(proxy.url(TEST_DATABASE_URL));

  const server = await startServer(null, {
    LOG_LEVEL: 'warn',
    DATABASE_URL: url.toString(),
    DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
  });
  const tracker = await setUpTracker(server, LEADS);
  const campaign = await call<{ slug: string }>(
    server,
    'POST',
    '/api/v1/campaigns',
    { name: 'Outage', destinationUrl: 'https://example.com/?c={clickid}' },
    tracker.token,
  );
  assert.equal(campaign.status, 201, JSON.stringify(campaign.body));

  interface Fired {
    tid: string;
    mode: ProxyMode;
    phase: number;
    ms: number;
    outcome: Outcome;
  }
  const sent = new Map<string, ReturnType<typeof deposit>>();
  const fired: Fired[] = [];
  const clicks: Array<{ mode: ProxyMode; status: number; location: string | null }> = [];
  let phase = 0;
  let running = true;
  let next = 0;
  const loop = async () => {
    while (running) {
      const d = deposit(tracker, next++);
      sent.set(d.tid, d);
      const mode = proxy.mode;
      const at = phase;
      const started = performance.now();
      const outcome = await attempt(`${server.base}${d.path}`, 5_000);
      fired.push({ tid: d.tid, mode, phase: at, ms: performance.now() - started, outcome });
    }
  };
  const clicker = async () => {
    while (running) {
      const mode = proxy.mode;
      try {
        const res = await fetch(`${server.base}/c/${campaign.body.slug}?fbclid=outage`, {
          redirect: 'manual',
          signal: AbortSignal.timeout(5_000),
        });
        await res.body?.cancel();
        clicks.push({ mode, status: res.status, location: res.headers.get('location') });
      } catch (error) {
        clicks.push({ mode, status: 0, location: `no answer: ${(error as Error).message}` });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const load = [...Array.from({ length: CONCURRENCY }, loop), clicker()];
  try {
    for (const [i, [mode, ms]] of PHASES.entries()) {
      await proxy.set(mode);
      phase = i;
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  } finally {
    running = false;
    await Promise.all(load);
  }

  const refused: string[] = [];
  /** tid → the conversionId a 200 answered. */
  const answered = new Map<string, string>();
  const unexpected: string[] = [];
  const slow: string[] = [];
  const byMode = { pass: 0, refuse: 0, blackhole: 0, stall: 0 };
  for (const f of fired) {
    const o = f.outcome;
    if (o.kind !== 'answer') {
      unexpected.push(`${f.tid} (${f.mode}): ${JSON.stringify(o)}`);
    } else if (
      o.status === 200 &&
      (o.body.status === 'recorded' || o.body.status === 'duplicate')
    ) {
      // A first call can only be a duplicate if its COMMIT went through with
      // the answer lost; nothing here cuts a connection mid-commit but the switches.
      answered.set(f.tid, String(o.body.conversionId));
    } else if (o.status === 503) {
      assert.equal(o.headers.get('retry-after'), '1', `${f.tid}: Retry-After`);
      assert.equal((o.body.error as { code?: string } | undefined)?.code, 'storage_unavailable');
      refused.push(f.tid);
      byMode[f.mode]++;
      if (f.ms > QUERY_TIMEOUT_MS + CONNECT_TIMEOUT_MS + SLACK_MS) {
        slow.push(`${f.tid} (${f.mode}): ${Math.round(f.ms)} ms`);
      }
    } else {
      unexpected.push(`${f.tid} (${f.mode}): ${o.status} ${JSON.stringify(o.body)}`);
    }
  }
  ctx.diagnostic(
    `${fired.length} deposits, ${refused.length} answered 503 (database down: ${byMode.refuse}, unreachable: ${byMode.blackhole}, stalled: ${byMode.stall}, back: ${byMode.pass}); ${clicks.length} clicks`,
  );
  assert.deepEqual(unexpected.slice(0, 5), [], `every answer is 200 or 503\n${server.stderr()}`);
  assert.deepEqual(slow.slice(0, 5), [], 'a 503 comes within the timeouts');
  assert.ok(server.running(), 'the server is still up');
  assert.ok(byMode.refuse > 0, 'deposits were refused while the database was down');
  assert.ok(byMode.blackhole > 0, 'deposits were refused while the database was unreachable');
  assert.ok(byMode.stall > 0, 'deposits were refused while the network stalled');

  // Back: the last phase's second half is answered 200 throughout.
  const last = PHASES.length - 1;
  const settled = fired.filter((f) => f.phase === last).slice(-CONCURRENCY * 10);
  assert.ok(settled.length > 0, 'deposits ran once the database was back');
  for (const f of settled) {
    assert.ok(f.outcome.kind === 'answer' && f.outcome.status === 200, `${f.tid} after recovery`);
  }

  // Clicks: a redirect only when the click is stored, 503 without one otherwise.
  for (const c of clicks) {
    if (c.status === 302) assert.match(c.location ?? '', /^https:\/\/example\.com\/\?c=/);
    else {
      assert.equal(c.status, 503, `a click answered ${c.status}`);
      assert.equal(c.location, null, 'no redirect for a click not stored');
    }
  }
  assert.ok(
    clicks.some((c) => c.mode !== 'pass' && c.status === 503),
    'a click was refused while the database was away',
  );

  // Stalled while idle: the pool's waiting connections go silent for good.
  // Each costs at most one request a 503 (a statement left unanswered), and is
  // then dropped instead of being handed out again.
  await proxy.set('stall');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await proxy.set('pass');
  const afterIdleStall: number[] = [];
  for (let i = 0; i < 30; i++) {
    const d = deposit(tracker, next++);
    sent.set(d.tid, d);
    const o = await attempt(`${server.base}${d.path}`, 5_000);
    assert.ok(o.kind === 'answer', `${d.tid} after an idle stall: ${JSON.stringify(o)}`);
    afterIdleStall.push(o.status);
    if (o.status === 503) refused.push(d.tid);
    else assert.equal(o.status, 200, `${d.tid} after an idle stall: ${JSON.stringify(o.body)}`);
  }
  ctx.diagnostic(`after an idle stall: ${afterIdleStall.join(' ')}`);
  assert.ok(
    afterIdleStall.slice(-10).every((status) => status === 200),
    'the stalled connections are dropped, not handed out again',
  );

  await retryRefusedThenCheckStored({
    server,
    tracker,
    admin,
    schema,
    sent,
    refused,
    answered,
  });

  const exit = await server.stop();
  assert.equal(exit.code, 0, `the server stopped cleanly\n${server.stderr()}`);
});
