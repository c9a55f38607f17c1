// Log retention through the app (the engine TEST_ENGINE names) and its
// schedule against a real SQLite file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { LogRetention } from '../../src/store/log-retention.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { api, signup, type TestApp, tempDir, testApp, workspaceWithPostback } from '../helpers.js';

const DAY = 86_400_000;

/** A workspace with a campaign, a custom postback and one lead. */
async function setup(t: TestApp) {
  const account = await signup(t.app);
  const campaign = await api<{ slug: string }>(t.app, account.auth, 'POST', '/api/v1/campaigns', {
    name: 'C',
    destinationUrl: 'https://t.me/bot?start={{tracker.clickid}}',
  });
  const postback = await api<{ token: string }>(t.app, account.auth, 'POST', '/api/v1/postbacks', {
    name: 'custom',
    network: 'custom',
  });
  const click = await t.app.inject({ method: 'GET', url: `/c/${campaign.body.slug}` });
  const clickid = new URL(click.headers.location as string).searchParams.get('start') as string;
  const deposit = async (tid: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/postbacks/${postback.body.token}/deposit?clickid=${clickid}&amount=10.25&tid=${tid}`,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as { status: string }).status, 'recorded');
  };
  const logs = async () =>
    (
      await api<{ items: Array<{ url: string }> }>(
        t.app,
        await auth(),
        'GET',
        '/api/v1/postback-logs',
      )
    ).body.items.map((i) => new URL(i.url, 'http://x').searchParams.get('tid'));
  const lead = async () =>
    (
      await api<{ events: unknown[]; totals: { deposits: string } }>(
        t.app,
        await auth(),
        'GET',
        `/api/v1/leads/${clickid}`,
      )
    ).body;
  // The clock moves past the session's life: each read logs in again.
  const auth = async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: account.email, password: 'correct horse battery' },
    });
    assert.equal(res.statusCode, 200, res.body);
    return { authorization: `Bearer ${(res.json() as { token: string }).token}` };
  };
  return { deposit, logs, lead };
}

test('log rows older than LOG_RETENTION_DAYS are deleted; the deposits they recorded stay counted', async () => {
  const t = await testApp({ LOG_RETENTION_DAYS: '30' });
  try {
    const s = await setup(t);
    for (const tid of ['a', 'b', 'c']) await s.deposit(tid);
    t.clock.advance(20 * DAY);
    await s.deposit('d');
    t.clock.advance(11 * DAY);
    assert.deepEqual(await t.app.retention.runOnce(), { postbackLogs: 3, deliveries: 0 });
    assert.deepEqual(await s.logs(), ['d']);
    const lead = await s.lead();
    assert.equal(lead.events.length, 4);
    assert.equal(lead.totals.deposits, '41');
    assert.deepEqual(await t.app.retention.runOnce(), { postbackLogs: 0, deliveries: 0 });
  } finally {
    await t.close();
  }
});

test('LOG_RETENTION_DAYS=0 keeps every row', async () => {
  const t = await testApp({ LOG_RETENTION_DAYS: '0' });
  try {
    const s = await setup(t);
    await s.deposit('a');
    t.clock.advance(10_000 * DAY);
    assert.deepEqual(await t.app.retention.runOnce(), { postbackLogs: 0, deliveries: 0 });
    assert.deepEqual(await s.logs(), ['a']);
  } finally {
    await t.close();
  }
});

test('LOG_RETENTION_DAYS: 90 by default; a bad value stops the start naming it', () => {
  const base = { DATABASE_URL: 'sqlite:x.db' };
  assert.equal(loadConfig(base).logRetentionDays, 90);
  assert.equal(loadConfig({ ...base, LOG_RETENTION_DAYS: '7' }).logRetentionDays, 7);
  for (const bad of ['-1', 'forever', '1.5', '40000']) {
    assert.throws(
      () => loadConfig({ ...base, LOG_RETENTION_DAYS: bad }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'LOG_RETENTION_DAYS',
    );
  }
});

test('once started, rounds run on their own, in chunks, until a stop', async () => {
  const dir = tempDir();
  const store = openSqliteStore({ path: `${dir.path}/retention.db` });
  try {
    const { workspaceId: ws, postback: p } = await workspaceWithPostback(store, 'retention');
    const row = (at: number) =>
      store.appendPostbackLog(
        {
          postbackId: p.id,
          workspaceId: ws,
          at,
          method: 'GET',
          url: '/x',
          ip: null,
          userAgent: null,
          body: null,
        },
        {
          httpStatus: 404,
          status: 'unmatched',
          error: 'unknown_clickid',
          event: null,
          clickid: 'c',
          conversionId: null,
        },
      );
    const now = 100 * DAY;
    await Promise.all(Array.from({ length: 25 }, (_, i) => row(i)));
    await row(now);
    const lines: object[] = [];
    const retention = new LogRetention({
      store,
      days: 1,
      now: () => now,
      log: { info: (o) => lines.push(o), warn: (o) => lines.push(o) },
      firstMs: 5,
      everyMs: 20,
      chunk: 10,
    });
    retention.start();
    const deadline = Date.now() + 5_000;
    while (store.countRows('postback_logs') > 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(store.countRows('postback_logs'), 1, 'the young row stays');
    await retention.stop();
    assert.deepEqual(lines[0], { pruned: { postbackLogs: 25, deliveries: 0 }, days: 1 });
    // Stopped: a row old enough now stays.
    await row(0);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(store.countRows('postback_logs'), 2);
  } finally {
    await store.close();
    dir.remove();
  }
});
