// Beyond capacity the server sheds load: 503 + Retry-After at once, no other
// 5xx, nothing hangs, memory stays flat, no acknowledged write is lost, and it
// answers normally once the burst is over — so the networks' retries land.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type ClientRequest, request } from 'node:http';
import { connect, type Socket } from 'node:net';
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

test('clients stalled mid-upload hold at most the body budget: the rest are shed with 503, memory stays bounded', async (ctx) => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const server = await startServer(join(dir.path, 'clickback.db'), { LOG_LEVEL: 'error' });
  const tracker = await setUpTracker(server, 1);
  const path = `/api/postbacks/${tracker.postbackToken}/deposit`;
  const rssBefore = rssBytes(server.process.pid) ?? 0;
  // 3,000 uploads of 63 KB each, of bodies announced at 65,000 bytes, then
  // silence: 190 MB if every one were held.
  const STALLED = 3_000;
  const SENT = 63_000;
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 65000\r\n\r\n`;
  const part = Buffer.from(`clickid=${'a'.repeat(SENT - 8)}`);
  const sockets: Socket[] = [];
  const answers: string[] = [];
  let shedCount = 0;
  try {
    for (let i = 0; i < STALLED; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const socket = connect(server.port, '127.0.0.1');
          sockets.push(socket);
          socket.on('error', () => undefined);
          let text = '';
          socket.on('data', (chunk) => {
            text += chunk;
            if (text.includes('\r\n\r\n')) answers.push(text);
          });
          await once(socket, 'connect');
          socket.write(head);
          socket.write(part);
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const grownMb = ((rssBytes(server.process.pid) ?? 0) - rssBefore) / MB;
    const shed = answers.filter(
      (a) => a.startsWith('HTTP/1.1 503') && /retry-after: 1/i.test(a) && a.includes('overloaded'),
    );
    ctx.diagnostic(`RSS grew by ${grownMb.toFixed(0)} MB; ${shed.length} of ${STALLED} shed`);
    assert.ok(shed.length >= STALLED - 600, `${shed.length} uploads shed`);
    assert.equal(answers.length, shed.length, 'every answer is a 503 overloaded');
    shedCount = shed.length;
    assert.ok(grownMb < 120, `the server's RSS grew by ${grownMb.toFixed(0)} MB`);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  // The budget comes back with the connections: a postback goes through.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const postback = await attempt(`${server.base}${deposit(tracker, 0).path}`, 3_000);
  assert.ok(isRecorded(postback), JSON.stringify(postback));
  // Every upload is in the postback log: refused (503) or cut off by its client (499).
  const tally: Record<string, number> = {};
  let cursor: string | null = null;
  do {
    const page: {
      status: number;
      body: {
        items: Array<{ httpStatus: number; error: string | null }>;
        nextCursor: string | null;
      };
    } = await call(
      server,
      'GET',
      `/api/v1/postback-logs?status=rejected&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      undefined,
      tracker.token,
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    for (const row of page.body.items) {
      const key = `${row.httpStatus} ${row.error?.split(':')[0]}`;
      tally[key] = (tally[key] ?? 0) + 1;
    }
    cursor = page.body.nextCursor;
  } while (cursor);
  assert.deepEqual(tally, {
    '503 overloaded': shedCount,
    '499 client_closed': STALLED - shedCount,
  });
  assert.equal((await server.stop()).code, 0);
});

test('bodies answered before they are read (415) give their budget back, on keep-alive connections that carry on', async () => {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const server = await startServer(join(dir.path, 'clickback.db'), { LOG_LEVEL: 'error' });
  const tracker = await setUpTracker(server, 1);
  // 1,500 × 60 KB, past the 32 MB budget if any of it were kept: each body
  // follows its headers a moment later, once the 415 is on its way.
  const body = 'a'.repeat(60_000);
  const head = `POST /api/v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tracker.token}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\n\r\n`;
  const next = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
  for (let i = 0; i < 1_500; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => undefined);
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk;
        });
        await once(socket, 'connect');
        socket.write(head);
        await new Promise((resolve) => setTimeout(resolve, 20));
        socket.write(body);
        socket.write(next);
        const deadline = Date.now() + 5_000;
        while (!text.includes('"ok":true') && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        socket.destroy();
        assert.match(text, /^HTTP\/1.1 415 /);
        assert.ok(text.includes('"ok":true'), 'the next request on the connection was answered');
      }),
    );
  }
  assert.ok(server.running(), server.stderr());
  const postback = await attempt(`${server.base}${deposit(tracker, 0).path}`, 3_000);
  assert.ok(isRecorded(postback), JSON.stringify(postback));
  const form = await fetch(`${server.base}/api/postbacks/${tracker.postbackToken}/deposit`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `${deposit(tracker, 1).path.split('?')[1]}&pad=${'p'.repeat(50_000)}`,
  });
  assert.equal(form.status, 200, await form.text());
  assert.equal((await server.stop()).code, 0);
});
