// Forwarding in the real process: an event whose delivery is failing survives
// kill -9 and arrives after the restart, once per event_id; and a destination
// that never answers does not slow the postbacks that feed it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FakeDestination, fakeDestination } from '../fake-destination.js';
import { tempDir } from '../helpers.js';
import { call, exitWithin, killAll, type Server, startServer } from './server.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  await killAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Funnel {
  token: string;
  postbackToken: string;
  campaignId: string;
  slug: string;
}

async function funnel(server: Server, pixel: string, fb: FakeDestination | null): Promise<Funnel> {
  const signup = await call<{ token: string }>(server, 'POST', '/api/v1/auth/signup', {
    email: `fwd-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`,
    password: 'correct horse battery',
  });
  const token = signup.body.token;
  const campaign = await call<{ id: string; slug: string }>(
    server,
    'POST',
    '/api/v1/campaigns',
    { name: 'C', destinationUrl: 'https://t.me/bot?start={{tracker.clickid}}' },
    token,
  );
  if (fb) {
    const source = await call(
      server,
      'POST',
      `/api/v1/campaigns/${campaign.body.id}/sources`,
      { type: 'facebook', name: 'Pixel', pixelId: pixel, accessToken: 'EAAB-process-test-token' },
      token,
    );
    assert.equal(source.status, 201, JSON.stringify(source.body));
  }
  const postback = await call<{ token: string }>(
    server,
    'POST',
    '/api/v1/postbacks',
    { name: 'custom', network: 'custom' },
    token,
  );
  return {
    token,
    postbackToken: postback.body.token,
    campaignId: campaign.body.id,
    slug: campaign.body.slug,
  };
}

async function click(server: Server, slug: string): Promise<string> {
  const res = await fetch(`${server.base}/c/${slug}`, { redirect: 'manual' });
  await res.body?.cancel();
  return new URL(res.headers.get('location') as string).searchParams.get('start') as string;
}

async function postback(server: Server, f: Funnel, event: string, query: Record<string, string>) {
  const started = performance.now();
  const res = await fetch(
    `${server.base}/api/postbacks/${f.postbackToken}/${event}?${new URLSearchParams(query)}`,
  );
  const body = (await res.json()) as { status: string };
  assert.equal(res.status, 200);
  return { status: body.status, ms: performance.now() - started };
}

const eventIds = (body: string) =>
  (JSON.parse(body) as { data: Array<{ event_id: string }> }).data.map((e) => e.event_id);

test('kill -9 while deliveries are failing: after the restart each event arrives, once per event_id', async () => {
  const fb = await fakeDestination();
  cleanups.push(() => fb.close());
  fb.fallback = { status: 500, body: '{"error":{"message":"down"}}' };
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const env = {
    FACEBOOK_GRAPH_URL: fb.url,
    FORWARD_RETRY_BASE_MS: '200',
    FORWARD_POLL_MS: '50',
    LOG_LEVEL: 'warn',
  };
  const db = join(dir.path, 'fwd.db');
  const first = await startServer(db, env);
  const f = await funnel(first, '55555', fb);
  const clickid = await click(first, f.slug);
  assert.equal((await postback(first, f, 'registration', { clickid })).status, 'recorded');
  assert.equal(
    (await postback(first, f, 'first_deposit', { clickid, amount: '10', currency: 'USD' })).status,
    'recorded',
  );
  // Click (Lead), registration and deposit have each failed at least once.
  const seen = () => new Set(fb.received.flatMap((r) => eventIds(r.body))).size;
  for (let waited = 0; seen() < 3 || fb.received.length < 2; waited += 20) {
    assert.ok(waited < 10_000, `three events tried, twice in all; saw ${fb.received.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  first.process.kill('SIGKILL');
  await exitWithin(first, 5_000);
  // Each event failed at least once, alone or batched with the others.
  const failedBefore = seen();

  fb.fallback = { status: 200, body: '{"events_received":1}' };
  const second = await startServer(db, env);
  const deadline = Date.now() + 15_000;
  const delivered = () =>
    new Set(fb.received.filter((r) => r.status === 200).flatMap((r) => eventIds(r.body)));
  while (delivered().size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // Long enough for any wrongful second send to show up.
  await new Promise((r) => setTimeout(r, 1_000));

  const ok = fb.received.filter((r) => r.status === 200).flatMap((r) => eventIds(r.body));
  assert.equal(ok.length, 3, `one successful send per event, got ${ok.join(', ')}`);
  assert.equal(new Set(ok).size, 3);
  const all = new Set(fb.received.flatMap((r) => eventIds(r.body)));
  assert.deepEqual(all, new Set(ok), 'retries reuse the event ids');
  assert.equal(failedBefore, 3);

  const logs = await call<{ items: Array<{ status: string }> }>(
    second,
    'GET',
    '/api/v1/deliveries?status=delivered',
    undefined,
    f.token,
  );
  assert.equal(logs.body.items.length, 3);
  assert.equal((await second.stop()).code, 0);
});

test("a second server on the same file leaves the first one's attempts alone; a restart takes over a killed one's at once", async () => {
  const fb = await fakeDestination();
  cleanups.push(() => fb.close());
  fb.fallback = 'hang';
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  // Leases last two minutes: anything sent again sooner was freed on purpose.
  const env = {
    FACEBOOK_GRAPH_URL: fb.url,
    FORWARD_TIMEOUT_MS: '30000',
    FORWARD_POLL_MS: '50',
    LOG_LEVEL: 'warn',
  };
  const db = join(dir.path, 'two.db');
  const first = await startServer(db, env);
  const f = await funnel(first, '77777', fb);
  const clickid = await click(first, f.slug);
  assert.equal((await postback(first, f, 'registration', { clickid })).status, 'recorded');
  await fb.waitFor(1);
  await new Promise((r) => setTimeout(r, 300));
  const hanging = new Set(fb.received.flatMap((r) => eventIds(r.body)));
  assert.ok(hanging.size > 0);

  const second = await startServer(db, env);
  // The second server polls every 50 ms: long enough for it to take the rows.
  await new Promise((r) => setTimeout(r, 1_500));
  const sent = fb.received.flatMap((r) => eventIds(r.body));
  assert.equal(
    sent.length,
    new Set(sent).size,
    `no event sent twice while the first attempt hangs: ${sent.join(', ')}`,
  );

  first.process.kill('SIGKILL');
  second.process.kill('SIGKILL');
  await exitWithin(first, 5_000);
  await exitWithin(second, 5_000);
  fb.fallback = { status: 200, body: '{"events_received":1}' };
  const started = Date.now();
  const third = await startServer(db, env);
  const delivered = () =>
    fb.received.filter((r) => r.status === 200).flatMap((r) => eventIds(r.body));
  while (delivered().length < 2 && Date.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(
    new Set(delivered()),
    new Set(fb.received.flatMap((r) => eventIds(r.body))),
    'every event tried is delivered after the restart, long before its lease ran out',
  );
  assert.equal(
    delivered().length,
    2,
    `the lead and the registration, once each: ${delivered().join(', ')}`,
  );
  assert.equal((await third.stop()).code, 0);
});

test('a destination that never answers does not slow the postbacks', async (t) => {
  const dead = await fakeDestination();
  cleanups.push(() => dead.close());
  dead.fallback = 'hang';
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  const server = await startServer(join(dir.path, 'dead.db'), {
    FACEBOOK_GRAPH_URL: dead.url,
    FORWARD_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'warn',
  });
  const forwarded = await funnel(server, '66666', dead);
  const plain = await funnel(server, '0', null);
  const LEADS = 150;
  const CONCURRENCY = 16;

  const measure = async (f: Funnel) => {
    const clickids: string[] = [];
    for (let i = 0; i < LEADS; i++) clickids.push(await click(server, f.slug));
    const times: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < clickids.length) {
          const clickid = clickids[next++] as string;
          const r = await postback(server, f, 'registration', { clickid });
          assert.equal(r.status, 'recorded');
          times.push(r.ms);
        }
      }),
    );
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
    return { p50: at(0.5), p99: at(0.99) };
  };

  const baseline = await measure(plain);
  const withDead = await measure(forwarded);
  t.diagnostic(
    `postback latency, ${LEADS} at ${CONCURRENCY} concurrent: no destination p50 ${baseline.p50.toFixed(1)} ms p99 ${baseline.p99.toFixed(1)} ms; ` +
      `dead destination (10 s timeout) p50 ${withDead.p50.toFixed(1)} ms p99 ${withDead.p99.toFixed(1)} ms; ` +
      `${dead.received.length} requests hanging at it`,
  );
  assert.ok(dead.received.length > 0, 'the worker did try the dead destination');
  // A forwarder on the request path would wait for the 10 s timeout.
  assert.ok(withDead.p99 < 1_000, `p99 ${withDead.p99} ms with a dead destination`);
  assert.ok(
    withDead.p50 < Math.max(50, baseline.p50 * 5),
    `p50 ${withDead.p50} ms vs ${baseline.p50} ms without`,
  );
  server.process.kill('SIGKILL');
});
