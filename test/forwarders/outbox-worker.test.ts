// The delivery worker as the server runs it: started, woken by new events,
// stopped. (test/http/forwarding.test.ts drives it step by step instead.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { routeEvents } from '../../src/domain/forwarding.js';
import { newClickid } from '../../src/domain/random-id.js';
import { OutboxWorker } from '../../src/forwarders/outbox-worker.js';
import type { Campaign, DestinationInput } from '../../src/store/store.js';
import { type FakeDestination, fakeDestination } from '../fake-destination.js';
import { type TestApp, testApp } from '../helpers.js';

let t: TestApp;
let bot: FakeDestination;
let campaign: Campaign;

/** An account, a campaign and a bot's auto action on every click, in `app`'s store. */
async function seed(app: TestApp): Promise<Campaign> {
  const account = await app.store.createAccount({
    email: `worker-${Date.now()}-${Math.random()}@example.com`,
    passwordHash: 'x',
    workspaceName: 'Worker',
    at: app.clock.now,
  });
  if (account === 'email_taken') throw new Error('seed failed');
  const created = await app.store.createCampaign(
    account.workspace.id,
    { name: 'Worker', description: '', buyer: 'b', destinationUrl: '' },
    () => `w${Date.now()}`,
    app.clock.now,
  );
  const settings: DestinationInput['settings'] = {
    kind: 'auto_action',
    autoAction: { event: 'click', url: `${bot.url}/hook`, payload: {} },
  };
  await app.store.createDestination(
    account.workspace.id,
    created.id,
    { name: 'bot', enabled: true, settings, secret: null, routes: routeEvents(settings) },
    app.clock.now,
  );
  return created;
}

before(async () => {
  bot = await fakeDestination();
  t = await testApp({ ALLOW_PRIVATE_WEBHOOKS: 'true' });
  campaign = await seed(t);
});
after(async () => {
  await t.close();
  await bot.close();
});

const click = (app = t, on = campaign) =>
  app.store.recordClick({
    campaign: on,
    params: {},
    ip: null,
    userAgent: null,
    referrer: null,
    at: app.clock.now,
    newClickid,
  });

/** Due rows nobody holds: claimed here (and so leased) to count them. */
const unclaimed = async () =>
  (
    await t.store.claimDeliveries({
      now: t.clock.now,
      leaseUntil: t.clock.now + 1,
      owner: 'test:1:unclaimed',
      limit: 100,
      perDestination: 100,
      perBatchedDestination: 100,
      busy: [],
    })
  ).length;

test('a started worker sends a new event on its own; one stopped claims nothing more, not even a claim it had scheduled', async () => {
  const worker = t.app.forwarder;
  worker.start();
  await click();
  for (let i = 0; i < 200 && bot.received.length === 0; i++) await sleep(10);
  assert.equal(bot.received.length, 1, 'sent without a poll or a drain');

  // A wake-up starts its claim on a timer; stop() in the same turn comes
  // first, and the event stays queued, not leased, for the next start. (The
  // event is queued while stopped: a click's own wake-up could claim it before
  // the click's promise comes back.)
  await worker.stop();
  await click();
  worker.start();
  await worker.stop();
  await sleep(100);
  assert.equal(bot.received.length, 1);
  assert.equal(await unclaimed(), 1);
});

test('an attempt is not claimed again while it may still be under way, at the longest FORWARD_TIMEOUT_MS', async () => {
  const slow = await testApp({ ALLOW_PRIVATE_WEBHOOKS: 'true', FORWARD_TIMEOUT_MS: '120000' });
  try {
    const on = await seed(slow);
    bot.received.length = 0;
    bot.script.push({ status: 200, delayMs: 500 });
    await click(slow, on);
    const first = slow.app.forwarder.runOnce();
    await bot.waitFor(1);
    // An attempt may wait one timeout for a slot to its destination, then
    // take one more to answer.
    slow.clock.advance(2 * 120_000);
    assert.equal(await slow.app.forwarder.runOnce(), 0, 'its lease still holds');
    assert.equal(await first, 1);
    assert.equal(bot.received.length, 1, 'sent once');
  } finally {
    await slow.close();
  }
});

test("an attempt that outlived its lease does not undo the next worker's delivery", async () => {
  const app = await testApp({ ALLOW_PRIVATE_WEBHOOKS: 'true' });
  const warnings: Array<{ worker: string; obj: object; msg?: string }> = [];
  const worker = (name: string) =>
    new OutboxWorker({
      ...app.app.deps,
      log: {
        info() {},
        warn: (obj, msg) => warnings.push({ worker: name, obj, msg }),
        error() {},
      },
    });
  const slow = worker('slow');
  const next = worker('next');
  try {
    const on = await seed(app);
    bot.received.length = 0;
    // The first worker's request is answered late, with a retryable error.
    bot.script.push({ status: 503, delayMs: 500 });
    await click(app, on);
    const first = slow.runOnce();
    await bot.waitFor(1);

    // Its lease runs out (an event loop stalled for minutes, say): another
    // worker takes the row and delivers it.
    app.clock.advance(10 * 60_000);
    assert.equal(await next.runOnce(), 1, 'the lease ran out');
    assert.equal(bot.received[1]?.status, 200);
    assert.deepEqual(await app.store.outboxCounts(null), { delivered: 1 });

    // The late 503 is logged and counted, and leaves the delivered row
    // alone: nothing is sent a third time, however long one waits.
    assert.equal(await first, 1);
    assert.deepEqual(await app.store.outboxCounts(null), { delivered: 1 });
    app.clock.advance(24 * 3_600_000);
    assert.equal(await slow.runOnce(), 0);
    assert.equal(await next.runOnce(), 0);
    assert.equal(bot.received.length, 2);
    assert.equal(await app.countRows('deliveries'), 2, 'both attempts are in the source log');
    assert.deepEqual(
      warnings.map((w) => [w.worker, w.msg?.split(';')[0]]),
      [['slow', 'outbox: a lease ran out before its attempt ended']],
    );
  } finally {
    await slow.stop();
    await next.stop();
    await app.close();
  }
});
