// Beyond capacity the server sheds load: 503 + Retry-After at once, no other
// 5xx, nothing hangs, memory stays flat, no acknowledged write is lost, and it
// answers normally once the burst is over — so the networks' retries land.
import assert from 'node:assert/strict';
import { type ClientRequest, request } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { funnel, signup, tempDir, testApp } from '../helpers.js';
import { call, killAll, startServer } from '../process/server.js';
import { attempt, deposit, type Outcome, rssBytes, setUpTracker, storedEvents } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const BURST = 300;
const MB = 1024 * 1024;

function isShed(o: Outcome): boolean {
  return (
    o.kind === 'answer' &&
    o.status === 503 &&
    o.headers.get('retry-after') === '1' &&
    (o.body.error as { code?: string } | undefined)?.code === 'overloaded'
  );
}

const isRecorded = (o: Outcome) =>
  o.kind === 'answer' && o.status === 200 && o.body.status === 'recorded';

test('real process, MAX_IN_FLIGHT=4, 300 postbacks at once: shed with 503, nothing lost, memory flat', async (ctx) => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const server = await startServer(join(dir.path, 'clickback.db'), {
    MAX_IN_FLIGHT: '4',
    LOG_LEVEL: 'error',
  });
  const tracker = await setUpTracker(server, 20);
  const pid = server.process.pid;
  const rssBefore = rssBytes(pid);
  let rssPeak = rssBefore ?? 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssBytes(pid) ?? 0);
  }, 20);

  const started = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: BURST }, (_, i) => attempt(`${server.base}${deposit(tracker, i).path}`)),
  );
  const elapsed = Date.now() - started;
  clearInterval(sampler);
  const rssAfter = rssBytes(pid);

  const shed = outcomes.filter(isShed).length;
  const recorded = outcomes.filter(isRecorded).length;
  const other = outcomes.filter((o) => !isShed(o) && !isRecorded(o));
  ctx.diagnostic(
    `${recorded} recorded, ${shed} shed in ${elapsed} ms; RSS ${rssBefore && Math.round(rssBefore / MB)} → peak ${Math.round(rssPeak / MB)} → ${rssAfter && Math.round(rssAfter / MB)} MB`,
  );
  assert.deepEqual(
    other
      .slice(0, 5)
      .map((o) => (o.kind === 'answer' ? `${o.status} ${JSON.stringify(o.body)}` : o)),
    [],
    'every request is answered: 200 recorded or 503 overloaded with Retry-After (no hang, no other 5xx)',
  );
  assert.ok(shed > 0, 'some requests were shed');
  assert.ok(recorded > 0, 'some requests got through');
  assert.ok(elapsed < 10_000, `the burst settled in ${elapsed} ms`);
  if (rssBefore !== null && rssAfter !== null) {
    assert.ok(rssPeak < 300 * MB, `peak RSS ${Math.round(rssPeak / MB)} MB`);
    assert.ok(rssAfter < 300 * MB, `RSS after ${Math.round(rssAfter / MB)} MB`);
  }

  // Exactly the acknowledged writes are in the database: shed requests wrote nothing.
  const afterBurst = new Set((await storedEvents(server, tracker)).map((e) => e.tid));
  const expected = new Set(
    outcomes.flatMap((o, i) => (isRecorded(o) ? [deposit(tracker, i).tid] : [])),
  );
  assert.deepEqual(
    [...expected].filter((tid) => !afterBurst.has(tid)),
    [],
    'acknowledged, lost',
  );
  assert.equal(afterBurst.size, expected.size, 'nothing shed was written');

  // Over: the server answers normally, and the shed postbacks, retried as a
  // network would, are all recorded.
  assert.equal((await call(server, 'GET', '/healthz')).status, 200);
  const retry = outcomes.flatMap((o, i) => (isShed(o) ? [i] : []));
  const workers = Array.from({ length: 3 }, async () => {
    for (let i = retry.shift(); i !== undefined; i = retry.shift()) {
      const o = await attempt(`${server.base}${deposit(tracker, i).path}`);
      assert.ok(isRecorded(o), `retry of ${i}: ${JSON.stringify(o)}`);
    }
  });
  await Promise.all(workers);
  const final = await storedEvents(server, tracker);
  assert.equal(final.length, BURST, 'every postback of the burst is recorded once');
  const exit = await server.stop();
  assert.equal(exit.code, 0, server.stderr());
});

test('app.inject, MAX_IN_FLIGHT=4: a burst is shed, refusals free their slot, the count matches', async () => {
  const t = await testApp({ MAX_IN_FLIGHT: '4' });
  cleanups.push(() => t.close());
  const { auth } = await signup(t.app);
  const { postback, clickid } = await funnel(t.app, auth, '1win');
  const base = `/api/postbacks/${postback.token}`;
  const conversions = await t.countRows('conversions');

  const answers = await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      t.app.inject({
        method: 'GET',
        url: `${base}/deposit?clickid=${clickid}&amount=1&tid=i-${i}`,
      }),
    ),
  );
  const shed = answers.filter((a) => a.statusCode === 503);
  const ok = answers.filter((a) => a.statusCode === 200 && a.json().status === 'recorded');
  assert.equal(shed.length + ok.length, BURST, 'every answer is 200 recorded or 503');
  assert.ok(shed.length > 0 && ok.length > 0, `${ok.length} recorded, ${shed.length} shed`);
  for (const a of shed) {
    assert.equal(a.headers['retry-after'], '1');
    assert.equal(a.json().error.code, 'overloaded');
  }
  assert.equal(await t.countRows('conversions'), conversions + ok.length, 'recorded = counted');

  // Every kind of refusal gives its slot back: after them, 4 at once all pass.
  const refusals = [
    { method: 'GET' as const, url: `${base}/deposit?clickid=${clickid}&amount=%ZZ` },
    { method: 'GET' as const, url: `${base}/%E2%82` },
    { method: 'GET' as const, url: '/api/postbacks/unknowntoken1/deposit' },
    { method: 'GET' as const, url: '/no/such/route' },
    { method: 'GET' as const, url: '/api/v1/me' },
    { method: 'POST' as const, url: `${base}/deposit`, payload: 'x'.repeat(70_000) },
    {
      method: 'POST' as const,
      url: `${base}/deposit`,
      headers: { 'content-type': 'json' },
      payload: 'a=1',
    },
    {
      method: 'POST' as const,
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{',
    },
  ];
  for (let round = 0; round < 2; round++) {
    for (const r of refusals) {
      const res = await t.app.inject(r);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${r.url}: ${res.statusCode}`);
    }
  }
  const four = await Promise.all(
    Array.from({ length: 4 }, () => t.app.inject({ method: 'GET', url: '/healthz' })),
  );
  assert.deepEqual(
    four.map((a) => a.statusCode),
    [200, 200, 200, 200],
    'no slot leaked',
  );
});

test('clients stalled mid-body do not lock everyone else out', {}, async () => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const server = await startServer(join(dir.path, 'clickback.db'), {
    MAX_IN_FLIGHT: '4',
    LOG_LEVEL: 'error',
  });
  const tracker = await setUpTracker(server, 1);
  const stalled: ClientRequest[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const req = request({
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: `/api/postbacks/${tracker.postbackToken}/deposit`,
        agent: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': 100 },
      });
      req.on('error', () => undefined);
      req.flushHeaders();
      req.write('clickid=');
      stalled.push(req);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const health = await attempt(`${server.base}/healthz`, 3_000);
    assert.ok(health.kind === 'answer' && health.status === 200, JSON.stringify(health));
    const postback = await attempt(`${server.base}${deposit(tracker, 0).path}`, 3_000);
    assert.ok(isRecorded(postback), JSON.stringify(postback));
  } finally {
    for (const req of stalled) req.destroy();
    await server.stop();
  }
});
