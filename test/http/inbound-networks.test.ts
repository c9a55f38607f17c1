// The inbound postback receiver as the networks really call it: the generated
// links with their macros replaced, Binpartner's bare paths with its own
// parameters, Chatterfy's format, form and JSON bodies, other trackers' names,
// and the counting rules end to end.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { api, fire, funnel, PUBLIC_URL, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

type Auth = { authorization: string };

interface LeadEvent {
  event: string;
  amount: string | null;
  currency: string | null;
  tid: string | null;
}

interface Lead {
  clickid: string;
  fields: Record<string, string>;
  events: LeadEvent[];
  totals: { deposits: string; withdrawals: string; balance: string; currency: string | null };
}

interface LogItem {
  httpStatus: number;
  status: string;
  event: string | null;
  clickid: string | null;
  conversionId: string | null;
  amount: string | null;
  currency: string | null;
  method: string;
}

type Body = Record<string, unknown>;

async function setup(network = '1win', extra: Record<string, unknown> = {}) {
  const account = await signup(t.app);
  const f = await funnel(t.app, account.auth, network, extra);
  assert.ok(f.postback.links, `postback not created: ${JSON.stringify(f.postback)}`);
  const { token, clickidParam } = f.postback as typeof f.postback & { clickidParam: string };
  return {
    ...account,
    ...f,
    clickidParam,
    links: f.postback.links,
    base: `/api/postbacks/${token}`,
  };
}

async function send(options: InjectOptions | string): Promise<{ status: number; body: Body }> {
  const res = await t.app.inject(
    typeof options === 'string' ? { method: 'GET', url: options } : options,
  );
  return { status: res.statusCode, body: res.json() as Body };
}

/** The postback answered 200 with this status and event; returns its conversionId. */
function expectOk(
  res: { status: number; body: Body },
  status: 'recorded' | 'duplicate',
  event: string,
): string {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.ok, true);
  assert.equal(res.body.status, status, JSON.stringify(res.body));
  assert.equal(res.body.event, event);
  assert.equal(typeof res.body.conversionId, 'string');
  return res.body.conversionId as string;
}

async function lead(auth: Auth, clickid: string): Promise<Lead> {
  const res = await api<Lead>(t.app, auth, 'GET', `/api/v1/leads/${clickid}`);
  assert.equal(res.status, 200);
  return res.body;
}

async function logs(auth: Auth): Promise<LogItem[]> {
  const res = await api<{ items: LogItem[] }>(t.app, auth, 'GET', '/api/v1/postback-logs');
  assert.equal(res.status, 200);
  return res.body.items;
}

const events = (l: Lead) => l.events.map((e) => e.event).sort();

// --- 1Win -----------------------------------------------------------------

test('1Win: the three generated links, fired with their macros replaced', async () => {
  const s = await setup('1win');
  assert.deepEqual(Object.keys(s.links), ['registration', 'firstDeposit', 'deposit']);
  for (const link of Object.values(s.links)) {
    assert.ok(link.startsWith(`${PUBLIC_URL}/api/postbacks/`), link);
    assert.ok(link.includes('{sub1}'), link);
  }
  assert.ok(s.links.firstDeposit?.includes('{amount}'));
  assert.ok(s.links.firstDeposit?.includes('{event_id}'));
  const v = { '{sub1}': s.clickid };
  expectOk(await fire(t.app, s.links.registration as string, v), 'recorded', 'registration');
  expectOk(
    await fire(t.app, s.links.firstDeposit as string, {
      ...v,
      '{amount}': '100',
      '{event_id}': 'e1',
    }),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await fire(t.app, s.links.deposit as string, { ...v, '{amount}': '25,75', '{event_id}': 'e2' }),
    'recorded',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.deepEqual(events(l), ['deposit', 'first_deposit', 'registration']);
  assert.equal(l.totals.deposits, '125.75');
  assert.equal(l.totals.withdrawals, '0');
  assert.equal(l.totals.balance, '125.75');
  assert.equal(l.totals.currency, 'USD');
  const logged = await logs(s.auth);
  assert.equal(logged.length, 3);
  assert.ok(logged.every((r) => r.httpStatus === 200 && r.status === 'recorded'));
});

test('1Win with clickidParam sub4: links carry {sub4}, and a bare sub4= parameter works', async () => {
  const s = await setup('1win', { clickidParam: 'sub4' });
  assert.equal(s.clickidParam, 'sub4');
  for (const link of Object.values(s.links)) {
    assert.ok(link.includes('{sub4}'), link);
    assert.ok(!link.includes('{sub1}'), link);
  }
  const v = { '{sub4}': s.clickid };
  expectOk(await fire(t.app, s.links.registration as string, v), 'recorded', 'registration');
  expectOk(
    await fire(t.app, s.links.firstDeposit as string, {
      ...v,
      '{amount}': '40',
      '{event_id}': 'e1',
    }),
    'recorded',
    'first_deposit',
  );
  // A network that sends the clickid in its own parameter name.
  expectOk(
    await send(`${s.base}/deposit?sub4=${s.clickid}&amount=10.5&event_id=e2`),
    'recorded',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.totals.deposits, '50.5');
});

// --- Binomo (Binpartner) ----------------------------------------------------

test('Binomo: bare path links; Binpartner appends click_id and its event flags', async () => {
  const s = await setup('binomo');
  assert.equal(s.clickidParam, 'click_id');
  assert.ok(s.links.registration && s.links.firstDeposit && s.links.deposit);
  for (const [key, link] of Object.entries(s.links)) {
    assert.ok(!link.includes('?'), `${key}: ${link}`);
    assert.ok(!link.includes('{'), `${key}: ${link}`);
    assert.ok(link.startsWith(`${PUBLIC_URL}/api/postbacks/`), link);
  }
  const id = s.clickid;
  expectOk(
    await fire(t.app, `${s.links.registration}?click_id=${id}&reg=true`),
    'recorded',
    'registration',
  );
  expectOk(
    await fire(
      t.app,
      `${s.links.firstDeposit}?click_id=${id}&ftd=true&amount=50&transaction_id=t1`,
    ),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await fire(t.app, `${s.links.deposit}?click_id=${id}&dep=true&amount=20&transaction_id=t2`),
    'recorded',
    'deposit',
  );
  // Binpartner retries the deposit: counted once.
  expectOk(
    await fire(t.app, `${s.links.deposit}?click_id=${id}&dep=true&amount=20&transaction_id=t2`),
    'duplicate',
    'deposit',
  );
  const l = await lead(s.auth, id);
  assert.deepEqual(events(l), ['deposit', 'first_deposit', 'registration']);
  assert.equal(l.totals.deposits, '70');
  assert.equal(l.totals.currency, 'USD');
  const ftd = l.events.find((e) => e.event === 'first_deposit');
  assert.equal(ftd?.tid, 't1');
  assert.equal(ftd?.amount, '50');
});

test('Binomo: the event from the flags alone on /api/postbacks/:token', async () => {
  const s = await setup('binomo');
  const id = s.clickid;
  expectOk(await send(`${s.base}?click_id=${id}&reg=true`), 'recorded', 'registration');
  expectOk(
    await send(`${s.base}?click_id=${id}&ftd=true&amount=50&transaction_id=t1`),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await send(`${s.base}?click_id=${id}&dep=true&amount=20&transaction_id=t2`),
    'recorded',
    'deposit',
  );
  const l = await lead(s.auth, id);
  assert.equal(l.totals.deposits, '70');
});

// --- Pocket Option ----------------------------------------------------------

test('Pocket Option: every link, withdrawal and commission, trader_id on the lead', async () => {
  const s = await setup('pocket_option');
  for (const key of [
    'registration',
    'firstDeposit',
    'deposit',
    'emailConfirmation',
    'withdrawal',
    'commission',
  ]) {
    const link = s.links[key];
    assert.ok(link, `no ${key} link`);
    assert.ok(link.includes('{click_id}'), link);
    assert.ok(link.includes('fields.trader_id={trader_id}'), link);
  }
  assert.ok(s.links.withdrawal?.includes('{sumdep}'));
  const v = { '{click_id}': s.clickid, '{trader_id}': 'T42' };
  expectOk(await fire(t.app, s.links.registration as string, v), 'recorded', 'registration');
  expectOk(
    await fire(t.app, s.links.emailConfirmation as string, v),
    'recorded',
    'email_confirmation',
  );
  expectOk(
    await fire(t.app, s.links.firstDeposit as string, { ...v, '{sumdep}': '100' }),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await fire(t.app, s.links.deposit as string, { ...v, '{sumdep}': '50.25' }),
    'recorded',
    'deposit',
  );
  // A positive sumdep on the withdrawal link counts as money out.
  expectOk(
    await fire(t.app, s.links.withdrawal as string, { ...v, '{sumdep}': '30' }),
    'recorded',
    'withdrawal',
  );
  expectOk(
    await fire(t.app, s.links.commission as string, { ...v, '{sumdep}': '7.5' }),
    'recorded',
    'commission',
  );
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.fields.trader_id, 'T42');
  assert.deepEqual(events(l), [
    'commission',
    'deposit',
    'email_confirmation',
    'first_deposit',
    'registration',
    'withdrawal',
  ]);
  assert.equal(l.totals.deposits, '150.25');
  assert.equal(l.totals.withdrawals, '30');
  assert.equal(l.totals.balance, '120.25');
  assert.equal(l.events.find((e) => e.event === 'withdrawal')?.amount, '-30');
  assert.equal(l.events.find((e) => e.event === 'commission')?.amount, '7.5');
});

test('Pocket Option: an unfilled {trader_id} macro is not written on the lead', async () => {
  const s = await setup('pocket_option');
  expectOk(
    await fire(t.app, s.links.registration as string, { '{click_id}': s.clickid }),
    'recorded',
    'registration',
  );
  assert.equal((await lead(s.auth, s.clickid)).fields.trader_id, undefined);
});

// --- Chatterfy's format -----------------------------------------------------

test("Chatterfy's tracker-postback format, unchanged: sale, resale, sale + new tid, retry", async () => {
  const s = await setup('1win');
  const link = (event: string, cost: string, tid: string) =>
    `${PUBLIC_URL}${s.base}/tracker-postback?clickid={sub1}&tracker.event=${event}&tracker.cost=${cost}&tracker.currency=usd&tracker.tid=${tid}&fields.user_id=7`;
  const v = { '{sub1}': s.clickid };
  expectOk(
    await fire(
      t.app,
      `${PUBLIC_URL}${s.base}/tracker-postback?clickid={sub1}&tracker.event=registration`,
      v,
    ),
    'recorded',
    'registration',
  );
  const sale = expectOk(
    await fire(t.app, link('sale', '100', 'abc'), v),
    'recorded',
    'first_deposit',
  );
  expectOk(await fire(t.app, link('resale', '25', 'def'), v), 'recorded', 'deposit');
  // "RD — resale, or sale + tid": a second sale with a new tid is a deposit.
  expectOk(await fire(t.app, link('sale', '40', 'ghi'), v), 'recorded', 'deposit');
  // The network retries the first sale: a duplicate of it.
  const retry = await fire(t.app, link('sale', '100', 'abc'), v);
  assert.equal(expectOk(retry, 'duplicate', 'first_deposit'), sale);
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.fields.user_id, '7');
  assert.deepEqual(events(l), ['deposit', 'deposit', 'first_deposit', 'registration']);
  assert.equal(l.totals.deposits, '165');
  assert.equal(l.totals.currency, 'USD');
  assert.ok(l.events.every((e) => e.event === 'registration' || e.currency === 'USD'));
  const statuses = (await logs(s.auth)).map((r) => r.status);
  assert.deepEqual(statuses, ['duplicate', 'recorded', 'recorded', 'recorded', 'recorded']);
});

// --- POST bodies ------------------------------------------------------------

test('POST with a form body', async () => {
  const s = await setup('1win');
  const res = await send({
    method: 'POST',
    url: `${s.base}/first_deposit`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `clickid=${s.clickid}&amount=12.5&currency=eur&tid=f1&fields.player_id=p%209`,
  });
  expectOk(res, 'recorded', 'first_deposit');
  const chatterfy = await send({
    method: 'POST',
    url: `${s.base}/tracker-postback`,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    payload: `clickid=${s.clickid}&tracker.event=resale&tracker.cost=7,5&tracker.currency=EUR&tracker.tid=f2`,
  });
  expectOk(chatterfy, 'recorded', 'deposit');
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.fields.player_id, 'p 9');
  assert.equal(l.totals.deposits, '20');
  assert.equal(l.totals.currency, 'EUR');
  assert.equal((await logs(s.auth))[0]?.method, 'POST');
});

test('POST with a JSON body, flat and nested', async () => {
  const s = await setup('1win');
  expectOk(
    await send({
      method: 'POST',
      url: `${s.base}/first_deposit`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        clickid: s.clickid,
        amount: '100.5',
        tid: 'j1',
        fields: { user_id: 9 },
      }),
    }),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await send({
      method: 'POST',
      url: `${s.base}/tracker-postback`,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({
        clickid: s.clickid,
        tracker: { event: 'resale', cost: 20.25, currency: 'usd', tid: 'j2' },
      }),
    }),
    'recorded',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.fields.user_id, '9');
  assert.equal(l.totals.deposits, '120.75');
});

test('JSON numbers are stored as sent: no tid or amount goes through a binary float', async () => {
  const s = await setup('custom');
  const post = (json: string) =>
    send({
      method: 'POST',
      url: `${s.base}/deposit`,
      headers: { 'content-type': 'application/json' },
      payload: json,
    });
  // 2^53 + 1 and 2^53 are one double: the second deposit is other money, not a repeat.
  expectOk(
    await post(`{"clickid":"${s.clickid}","amount":"50","tid":9007199254740993}`),
    'recorded',
    'deposit',
  );
  expectOk(
    await post(`{"clickid":"${s.clickid}","amount":"70","tid":9007199254740992}`),
    'recorded',
    'deposit',
  );
  expectOk(
    await post(`{"clickid":"${s.clickid}","amount":12345678901.123456,"tid":"x1"}`),
    'recorded',
    'deposit',
  );
  expectOk(
    await post(`{"clickid":"${s.clickid}","amount":0.10,"tid":1.0,"fields":{"n":1.10}}`),
    'recorded',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.deepEqual(l.events.map((e) => [e.amount, e.tid]).sort(), [
    ['0.1', '1.0'],
    ['12345678901.123456', 'x1'],
    ['50', '9007199254740993'],
    ['70', '9007199254740992'],
  ]);
  assert.equal(l.totals.deposits, '12345679021.223456');
  assert.equal(l.fields.n, '1.10');
});

// --- Custom: other trackers' parameter names --------------------------------

test('Custom, Keitaro-style: subid, payout, tid (and status as the event)', async () => {
  const s = await setup('custom');
  assert.equal(s.clickidParam, 'subid');
  assert.ok(s.links.firstDeposit?.includes('{subid}'));
  assert.ok(s.links.firstDeposit?.includes('{payout}'));
  assert.ok(s.links.firstDeposit?.includes('{tid}'));
  expectOk(
    await fire(t.app, s.links.registration as string, { '{subid}': s.clickid }),
    'recorded',
    'registration',
  );
  expectOk(
    await fire(t.app, s.links.firstDeposit as string, {
      '{subid}': s.clickid,
      '{payout}': '30',
      '{tid}': 'k1',
    }),
    'recorded',
    'first_deposit',
  );
  // Keitaro's own postback shape: the names it uses, on a path per event...
  expectOk(
    await send(`${s.base}/deposit?subid=${s.clickid}&payout=12.34&tid=k2`),
    'recorded',
    'deposit',
  );
  // ... or the event in `status` on the bare token path.
  expectOk(
    await send(`${s.base}?subid=${s.clickid}&status=rebill&payout=5&tid=k3`),
    'recorded',
    'deposit',
  );
  expectOk(
    await send(`${s.base}?subid=${s.clickid}&status=rebill&payout=5&tid=k3`),
    'duplicate',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.totals.deposits, '47.34');
});

test('Custom, Voluum-style: cid, payout, txid', async () => {
  const s = await setup('custom', {
    clickidParam: 'cid',
    macros: { clickid: '{cid}', amount: '{payout}', tid: '{txid}' },
  });
  assert.ok(s.links.deposit?.includes('{cid}'));
  assert.ok(s.links.deposit?.includes('{txid}'));
  expectOk(
    await fire(t.app, s.links.firstDeposit as string, {
      '{cid}': s.clickid,
      '{payout}': '10',
      '{txid}': 'v1',
    }),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await send(`${s.base}/deposit?cid=${s.clickid}&payout=2.5&txid=v2`),
    'recorded',
    'deposit',
  );
  expectOk(
    await send(`${s.base}/deposit?cid=${s.clickid}&payout=2.5&txid=v2`),
    'duplicate',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.totals.deposits, '12.5');
  assert.deepEqual(l.events.map((e) => e.tid).sort(), ['v1', 'v2']);
});

// --- Counting rules, end to end ---------------------------------------------

test('registration twice → the second is a duplicate with the same conversionId', async () => {
  const s = await setup('1win');
  const url = `${s.base}/registration?clickid=${s.clickid}`;
  const first = expectOk(await send(url), 'recorded', 'registration');
  const second = expectOk(await send(url), 'duplicate', 'registration');
  assert.equal(second, first);
  assert.equal((await lead(s.auth, s.clickid)).events.length, 1);
  const [row] = await logs(s.auth);
  assert.equal(row?.status, 'duplicate');
  assert.equal(row?.conversionId, first);
});

test('a deposit with the same tid twice → duplicate, counted once', async () => {
  const s = await setup('1win');
  const url = `${s.base}/deposit?clickid=${s.clickid}&amount=20&tid=same`;
  const first = expectOk(await send(url), 'recorded', 'deposit');
  assert.equal(expectOk(await send(url), 'duplicate', 'deposit'), first);
  // Same tid, a different amount: still the same money transaction.
  const other = await send(`${s.base}/deposit?clickid=${s.clickid}&amount=99&tid=same`);
  assert.equal(expectOk(other, 'duplicate', 'deposit'), first);
  assert.equal((await lead(s.auth, s.clickid)).totals.deposits, '20');
});

test('the same deposit arriving concurrently is counted once', async () => {
  const s = await setup('1win');
  const url = `${s.base}/deposit?clickid=${s.clickid}&amount=33.33&tid=race`;
  const answers = await Promise.all(Array.from({ length: 8 }, () => send(url)));
  const statuses = answers.map((a) => a.body.status).sort();
  assert.deepEqual(statuses, [...Array(7).fill('duplicate'), 'recorded']);
  assert.equal(new Set(answers.map((a) => a.body.conversionId)).size, 1);
  assert.equal((await lead(s.auth, s.clickid)).totals.deposits, '33.33');
});

test("the postback log shows each request's amount and currency: the conversion's it counted or repeated", async () => {
  const s = await setup('1win');
  const deposit = (clickid: string, amount: string, tid: string, extra = '') =>
    send(`${s.base}/deposit?clickid=${clickid}&amount=${amount}&tid=${tid}${extra}`);
  const big = expectOk(
    await deposit(s.clickid, '123456789012.123456', 'big'),
    'recorded',
    'deposit',
  );
  // Resent with another amount: the row shows the money that was counted.
  assert.equal(expectOk(await deposit(s.clickid, '5', 'big'), 'duplicate', 'deposit'), big);
  expectOk(await deposit(s.clickid, '0,5', 'eur', '&currency=eur'), 'recorded', 'deposit');
  expectOk(await send(`${s.base}/registration?clickid=${s.clickid}`), 'recorded', 'registration');
  const unmatched = await deposit('nobody', '7', 'x');
  assert.equal(unmatched.body.status, 'unmatched');
  assert.equal((await deposit(s.clickid, 'abc', 'y')).status, 400);

  const res = await t.app.inject({
    method: 'GET',
    url: '/api/v1/postback-logs',
    headers: s.auth,
  });
  assert.equal(res.statusCode, 200);
  // Exactly as sent, a string: no double on the way (it would read 123456789012.12346).
  assert.ok(res.body.includes('"amount":"123456789012.123456","currency":"USD"'), res.body);
  const rows = (res.json() as { items: LogItem[] }).items;
  assert.deepEqual(
    rows.map((r) => [r.status, r.event, r.amount, r.currency]),
    [
      ['rejected', 'deposit', null, null],
      ['unmatched', 'deposit', null, null],
      ['recorded', 'registration', null, null],
      ['recorded', 'deposit', '0.5', 'EUR'],
      ['duplicate', 'deposit', '123456789012.123456', 'USD'],
      ['recorded', 'deposit', '123456789012.123456', 'USD'],
    ],
  );
  // Every field the log had before is still there.
  for (const row of rows) {
    for (const key of ['id', 'at', 'postbackId', 'method', 'url', 'ip', 'userAgent', 'body']) {
      assert.ok(key in row, `${key} missing from ${JSON.stringify(row)}`);
    }
  }
  const duplicates = await api<{ items: LogItem[] }>(
    t.app,
    s.auth,
    'GET',
    '/api/v1/postback-logs?status=duplicate',
  );
  assert.deepEqual(
    duplicates.body.items.map((r) => [r.conversionId, r.amount, r.currency]),
    [[big, '123456789012.123456', 'USD']],
  );
});

test('a deposit without tid: resent within 60 s → duplicate; after 61 s → recorded', async () => {
  const s = await setup('1win');
  const url = `${s.base}/deposit?clickid=${s.clickid}&amount=15.5`;
  const first = expectOk(await send(url), 'recorded', 'deposit');
  t.clock.advance(30_000);
  assert.equal(expectOk(await send(url), 'duplicate', 'deposit'), first);
  // A different amount within the window is another deposit.
  expectOk(await send(`${s.base}/deposit?clickid=${s.clickid}&amount=16`), 'recorded', 'deposit');
  t.clock.advance(61_000);
  const again = expectOk(await send(url), 'recorded', 'deposit');
  assert.notEqual(again, first);
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.events.filter((e) => e.event === 'deposit' && e.amount === '15.5').length, 2);
  assert.equal(l.totals.deposits, '47');
});

test('out of order: a deposit before any registration is recorded, then the registration', async () => {
  const s = await setup('1win');
  expectOk(
    await send(`${s.base}/deposit?clickid=${s.clickid}&amount=5&tid=d1`),
    'recorded',
    'deposit',
  );
  expectOk(await send(`${s.base}/registration?clickid=${s.clickid}`), 'recorded', 'registration');
  const l = await lead(s.auth, s.clickid);
  assert.deepEqual(events(l), ['deposit', 'registration']);
  assert.equal(l.totals.deposits, '5');
});

test('a first deposit after a deposit is still recorded as first_deposit', async () => {
  const s = await setup('1win');
  expectOk(
    await send(`${s.base}/deposit?clickid=${s.clickid}&amount=5&tid=d1`),
    'recorded',
    'deposit',
  );
  expectOk(
    await send(`${s.base}/first_deposit?clickid=${s.clickid}&amount=100&tid=f1`),
    'recorded',
    'first_deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.deepEqual(events(l), ['deposit', 'first_deposit']);
  assert.equal(l.totals.deposits, '105');
});

test('a first deposit without tid, sent twice → duplicate of the first', async () => {
  const s = await setup('1win');
  const url = `${s.base}/first_deposit?clickid=${s.clickid}&amount=100`;
  const first = expectOk(await send(url), 'recorded', 'first_deposit');
  t.clock.advance(3_600_000);
  assert.equal(expectOk(await send(url), 'duplicate', 'first_deposit'), first);
  assert.equal((await lead(s.auth, s.clickid)).totals.deposits, '100');
});

test('exact decimals: amounts that binary floats get wrong sum exactly', async () => {
  const s = await setup('1win');
  expectOk(
    await send(`${s.base}/first_deposit?clickid=${s.clickid}&amount=0.1&tid=a`),
    'recorded',
    'first_deposit',
  );
  expectOk(
    await send(`${s.base}/deposit?clickid=${s.clickid}&amount=0.2&tid=b`),
    'recorded',
    'deposit',
  );
  expectOk(
    await send(`${s.base}/deposit?clickid=${s.clickid}&amount=999999999999.999999&tid=c`),
    'recorded',
    'deposit',
  );
  const l = await lead(s.auth, s.clickid);
  assert.equal(l.totals.deposits, '1000000000000.299999');
});
