// Postback configurations through the management API: each network preset and
// its ready-to-paste links, overrides, validation, CRUD, the registration-link
// builder, and the generated links actually counting when a network calls them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, fire, PUBLIC_URL, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

type Auth = { authorization: string };
type ErrorBody = { error: { code: string; message: string } };

interface Postback {
  id: string;
  name: string;
  network: string;
  campaignId: string | null;
  clickidParam: string;
  currency: string;
  macros: Record<string, string>;
  enabled: boolean;
  token: string;
  links: Record<string, string>;
  createdAt: string;
}

const BOT = 'https://t.me/my_bot?start={{tracker.clickid}}';

async function create(auth: Auth, body: Record<string, unknown>): Promise<Postback> {
  const res = await api<Postback>(t.app, auth, 'POST', '/api/v1/postbacks', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function campaign(auth: Auth): Promise<{ id: string; slug: string }> {
  const res = await api<{ id: string; slug: string }>(t.app, auth, 'POST', '/api/v1/campaigns', {
    name: 'C',
    destinationUrl: BOT,
  });
  assert.equal(res.status, 201);
  return res.body;
}

async function clickOn(slug: string): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: `/c/${slug}` });
  assert.equal(res.statusCode, 302);
  return new URL(res.headers.location as string).searchParams.get('start') as string;
}

function assertLinksUnder(p: Postback) {
  const base = `${PUBLIC_URL}/api/postbacks/${p.token}/`;
  for (const [key, link] of Object.entries(p.links)) {
    assert.ok(link.startsWith(base), `${key}: ${link}`);
    assert.doesNotThrow(() => new URL(link));
  }
}

test('1win: 201 with the core links, sub1 by default, USD by default', async () => {
  const { auth } = await signup(t.app);
  const p = await create(auth, { name: '1Win main', network: '1win' });
  assert.equal(typeof p.id, 'string');
  assert.equal(p.name, '1Win main');
  assert.equal(p.network, '1win');
  assert.equal(p.campaignId, null);
  assert.equal(p.clickidParam, 'sub1');
  assert.equal(p.currency, 'USD');
  assert.equal(p.enabled, true);
  assert.equal(p.createdAt, '2026-11-20T12:00:00.000Z');
  assert.match(p.token, /^[A-Za-z0-9]{20,}$/);
  assert.deepEqual(Object.keys(p.links), ['registration', 'firstDeposit', 'deposit']);
  assertLinksUnder(p);
  const base = `${PUBLIC_URL}/api/postbacks/${p.token}`;
  assert.equal(p.links.registration, `${base}/registration?clickid={sub1}`);
  assert.equal(
    p.links.firstDeposit,
    `${base}/first_deposit?clickid={sub1}&amount={amount}&tid={event_id}`,
  );
  assert.equal(p.links.deposit, `${base}/deposit?clickid={sub1}&amount={amount}&tid={event_id}`);
});

test('1win with clickidParam sub4 builds clickid={sub4}', async () => {
  const { auth } = await signup(t.app);
  const p = await create(auth, { name: '1Win sub4', network: '1win', clickidParam: 'sub4' });
  assert.equal(p.clickidParam, 'sub4');
  for (const link of Object.values(p.links)) assert.match(link, /\?clickid=\{sub4\}(&|$)/);
});

test('binomo: bare links with no query string, emailConfirmation included, click_id default', async () => {
  const { auth } = await signup(t.app);
  const p = await create(auth, { name: 'Binomo', network: 'binomo' });
  assert.equal(p.clickidParam, 'click_id');
  assert.deepEqual(Object.keys(p.links).sort(), [
    'deposit',
    'emailConfirmation',
    'firstDeposit',
    'registration',
  ]);
  assertLinksUnder(p);
  for (const link of Object.values(p.links)) assert.ok(!link.includes('?'), link);
  assert.equal(p.links.registration, `${PUBLIC_URL}/api/postbacks/${p.token}/registration`);
});

test('pocket_option: core links plus emailConfirmation, withdrawal, commission', async () => {
  const { auth } = await signup(t.app);
  const p = await create(auth, { name: 'PO', network: 'pocket_option' });
  assert.equal(p.clickidParam, 'click_id');
  for (const key of [
    'registration',
    'firstDeposit',
    'deposit',
    'emailConfirmation',
    'withdrawal',
    'commission',
  ])
    assert.ok(p.links[key], key);
  assertLinksUnder(p);
  assert.match(p.links.firstDeposit as string, /clickid=\{click_id\}&amount=\{sumdep\}/);
});

test('custom: the user-set macros appear in the links', async () => {
  const { auth } = await signup(t.app);
  const p = await create(auth, {
    name: 'Custom',
    network: 'custom',
    currency: 'eur',
    macros: { clickid: '{subid}', amount: '{payout}', tid: '{tid}' },
  });
  assert.equal(p.currency, 'EUR');
  assert.deepEqual(p.macros, { clickid: '{subid}', amount: '{payout}', tid: '{tid}' });
  assert.deepEqual(Object.keys(p.links), ['registration', 'firstDeposit', 'deposit']);
  assertLinksUnder(p);
  const base = `${PUBLIC_URL}/api/postbacks/${p.token}`;
  assert.equal(p.links.registration, `${base}/registration?clickid={subid}`);
  assert.equal(p.links.deposit, `${base}/deposit?clickid={subid}&amount={payout}&tid={tid}`);
});

test('postback validation answers 400; another workspace campaign answers 404', async () => {
  const { auth } = await signup(t.app);
  const other = await signup(t.app);
  const foreign = await campaign(other.auth);
  for (const body of [
    { name: 'x', network: 'nope' },
    { name: 'x' },
    { network: '1win' },
    { name: '', network: '1win' },
    { name: 'x', network: '1win', clickidParam: 'a b' },
    { name: 'x', network: 'custom', macros: { clickid: '{a}&x=1' } },
    { name: 'x', network: 'custom', macros: { other: '{a}' } },
  ]) {
    const res = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/postbacks', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(typeof res.body.error.code, 'string');
  }
  const currency = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/postbacks', {
    name: 'x',
    network: '1win',
    currency: 'NOPE',
  });
  assert.equal(currency.status, 400);
  assert.equal(currency.body.error.code, 'invalid_currency');

  // A parameter that already carries something else would be read as both.
  for (const clickidParam of [
    'amount',
    'tid',
    'tracker.currency',
    'trader_id',
    'fields.x',
    'reg',
  ]) {
    const res = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/postbacks', {
      name: 'x',
      network: 'custom',
      clickidParam,
    });
    assert.equal(res.status, 400, clickidParam);
    assert.equal(res.body.error.code, 'invalid_clickid_param', clickidParam);
  }
  const ok = await create(auth, { name: 'aliased', network: 'custom', clickidParam: 'subid' });
  assert.equal(ok.clickidParam, 'subid');
  const renamed = await api<ErrorBody>(t.app, auth, 'PATCH', `/api/v1/postbacks/${ok.id}`, {
    clickidParam: 'payout',
  });
  assert.equal(renamed.status, 400);
  assert.equal(renamed.body.error.code, 'invalid_clickid_param');
  assert.match(renamed.body.error.message, /"payout" already carries the amount/);
  assert.equal((await api(t.app, auth, 'DELETE', `/api/v1/postbacks/${ok.id}`)).status, 204);

  for (const campaignId of [foreign.id, '999999', 'abc']) {
    const res = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/postbacks', {
      name: 'x',
      network: '1win',
      campaignId,
    });
    assert.equal(res.status, 404, campaignId);
  }
  const mine = await campaign(auth);
  const scoped = await create(auth, { name: 'scoped', network: '1win', campaignId: mine.id });
  assert.equal(scoped.campaignId, mine.id);
  assert.deepEqual(
    (await api<{ items: Postback[] }>(t.app, auth, 'GET', '/api/v1/postbacks')).body.items.map(
      (p) => p.id,
    ),
    [scoped.id],
  );
});

test('list, get, patch (rename, disable) and delete a postback configuration', async () => {
  const { auth } = await signup(t.app);
  const a = await create(auth, { name: 'A', network: '1win' });
  const b = await create(auth, { name: 'B', network: 'binomo' });

  const list = await api<{ items: Postback[] }>(t.app, auth, 'GET', '/api/v1/postbacks');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.items.map((p) => p.id).sort(), [a.id, b.id].sort());

  const got = await api<Postback>(t.app, auth, 'GET', `/api/v1/postbacks/${a.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, a);

  const renamed = await api<Postback>(t.app, auth, 'PATCH', `/api/v1/postbacks/${a.id}`, {
    name: 'A renamed',
    enabled: false,
  });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, 'A renamed');
  assert.equal(renamed.body.enabled, false);
  assert.equal(renamed.body.token, a.token, 'the token survives a patch');
  assert.deepEqual(renamed.body.links, a.links);
  const reread = await api<Postback>(t.app, auth, 'GET', `/api/v1/postbacks/${a.id}`);
  assert.equal(reread.body.enabled, false);
  assert.equal(reread.body.name, 'A renamed');

  const cur = await api<Postback>(t.app, auth, 'PATCH', `/api/v1/postbacks/${a.id}`, {
    currency: 'rub',
    clickidParam: 'sub2',
  });
  assert.equal(cur.body.currency, 'RUB');
  assert.equal(cur.body.clickidParam, 'sub2');
  assert.match(cur.body.links.registration as string, /clickid=\{sub2\}$/);
  assert.equal(
    (await api(t.app, auth, 'PATCH', `/api/v1/postbacks/${a.id}`, { currency: 'NOPE' })).status,
    400,
  );

  assert.equal((await api(t.app, auth, 'DELETE', `/api/v1/postbacks/${a.id}`)).status, 204);
  assert.equal((await api(t.app, auth, 'GET', `/api/v1/postbacks/${a.id}`)).status, 404);
  assert.equal(
    (await api(t.app, auth, 'PATCH', `/api/v1/postbacks/${a.id}`, { name: 'x' })).status,
    404,
  );
  assert.equal((await api(t.app, auth, 'DELETE', `/api/v1/postbacks/${a.id}`)).status, 404);
  const after = await api<{ items: Postback[] }>(t.app, auth, 'GET', '/api/v1/postbacks');
  assert.deepEqual(
    after.body.items.map((p) => p.id),
    [b.id],
  );
});

test('a change of network takes its clickid parameter and macros unless named; the same network keeps them', async () => {
  const { auth } = await signup(t.app);
  const custom = await create(auth, {
    name: 'Keitaro',
    network: 'custom',
    clickidParam: 'aff_sub',
    currency: 'EUR',
    macros: { clickid: '{cnv_id}', amount: '{revenue}', tid: '{txid}' },
  });
  const path = `/api/v1/postbacks/${custom.id}`;

  // Custom → 1Win: 1Win fills {sub1}, {amount} and {event_id}, not the custom ones.
  const oneWin = await api<Postback>(t.app, auth, 'PATCH', path, { network: '1win' });
  assert.equal(oneWin.status, 200, JSON.stringify(oneWin.body));
  assert.equal(oneWin.body.clickidParam, 'sub1');
  assert.deepEqual(oneWin.body.macros, {});
  assert.equal(oneWin.body.token, custom.token, 'the token survives a change of network');
  assert.equal(oneWin.body.currency, 'EUR', 'the default currency is kept');
  const base = `${PUBLIC_URL}/api/postbacks/${custom.token}`;
  assert.equal(
    oneWin.body.links.firstDeposit,
    `${base}/first_deposit?clickid={sub1}&amount={amount}&tid={event_id}`,
  );

  // The same network again, with the sub field: what was chosen stays.
  const sub4 = await api<Postback>(t.app, auth, 'PATCH', path, {
    network: '1win',
    clickidParam: 'sub4',
  });
  const same = await api<Postback>(t.app, auth, 'PATCH', path, { network: '1win', name: 'x' });
  assert.equal(sub4.body.clickidParam, 'sub4');
  assert.equal(same.body.clickidParam, 'sub4', 'naming the network it has resets nothing');

  // To another network with the parameter and macros named: those are taken.
  const back = await api<Postback>(t.app, auth, 'PATCH', path, {
    network: 'custom',
    clickidParam: 'cnv',
    macros: { amount: '{payout}' },
  });
  assert.equal(back.body.clickidParam, 'cnv');
  assert.deepEqual(back.body.macros, { amount: '{payout}' });
  assert.equal(back.body.links.deposit, `${base}/deposit?clickid={cnv}&amount={payout}&tid={tid}`);

  // The inbound side follows at once: the new parameter carries the clickid.
  const c = await campaign(auth);
  const clickid = await clickOn(c.slug);
  const dep = await fire(t.app, `${base}/first_deposit?cnv=${clickid}&amount=5`);
  assert.equal(dep.body.status, 'recorded', JSON.stringify(dep.body));
  const lead = await api<{ events: { currency: string }[] }>(
    t.app,
    auth,
    'GET',
    `/api/v1/leads/${clickid}`,
  );
  assert.equal(lead.body.events[0]?.currency, 'EUR');
});

test("another workspace's or an unknown postback id answers 404", async () => {
  const mine = await signup(t.app);
  const other = await signup(t.app);
  const theirs = await create(other.auth, { name: 'theirs', network: '1win' });
  for (const id of [theirs.id, '999999', 'abc']) {
    for (const [method, payload] of [
      ['GET', undefined],
      ['PATCH', { name: 'x' }],
      ['DELETE', undefined],
      ['POST', { baseUrl: 'https://a.test/' }],
    ] as const) {
      const url =
        method === 'POST' ? `/api/v1/postbacks/${id}/registration-link` : `/api/v1/postbacks/${id}`;
      const res = await api<ErrorBody>(t.app, mine.auth, method, url, payload);
      assert.equal(res.status, 404, `${method} ${url}`);
      assert.equal(res.body.error.code, 'not_found');
    }
  }
  assert.equal(
    (await api<Postback>(t.app, other.auth, 'GET', `/api/v1/postbacks/${theirs.id}`)).body.name,
    'theirs',
  );
});

test('the registration link keeps the base query, fragment and encoding', async () => {
  const { auth } = await signup(t.app);
  const p = await create(auth, { name: '1Win', network: '1win' });
  const build = (baseUrl: string) =>
    api<{ url: string } & ErrorBody>(
      t.app,
      auth,
      'POST',
      `/api/v1/postbacks/${p.id}/registration-link`,
      { baseUrl },
    );
  const cases: [string, string][] = [
    [
      'https://1wgbch.top/casino/play/aviator?open=register',
      'https://1wgbch.top/casino/play/aviator?open=register&sub1={{tracker.clickid}}',
    ],
    ['https://a.test/r?x=1#frag', 'https://a.test/r?x=1&sub1={{tracker.clickid}}#frag'],
    ['https://a.test/r?sub1=old&b=2', 'https://a.test/r?sub1={{tracker.clickid}}&b=2'],
    ['https://a.test/r', 'https://a.test/r?sub1={{tracker.clickid}}'],
    ['https://a.test/r?q=a%20b+c', 'https://a.test/r?q=a%20b+c&sub1={{tracker.clickid}}'],
    // Pasted with spaces around it, or its scheme in capitals.
    ['  https://a.test/r \n', 'https://a.test/r?sub1={{tracker.clickid}}'],
    ['HTTPS://A.test/r', 'HTTPS://A.test/r?sub1={{tracker.clickid}}'],
  ];
  for (const [baseUrl, expected] of cases) {
    const res = await build(baseUrl);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.url, expected);
  }
  for (const baseUrl of ['ftp://a.test/', 'javascript:alert(1)', 'a.test/r', '']) {
    const res = await build(baseUrl);
    assert.equal(res.status, 400, baseUrl);
    assert.equal(typeof res.body.error.code, 'string');
  }

  const binomo = await create(auth, { name: 'Binomo', network: 'binomo' });
  const res = await api<{ url: string }>(
    t.app,
    auth,
    'POST',
    `/api/v1/postbacks/${binomo.id}/registration-link`,
    { baseUrl: 'https://binomo.test/promo?a=1' },
  );
  assert.equal(res.body.url, 'https://binomo.test/promo?a=1&click_id={{tracker.clickid}}');
});

test('the links fire: registration link → rendered for a lead → network postback recorded', async () => {
  const { auth } = await signup(t.app);
  const c = await campaign(auth);
  const p = await create(auth, { name: '1Win', network: '1win', clickidParam: 'sub4' });
  const clickid = await clickOn(c.slug);

  // The link the bot hands out carries the clickid in sub4.
  const reg = await api<{ url: string }>(
    t.app,
    auth,
    'POST',
    `/api/v1/postbacks/${p.id}/registration-link`,
    { baseUrl: 'https://1wgbch.top/casino/play/aviator?open=register' },
  );
  const rendered = await api<{ url: string }>(t.app, auth, 'POST', '/api/v1/links/render', {
    template: reg.body.url,
    clickid,
  });
  assert.equal(new URL(rendered.body.url).searchParams.get('sub4'), clickid);

  // 1Win calls back with {sub4} replaced.
  const first = await fire(t.app, p.links.registration as string, { '{sub4}': clickid });
  assert.equal(first.status, 200);
  assert.equal(first.body.status, 'recorded');
  assert.equal(first.body.event, 'registration');
  const ftd = await fire(t.app, p.links.firstDeposit as string, {
    '{sub4}': clickid,
    '{amount}': '100',
    '{event_id}': 'e1',
  });
  assert.equal(ftd.body.status, 'recorded');
  const lead = await api<{ events: { event: string }[]; totals: { deposits: string } }>(
    t.app,
    auth,
    'GET',
    `/api/v1/leads/${clickid}`,
  );
  assert.deepEqual(
    lead.body.events.map((e) => e.event),
    ['registration', 'first_deposit'],
  );
  assert.equal(lead.body.totals.deposits, '100');
});

test('custom and bare links fire with their own macros', async () => {
  const { auth } = await signup(t.app);
  const c = await campaign(auth);
  const custom = await create(auth, {
    name: 'Custom',
    network: 'custom',
    macros: { clickid: '{subid}', amount: '{payout}', tid: '{tid}' },
  });
  const binomo = await create(auth, { name: 'Binomo', network: 'binomo' });
  const a = await clickOn(c.slug);
  const b = await clickOn(c.slug);

  const dep = await fire(t.app, custom.links.firstDeposit as string, {
    '{subid}': a,
    '{payout}': '12.5',
    '{tid}': 't1',
  });
  assert.equal(dep.body.status, 'recorded');
  assert.equal(dep.body.clickid, a);

  const bare = await fire(t.app, `${binomo.links.registration}?click_id=${b}`);
  assert.equal(bare.body.status, 'recorded');
  assert.equal(bare.body.clickid, b);
});

test('a disabled configuration refuses its calls; re-enabled it counts; deleted it is 404', async () => {
  const { auth } = await signup(t.app);
  const c = await campaign(auth);
  const p = await create(auth, { name: '1Win', network: '1win' });
  const clickid = await clickOn(c.slug);

  await api(t.app, auth, 'PATCH', `/api/v1/postbacks/${p.id}`, { enabled: false });
  const paused = await fire(t.app, p.links.registration as string, { '{sub1}': clickid });
  assert.equal(paused.status, 403);
  assert.equal((paused.body as ErrorBody).error.code, 'postback_disabled');

  await api(t.app, auth, 'PATCH', `/api/v1/postbacks/${p.id}`, { enabled: true });
  const live = await fire(t.app, p.links.registration as string, { '{sub1}': clickid });
  assert.equal(live.body.status, 'recorded');

  await api(t.app, auth, 'DELETE', `/api/v1/postbacks/${p.id}`);
  const gone = await fire(t.app, p.links.registration as string, { '{sub1}': clickid });
  assert.equal(gone.status, 404);
  assert.equal((gone.body as ErrorBody).error.code, 'unknown_postback');

  const logs = await api<{ items: { httpStatus: number; postbackId: string }[] }>(
    t.app,
    auth,
    'GET',
    `/api/v1/postback-logs?postbackId=${p.id}`,
  );
  assert.deepEqual(
    logs.body.items.map((l) => l.httpStatus),
    [404, 200, 403],
  );
});
