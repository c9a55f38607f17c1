// One first deposit fired 200 times at once over real HTTP: one conversion, 199
// duplicates pointing at it, 200 rows in the postback log — also when the copies
// arrive as a GET query, a form body and a JSON body of the same postback.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, funnel, signup, type TestApp, testApp } from '../helpers.js';

const COPIES = 200;

let t: TestApp;
let address: string;
before(async () => {
  t = await testApp();
  address = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
after(() => t.close());

interface Answer {
  status: number;
  body: { status?: string; conversionId?: string; event?: string };
}

async function storm(requests: (() => Promise<Response>)[]): Promise<Answer[]> {
  return Promise.all(
    requests.map(async (send) => {
      const res = await send();
      return { status: res.status, body: (await res.json()) as Answer['body'] };
    }),
  );
}

async function expectOneConversion(
  auth: { authorization: string },
  clickid: string,
  answers: Answer[],
  before: { conversions: number; logs: number },
) {
  const odd = answers.filter((a) => a.status !== 200);
  assert.deepEqual(odd.slice(0, 3), [], 'every copy is answered 200');
  const recorded = answers.filter((a) => a.body.status === 'recorded');
  const duplicates = answers.filter((a) => a.body.status === 'duplicate');
  assert.equal(recorded.length, 1, 'exactly one copy is recorded');
  assert.equal(duplicates.length, COPIES - 1, 'every other copy is a duplicate');
  const conversionId = recorded[0]?.body.conversionId;
  assert.ok(conversionId, 'the recorded answer names its conversion');
  assert.ok(
    duplicates.every(
      (d) => d.body.conversionId === conversionId && d.body.event === 'first_deposit',
    ),
    'every duplicate points at the recorded conversion',
  );
  assert.equal(await t.countRows('conversions'), before.conversions + 1, 'one conversion');
  assert.equal(await t.countRows('postback_logs'), before.logs + COPIES, 'a log row per copy');
  const lead = await api<{ events: { id: string; amount: string }[] }>(
    t.app,
    auth,
    'GET',
    `/api/v1/leads/${clickid}`,
  );
  assert.deepEqual(
    lead.body.events.map((e) => [e.id, e.amount]),
    [[conversionId, '100']],
  );
}

const counts = async () => ({
  conversions: await t.countRows('conversions'),
  logs: await t.countRows('postback_logs'),
});

test('one first deposit fired 200 times concurrently: one conversion, 199 duplicates', async () => {
  const { auth } = await signup(t.app);
  const { postback, clickid } = await funnel(t.app, auth, '1win');
  const url = (postback.links.firstDeposit as string)
    .replace('http://track.test', address)
    .replace('{sub1}', clickid)
    .replace('{amount}', '100')
    .replace('{event_id}', 'ftd-1');
  const before = await counts();
  const answers = await storm(Array.from({ length: COPIES }, () => () => fetch(url)));
  await expectOneConversion(auth, clickid, answers, before);
});

test('the same first deposit as GET query, form body and JSON body at once: one conversion', async () => {
  const { auth } = await signup(t.app);
  const { postback, clickid } = await funnel(t.app, auth, '1win');
  const path = `${address}/api/postbacks/${postback.token}/first_deposit`;
  const params = { clickid, amount: '100', tid: 'ftd-2' };
  const ways = [
    () => fetch(`${path}?${new URLSearchParams(params)}`),
    () =>
      fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
      }),
    () =>
      fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...params, amount: 100 }),
      }),
    // Half in the query, half in the body, the amount spelled differently.
    () =>
      fetch(`${path}?clickid=${clickid}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'amount=100.00&tid=ftd-2',
      }),
  ];
  const before = await counts();
  const answers = await storm(
    Array.from({ length: COPIES }, (_, i) => ways[i % ways.length] as () => Promise<Response>),
  );
  await expectOneConversion(auth, clickid, answers, before);
});
