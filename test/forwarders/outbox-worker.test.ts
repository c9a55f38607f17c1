// The delivery worker as the server runs it: started, woken by new events,
// stopped. (test/http/forwarding.test.ts drives it step by step instead.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { routeEvents } from '../../src/domain/forwarding.js';
import { newClickid } from '../../src/domain/random-id.js';
import type { Campaign, DestinationInput } from '../../src/store/store.js';
import { type FakeDestination, fakeDestination } from '../fake-destination.js';
import { type TestApp, testApp } from '../helpers.js';

let t: TestApp;
let bot: FakeDestination;
let campaign: Campaign;

before(async () => {
  bot = await fakeDestination();
  t = await testApp({ ALLOW_PRIVATE_WEBHOOKS: 'true' });
  const account = await t.store.createAccount({
    email: `worker-${Date.now()}@example.com`,
    passwordHash: 'x',
    workspaceName: 'Worker',
    at: t.clock.now,
  });
  if (account === 'email_taken') throw new Error('seed failed');
  campaign = await t.store.createCampaign(
    account.workspace.id,
    { name: 'Worker', description: '', buyer: 'b', destinationUrl: '' },
    () => `w${Date.now()}`,
    t.clock.now,
  );
  const settings: DestinationInput['settings'] = {
    kind: 'auto_action',
    autoAction: { event: 'click', url: `${bot.url}/hook`, payload: {} },
  };
  await t.store.createDestination(
    account.workspace.id,
    campaign.id,
    { name: 'bot', enabled: true, settings, secret: null, routes: routeEvents(settings) },
    t.clock.now,
  );
});
after(async () => {
  await t.close();
  await bot.close();
});

const click = () =>
  t.store.recordClick({
    campaign,
    params: {},
    ip: null,
    userAgent: null,
    referrer: null,
    at: t.clock.now,
    newClickid,
  });

/** Due rows nobody holds: claimed here (and so leased) to count them. */
const unclaimed = async () =>
  (
    await t.store.claimDeliveries({
      now: t.clock.now,
      leaseUntil: t.clock.now + 1,
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
