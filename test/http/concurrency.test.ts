import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { newClickid } from '../../src/domain/random-id.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { api, funnel, signup, type TestApp, tempDir, testApp } from '../helpers.js';

/** Node 20 workers don't inherit the TypeScript loader: each one registers it first. */
function tsWorker(file: URL): string {
  const api = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); })`;
}

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

test('the same first deposit fired 50 times at once over HTTP: one conversion, 49 duplicates', async () => {
  const { auth } = await signup(t.app);
  const { postback, clickid } = await funnel(t.app, auth, '1win');
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const link = (postback.links.firstDeposit as string)
    .replace('http://track.test', address)
    .replace('{sub1}', clickid)
    .replace('{amount}', '100')
    .replace('{event_id}', 'tx-1');
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      fetch(link).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as Record<string, string>,
      })),
    ),
  );
  assert.ok(answers.every((a) => a.status === 200));
  const recorded = answers.filter((a) => a.body.status === 'recorded');
  const duplicates = answers.filter((a) => a.body.status === 'duplicate');
  assert.equal(recorded.length, 1);
  assert.equal(duplicates.length, 49);
  assert.ok(duplicates.every((d) => d.body.conversionId === recorded[0]?.body.conversionId));
  const lead = await api<{ events: unknown[]; totals: { deposits: string } }>(
    t.app,
    auth,
    'GET',
    `/api/v1/leads/${clickid}`,
  );
  assert.equal(lead.body.events.length, 1);
  assert.equal(lead.body.totals.deposits, '100');
  const logs = await api<{ items: unknown[] }>(
    t.app,
    auth,
    'GET',
    '/api/v1/postback-logs?limit=200',
  );
  assert.equal(logs.body.items.length, 50, 'every copy is in the postback log');
});

test('four connections racing the same first deposit: the database keeps exactly one', async () => {
  const dir = tempDir();
  const path = `${dir.path}/race.db`;
  const store = openSqliteStore({ path });
  const acc = await store.createAccount({
    email: 'race@example.com',
    passwordHash: 'x',
    workspaceName: 'R',
    at: 0,
  });
  assert.ok(acc !== 'email_taken');
  const lead = await store.createLead(acc.workspace.id, {
    campaignId: null,
    externalId: null,
    username: null,
    params: {},
    at: 0,
    newClickid,
  });
  const barrier = new SharedArrayBuffer(8);
  const gate = new Int32Array(barrier);
  const workers = Array.from(
    { length: 4 },
    () =>
      new Worker(tsWorker(new URL('../store/race-worker.ts', import.meta.url)), {
        eval: true,
        workerData: {
          path,
          workspaceId: acc.workspace.id,
          clickid: lead.clickid,
          barrier,
          copies: 25,
        },
      }),
  );
  const results = workers.map(
    (w) =>
      new Promise<string[]>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  const failed = Promise.race(results).then(
    () => undefined,
    (error: unknown) => error,
  );
  while (Atomics.load(gate, 1) < workers.length) {
    const error = await Promise.race([failed, new Promise((r) => setTimeout(r, 5, undefined))]);
    if (error) throw error;
  }
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  const statuses = (await Promise.all(results)).flat();
  assert.equal(statuses.length, 100);
  assert.equal(statuses.filter((s) => s === 'recorded').length, 1);
  assert.equal(statuses.filter((s) => s === 'duplicate').length, 99);
  const detail = await store.getLead(acc.workspace.id, lead.clickid);
  assert.equal(detail?.events.length, 1);
  await store.close();
  dir.remove();
});
