// Leads through the management API: creating and binding them, the list with
// its cursor, the detail shape, manual events under the counting rules, and
// link rendering.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, fire, funnel, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

type Auth = { authorization: string };
type ErrorBody = { error: { code: string; message: string } };

interface LeadEvent {
  id: string;
  event: string;
  amount: string | null;
  currency: string | null;
  tid: string | null;
  at: string;
}

interface Lead {
  clickid: string;
  campaignId: string | null;
  externalId: string | null;
  username: string | null;
  params: Record<string, string>;
  fields: Record<string, string>;
  createdAt: string;
  events: LeadEvent[];
  totals: { deposits: string; withdrawals: string; balance: string; currency: string | null };
}

interface Summary {
  clickid: string;
  campaignId: string | null;
  externalId: string | null;
}

interface EventAnswer {
  ok: boolean;
  status: 'recorded' | 'duplicate';
  event: string;
  clickid: string;
  conversionId: string;
}

const CLICKID = /^[A-Za-z0-9]{12}$/;

async function newLead(auth: Auth, body: Record<string, unknown> = {}): Promise<Lead> {
  const res = await api<Lead>(t.app, auth, 'POST', '/api/v1/leads', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function getLead(auth: Auth, clickid: string): Promise<Lead> {
  const res = await api<Lead>(t.app, auth, 'GET', `/api/v1/leads/${clickid}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

function event(auth: Auth, clickid: string, body: Record<string, unknown>) {
  return api<EventAnswer & ErrorBody>(t.app, auth, 'POST', `/api/v1/leads/${clickid}/events`, body);
}

async function campaign(auth: Auth, name = 'C'): Promise<string> {
  const res = await api<{ id: string }>(t.app, auth, 'POST', '/api/v1/campaigns', { name });
  assert.equal(res.status, 201);
  return res.body.id;
}

test('POST /api/v1/leads without clickid creates an organic lead (201)', async () => {
  const { auth } = await signup(t.app);
  const lead = await newLead(auth, {
    externalId: 'tg:1',
    username: 'bob',
    params: { utm_source: 'bot' },
  });
  assert.match(lead.clickid, CLICKID);
  assert.equal(lead.campaignId, null);
  assert.equal(lead.externalId, 'tg:1');
  assert.equal(lead.username, 'bob');
  assert.deepEqual(lead.params, { utm_source: 'bot' });
  assert.deepEqual(lead.fields, {});
  assert.deepEqual(lead.events, []);
  assert.equal(lead.createdAt, new Date(t.clock.now).toISOString());
  assert.deepEqual(lead.totals, { deposits: '0', withdrawals: '0', balance: '0', currency: null });

  const empty = await newLead(auth);
  assert.match(empty.clickid, CLICKID);
  assert.notEqual(empty.clickid, lead.clickid);
  assert.equal(empty.campaignId, null);
  assert.equal(empty.externalId, null);
  assert.deepEqual(empty.params, {});
});

test('POST /api/v1/leads with campaignId binds the lead to it; foreign or unknown → 404', async () => {
  const { auth } = await signup(t.app);
  const other = await signup(t.app);
  const id = await campaign(auth);
  const foreign = await campaign(other.auth);

  const lead = await newLead(auth, { campaignId: id });
  assert.equal(lead.campaignId, id);
  assert.equal((await getLead(auth, lead.clickid)).campaignId, id);

  for (const campaignId of [foreign, '999999', 'abc']) {
    const res = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/leads', { campaignId });
    assert.equal(res.status, 404, campaignId);
    assert.equal(res.body.error.code, 'not_found');
  }
  const organic = await newLead(auth, { campaignId: null });
  assert.equal(organic.campaignId, null);
});

test('binding an existing clickid is idempotent; another externalId is 409; unknown is 404', async () => {
  const { auth } = await signup(t.app);
  const { clickid } = await funnel(t.app, auth);

  const first = await api<Lead>(t.app, auth, 'POST', '/api/v1/leads', {
    clickid,
    externalId: 'chat-42',
    username: 'alice',
  });
  assert.equal(first.status, 200);
  assert.equal(first.body.clickid, clickid);
  assert.equal(first.body.externalId, 'chat-42');
  assert.equal(first.body.username, 'alice');
  assert.equal(first.body.params.fbclid, 'fb1');

  const again = await api<Lead>(t.app, auth, 'POST', '/api/v1/leads', {
    clickid,
    externalId: 'chat-42',
    username: 'alice',
  });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, first.body);

  const clash = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/leads', {
    clickid,
    externalId: 'chat-43',
  });
  assert.equal(clash.status, 409);
  assert.equal(clash.body.error.code, 'lead_bound');
  assert.equal((await getLead(auth, clickid)).externalId, 'chat-42');

  const unknown = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/leads', {
    clickid: 'ZZZZZZZZZZZZ',
    externalId: 'chat-42',
  });
  assert.equal(unknown.status, 404);

  // Another workspace cannot bind or see this clickid.
  const other = await signup(t.app);
  const stranger = await api(t.app, other.auth, 'POST', '/api/v1/leads', {
    clickid,
    externalId: 'x',
  });
  assert.equal(stranger.status, 404);
  assert.equal((await api(t.app, other.auth, 'GET', `/api/v1/leads/${clickid}`)).status, 404);
});

test('GET /api/v1/leads lists newest first with cursor pagination', async () => {
  const { auth } = await signup(t.app);
  const created: string[] = [];
  for (let i = 0; i < 7; i++) {
    created.push((await newLead(auth, { externalId: `ext-${i}` })).clickid);
    t.clock.advance(1000);
  }
  const newestFirst = [...created].reverse();

  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 5; page++) {
    const url: string = `/api/v1/leads?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api<{ items: Summary[]; nextCursor: string | null }>(t.app, auth, 'GET', url);
    assert.equal(res.status, 200);
    sizes.push(res.body.items.length);
    seen.push(...res.body.items.map((l) => l.clickid));
    cursor = res.body.nextCursor;
    if (cursor === null) break;
  }
  assert.deepEqual(sizes, [3, 3, 1]);
  assert.equal(cursor, null);
  assert.deepEqual(seen, newestFirst);

  const all = await api<{ items: Summary[]; nextCursor: string | null }>(
    t.app,
    auth,
    'GET',
    '/api/v1/leads',
  );
  assert.deepEqual(
    all.body.items.map((l) => l.clickid),
    newestFirst,
  );
  assert.equal(all.body.nextCursor, null);
});

test('GET /api/v1/leads?q finds a lead by clickid and by externalId; campaignId filters', async () => {
  const { auth } = await signup(t.app);
  const id = await campaign(auth);
  const a = await newLead(auth, { externalId: 'needle-ext', campaignId: id });
  const b = await newLead(auth, { externalId: 'other' });
  const list = (url: string) =>
    api<{ items: Summary[] }>(t.app, auth, 'GET', url).then((r) =>
      r.body.items.map((l) => l.clickid),
    );
  assert.deepEqual(await list(`/api/v1/leads?q=${b.clickid}`), [b.clickid]);
  assert.deepEqual(await list('/api/v1/leads?q=needle-ext'), [a.clickid]);
  assert.deepEqual(await list('/api/v1/leads?q=nothing-matches'), []);
  assert.deepEqual(await list(`/api/v1/leads?campaignId=${id}`), [a.clickid]);
});

test('GET /api/v1/leads?q finds the leads whose clickid starts with q, newest first, in the workspace only', async () => {
  const { auth } = await signup(t.app);
  const other = await signup(t.app, 'Other');
  const a = await newLead(auth);
  const b = await newLead(auth);
  const c = await newLead(auth);
  const theirs = await newLead(other.auth);
  const list = (q: string) =>
    api<{ items: Summary[] }>(t.app, auth, 'GET', `/api/v1/leads?q=${encodeURIComponent(q)}`).then(
      (r) => r.body.items.map((l) => l.clickid),
    );
  const startingWith = (q: string) =>
    [c, b, a].map((l) => l.clickid).filter((clickid) => clickid.startsWith(q));
  // A clickid starts with the time it was made (7 characters that sort as the
  // milliseconds do): the ones made in a test share their first few.
  let shared = a.clickid.slice(0, 7);
  while (!theirs.clickid.startsWith(shared)) shared = shared.slice(0, -1);
  assert.ok(shared.length >= 3, shared);
  assert.deepEqual(await list(shared), [c.clickid, b.clickid, a.clickid]);
  assert.deepEqual(await list(` ${shared} `), [c.clickid, b.clickid, a.clickid], 'trimmed');
  for (const q of [b.clickid.slice(0, 9), c.clickid.slice(0, 11), a.clickid]) {
    assert.deepEqual(await list(q), startingWith(q), q);
  }
  assert.deepEqual(await list(`${shared}~`), []);
  assert.deepEqual(await list(`${a.clickid}0`), [], 'longer than any clickid');
});

test('GET /api/v1/leads/:clickid answers the documented detail shape; unknown → 404', async () => {
  const { auth } = await signup(t.app);
  const { clickid, postback } = await funnel(t.app, auth);
  const links = postback.links;
  assert.equal(
    (
      await fire(t.app, `${links.registration}&fields.user_id=${encodeURIComponent('u 1')}`, {
        '{sub1}': clickid,
      })
    ).body.status,
    'recorded',
  );
  await fire(t.app, links.firstDeposit as string, {
    '{sub1}': clickid,
    '{amount}': '100.5',
    '{event_id}': 'e1',
  });
  const lead = await getLead(auth, clickid);
  assert.equal(lead.clickid, clickid);
  assert.deepEqual(lead.fields, { user_id: 'u 1' });
  assert.deepEqual(
    lead.events.map((e) => [e.event, e.amount, e.currency, e.tid]),
    [
      ['registration', null, null, null],
      ['first_deposit', '100.5', 'USD', 'e1'],
    ],
  );
  for (const e of lead.events) {
    assert.equal(typeof e.id, 'string');
    assert.equal(e.at, new Date(t.clock.now).toISOString());
    for (const key of ['id', 'event', 'amount', 'currency', 'tid', 'at']) assert.ok(key in e, key);
  }
  assert.deepEqual(lead.totals, {
    deposits: '100.5',
    withdrawals: '0',
    balance: '100.5',
    currency: 'USD',
  });
  for (const key of ['campaignId', 'externalId', 'username', 'params', 'createdAt'])
    assert.ok(key in lead, key);

  const missing = await api<ErrorBody>(t.app, auth, 'GET', '/api/v1/leads/ZZZZZZZZZZZZ');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'not_found');
});

test('manual events follow the counting rules', async () => {
  const { auth } = await signup(t.app);
  const { clickid } = await newLead(auth);

  const reg = await event(auth, clickid, { event: 'registration' });
  assert.equal(reg.status, 201);
  assert.equal(reg.body.ok, true);
  assert.equal(reg.body.status, 'recorded');
  assert.equal(reg.body.event, 'registration');
  assert.equal(reg.body.clickid, clickid);
  assert.equal(typeof reg.body.conversionId, 'string');
  const regAgain = await event(auth, clickid, { event: 'registration' });
  assert.equal(regAgain.status, 200);
  assert.equal(regAgain.body.status, 'duplicate');
  assert.equal(regAgain.body.conversionId, reg.body.conversionId);

  const ftd = await event(auth, clickid, { event: 'first_deposit', amount: '100.25' });
  assert.equal(ftd.status, 201);
  assert.equal(ftd.body.event, 'first_deposit');

  const dep = await event(auth, clickid, { event: 'deposit', amount: '10', tid: 'tx-1' });
  assert.equal(dep.status, 201);
  assert.equal(dep.body.status, 'recorded');
  const depAgain = await event(auth, clickid, { event: 'deposit', amount: '10', tid: 'tx-1' });
  assert.equal(depAgain.status, 200);
  assert.equal(depAgain.body.status, 'duplicate');
  assert.equal(depAgain.body.conversionId, dep.body.conversionId);

  const lead = await getLead(auth, clickid);
  assert.deepEqual(
    lead.events.map((e) => [e.event, e.amount, e.tid]),
    [
      ['registration', null, null],
      ['first_deposit', '100.25', null],
      ['deposit', '10', 'tx-1'],
    ],
  );
  assert.equal(lead.totals.deposits, '110.25');
  assert.equal(lead.totals.currency, 'USD');
});

test('manual events refuse bad input with 400 codes and unknown clickids with 404', async () => {
  const { auth } = await signup(t.app);
  const { clickid } = await newLead(auth);
  const cases: [Record<string, unknown>, string][] = [
    [{ event: 'deposit', amount: 'abc', tid: 'a' }, 'invalid_amount'],
    [{ event: 'deposit', amount: '1e3', tid: 'a' }, 'invalid_amount'],
    [{ event: 'deposit', amount: '-5', tid: 'a' }, 'invalid_amount'],
    [{ event: 'first_deposit', amount: '-0.01' }, 'invalid_amount'],
    [{ event: 'registration', amount: '-25' }, 'invalid_amount'],
    [{ event: 'sale', amount: '-25', tid: 'a' }, 'invalid_amount'],
    [{ event: 'resale', amount: '-1', tid: 'a' }, 'invalid_amount'],
    [{ event: 'deposit', tid: 'a' }, 'invalid_amount'],
    [{ event: 'deposit', amount: '5', currency: 'NOPE', tid: 'a' }, 'invalid_currency'],
    [{ event: 'Bad Event!' }, 'invalid_event'],
    [{ event: 'x'.repeat(33) }, ''],
  ];
  for (const [body, code] of cases) {
    const res = await event(auth, clickid, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    if (code) assert.equal(res.body.error.code, code, JSON.stringify(body));
  }
  const lead = await getLead(auth, clickid);
  assert.deepEqual(lead.events, []);
  assert.equal(lead.totals.withdrawals, '0');

  const unknown = await event(auth, 'ZZZZZZZZZZZZ', { event: 'registration' });
  assert.equal(unknown.status, 404);
  assert.equal(typeof unknown.body.error.code, 'string');
});

test('manual amounts sum exactly and keep their currency', async () => {
  const { auth } = await signup(t.app);
  const { clickid } = await newLead(auth);
  assert.equal(
    (await event(auth, clickid, { event: 'deposit', amount: '0.1', tid: 'a' })).status,
    201,
  );
  assert.equal(
    (await event(auth, clickid, { event: 'deposit', amount: '0,2', tid: 'b' })).status,
    201,
  );
  const lead = await getLead(auth, clickid);
  assert.equal(lead.totals.deposits, '0.3');
  assert.equal(lead.totals.balance, '0.3');

  const eur = (await newLead(auth)).clickid;
  const res = await event(auth, eur, {
    event: 'first_deposit',
    amount: '50',
    currency: 'eur',
  });
  assert.equal(res.status, 201);
  const detail = await getLead(auth, eur);
  assert.equal(detail.events[0]?.currency, 'EUR');
  assert.deepEqual(detail.totals, {
    deposits: '50',
    withdrawals: '0',
    balance: '50',
    currency: 'EUR',
  });
});

test('an amount, a tid or a chat id sent as a JSON number is read as written, never through a double', async () => {
  const { auth } = await signup(t.app);
  const raw = (url: string, json: string) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { ...auth, 'content-type': 'application/json' },
      payload: json,
    });
  const bot = await raw('/api/v1/leads', '{"externalId":12345678901234567890}');
  assert.equal(bot.statusCode, 201, bot.body);
  assert.equal(bot.json().externalId, '12345678901234567890');
  const { clickid } = bot.json() as Lead;
  const path = `/api/v1/leads/${clickid}/events`;
  const first = await raw(
    path,
    '{"event":"deposit","amount":123456789012.123456,"tid":12345678901234567890}',
  );
  assert.equal(first.statusCode, 201, first.body);
  const second = await raw(path, '{"event":"deposit","amount":2,"tid":12345678901234567891}');
  assert.equal(second.statusCode, 201, 'another transaction, not a duplicate of the first');
  const exponent = await raw(path, '{"event":"deposit","amount":1.5E2,"tid":"e"}');
  assert.equal(exponent.statusCode, 201, exponent.body);
  const lead = await getLead(auth, clickid);
  assert.deepEqual(lead.events.map((e) => [e.amount, e.tid]).sort(), [
    ['123456789012.123456', '12345678901234567890'],
    ['150', 'e'],
    ['2', '12345678901234567891'],
  ]);
  assert.equal(lead.totals.deposits, '123456789164.123456');
  const broken = await raw(path, '{"event":"deposit","amount":1,');
  assert.equal(broken.statusCode, 400);
  assert.equal(broken.json().error.code, 'invalid_json');
  // What Fastify's parser refuses on every other route is refused here too.
  for (const poisoned of [
    '{"externalId":"a","__proto__":{"x":1}}',
    '{"externalId":"b","constructor":{"prototype":{"x":1}}}',
    '{"params":{"__proto__":"zz"}}',
  ]) {
    const res = await raw('/api/v1/leads', poisoned);
    assert.equal(res.statusCode, 400, poisoned);
  }
  const bom = await raw('/api/v1/leads', '\uFEFF{"externalId":"tg:bom","params":{"n":7}}');
  assert.equal(bom.statusCode, 201, bom.body);
  assert.deepEqual(bom.json().params, { n: '7' });
});

test('a cursor the API did not give out answers 400 invalid_cursor, not the first page', async () => {
  const { auth } = await signup(t.app);
  for (const path of ['/api/v1/leads', '/api/v1/postback-logs', '/api/v1/deliveries']) {
    const res = await api<ErrorBody>(t.app, auth, 'GET', `${path}?cursor=not-ours`);
    assert.equal(res.status, 400, path);
    assert.equal(res.body.error.code, 'invalid_cursor', path);
  }
});

test('POST /api/v1/links/render renders macros URL-encoded and lists unknown ones', async () => {
  const { auth } = await signup(t.app);
  const { clickid, postback } = await funnel(t.app, auth);
  // The funnel's click carried utm_campaign=test; a custom field arrives by postback.
  const reg = await fire(
    t.app,
    `${postback.links.registration}&fields.user_id=${encodeURIComponent('a b&c')}`,
    {
      '{sub1}': clickid,
    },
  );
  assert.equal(reg.body.status, 'recorded');
  assert.deepEqual((await getLead(auth, clickid)).fields, { user_id: 'a b&c' });

  const res = await api<{ url: string; unknownMacros: string[] }>(
    t.app,
    auth,
    'POST',
    '/api/v1/links/render',
    {
      template:
        'https://x.test/?a={{tracker.clickid}}&u={{tracker.utm_campaign}}&f={{fields.user_id}}&z={{nope}}',
      clickid,
    },
  );
  assert.equal(res.status, 200);
  assert.equal(res.body.url, `https://x.test/?a=${clickid}&u=test&f=a%20b%26c&z=`);
  assert.deepEqual(res.body.unknownMacros, ['nope']);

  const alias = await api<{ url: string }>(t.app, auth, 'POST', '/api/v1/links/render', {
    template: 'tg://resolve?start={{chat.tracker.clickid}}',
    clickid,
  });
  assert.equal(alias.body.url, `tg://resolve?start=${clickid}`);

  const missing = await api(t.app, auth, 'POST', '/api/v1/links/render', {
    template: 'https://x.test/',
    clickid: 'ZZZZZZZZZZZZ',
  });
  assert.equal(missing.status, 404);
  assert.equal((await api(t.app, auth, 'POST', '/api/v1/links/render', { clickid })).status, 400);
});
