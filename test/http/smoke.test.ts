import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, fire, funnel, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

test('the 1Win flow: click, links, registration, first deposit, deposit, totals', async () => {
  const { auth } = await signup(t.app);
  const { postback, clickid } = await funnel(t.app, auth, '1win');
  assert.match(clickid, /^[A-Za-z0-9]{12}$/);
  const links = postback.links;
  assert.deepEqual(Object.keys(links), ['registration', 'firstDeposit', 'deposit']);
  assert.equal(
    (await fire(t.app, links.registration as string, { '{sub1}': clickid })).body.status,
    'recorded',
  );
  const ftd = await fire(t.app, links.firstDeposit as string, {
    '{sub1}': clickid,
    '{amount}': '100',
    '{event_id}': 'e1',
  });
  assert.equal(ftd.body.status, 'recorded');
  const dep = await fire(t.app, links.deposit as string, {
    '{sub1}': clickid,
    '{amount}': '25.5',
    '{event_id}': 'e2',
  });
  assert.equal(dep.body.event, 'deposit');
  const lead = await api<{ totals: { deposits: string; balance: string }; events: unknown[] }>(
    t.app,
    auth,
    'GET',
    `/api/v1/leads/${clickid}`,
  );
  assert.equal(lead.body.events.length, 3);
  assert.equal(lead.body.totals.deposits, '125.5');
  assert.equal(lead.body.totals.balance, '125.5');
});
