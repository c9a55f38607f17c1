// GET /api/v1/stats: every grouping over one known data set with exact
// decimal sums, date ranges, time zones, filters, currencies and bad input.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, fire, signup, type TestApp, testApp } from '../helpers.js';

type Auth = { authorization: string };
type ErrorBody = { error: { code: string; message: string } };

interface Row {
  key: string;
  clicks: number;
  leads: number;
  registrations: number;
  firstDeposits: number;
  firstDepositAmount: string;
  deposits: number;
  depositAmount: string;
  withdrawalAmount: string;
}

interface Stats {
  from: string;
  to: string;
  tz: string;
  currency: string;
  currencies: string[];
  rows: Row[];
  totals: Row;
}

const BOT = 'https://t.me/my_bot?start={{tracker.clickid}}';
const DAY = '2026-11-20';

function stats(app: TestApp, auth: Auth, query: string) {
  return api<Stats & ErrorBody>(app.app, auth, 'GET', `/api/v1/stats${query}`);
}

async function ok(app: TestApp, auth: Auth, query: string): Promise<Stats> {
  const res = await stats(app, auth, query);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The counts and sums of a row, without its key and label. */
function nums(r: Row | undefined) {
  assert.ok(r, 'missing row');
  return {
    clicks: r.clicks,
    leads: r.leads,
    registrations: r.registrations,
    firstDeposits: r.firstDeposits,
    firstDepositAmount: r.firstDepositAmount,
    deposits: r.deposits,
    depositAmount: r.depositAmount,
    withdrawalAmount: r.withdrawalAmount,
  };
}

function zero(overrides: Partial<ReturnType<typeof nums>> = {}) {
  return {
    clicks: 0,
    leads: 0,
    registrations: 0,
    firstDeposits: 0,
    firstDepositAmount: '0',
    deposits: 0,
    depositAmount: '0',
    withdrawalAmount: '0',
    ...overrides,
  };
}

async function campaign(app: TestApp, auth: Auth, name: string, buyer: string) {
  const res = await api<{ id: string; slug: string }>(app.app, auth, 'POST', '/api/v1/campaigns', {
    name,
    buyer,
    destinationUrl: BOT,
  });
  assert.equal(res.status, 201);
  return res.body;
}

async function postback(app: TestApp, auth: Auth, name: string, network: string) {
  const res = await api<{ id: string; links: Record<string, string> }>(
    app.app,
    auth,
    'POST',
    '/api/v1/postbacks',
    { name, network },
  );
  assert.equal(res.status, 201);
  return res.body;
}

async function click(app: TestApp, slug: string, query = ''): Promise<string> {
  const res = await app.app.inject({ method: 'GET', url: `/c/${slug}${query}` });
  assert.equal(res.statusCode, 302);
  return new URL(res.headers.location as string).searchParams.get('start') as string;
}

async function recorded(p: Promise<{ status: number; body: Record<string, unknown> }>) {
  const res = await p;
  assert.equal(res.body.status, 'recorded', JSON.stringify(res.body));
}

// One shared data set, all on 2026-11-20 (UTC):
// campaign A (buyer alice): clicks a1 (utm x) and a2 (utm y); a1 registers via 1win,
//   first deposit 100, deposits 0.1 and 0.2.
// campaign B (buyer bob): click b1 (utm x) registers via binomo.
let t: TestApp;
let auth: Auth;
let A: { id: string; slug: string };
let B: { id: string; slug: string };
let oneWin: { id: string; links: Record<string, string> };
let binomo: { id: string; links: Record<string, string> };

before(async () => {
  t = await testApp();
  ({ auth } = await signup(t.app));
  A = await campaign(t, auth, 'A', 'alice');
  B = await campaign(t, auth, 'B', 'bob');
  oneWin = await postback(t, auth, 'One', '1win');
  binomo = await postback(t, auth, 'Bin', 'binomo');
  const a1 = await click(t, A.slug, '?utm_campaign=x');
  await click(t, A.slug, '?utm_campaign=y');
  const b1 = await click(t, B.slug, '?utm_campaign=x');
  await recorded(fire(t.app, oneWin.links.registration as string, { '{sub1}': a1 }));
  const money = (amount: string, tid: string) => ({
    '{sub1}': a1,
    '{amount}': amount,
    '{event_id}': tid,
  });
  await recorded(fire(t.app, oneWin.links.firstDeposit as string, money('100', 'e1')));
  await recorded(fire(t.app, oneWin.links.deposit as string, money('0.1', 'e2')));
  await recorded(fire(t.app, oneWin.links.deposit as string, money('0.2', 'e3')));
  await recorded(fire(t.app, `${binomo.links.registration}?click_id=${b1}`));
});
after(() => t.close());

const TOTALS = zero({
  clicks: 3,
  leads: 3,
  registrations: 2,
  firstDeposits: 1,
  firstDepositAmount: '100',
  deposits: 2,
  depositAmount: '0.3',
});
const ROW_A = zero({
  clicks: 2,
  leads: 2,
  registrations: 1,
  firstDeposits: 1,
  firstDepositAmount: '100',
  deposits: 2,
  depositAmount: '0.3',
});
const ROW_B = zero({ clicks: 1, leads: 1, registrations: 1 });
const RANGE = `?from=${DAY}&to=${DAY}`;

test('groupBy=day: one row per day, totals exact', async () => {
  const s = await ok(t, auth, `${RANGE}&groupBy=day`);
  assert.equal(s.currency, 'USD');
  assert.deepEqual(
    s.rows.map((r) => r.key),
    [DAY],
  );
  assert.deepEqual(nums(s.rows[0]), TOTALS);
  assert.deepEqual(nums(s.totals), TOTALS);

  const week = await ok(t, auth, '?from=2026-11-18&to=2026-11-22&groupBy=day');
  assert.deepEqual(
    week.rows.map((r) => r.key),
    ['2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22'],
  );
  assert.deepEqual(nums(week.rows[0]), zero());
  assert.deepEqual(nums(week.rows[2]), TOTALS);
  assert.deepEqual(nums(week.totals), TOTALS);
});

test('groupBy=campaign: a row per campaign', async () => {
  const s = await ok(t, auth, `${RANGE}&groupBy=campaign`);
  assert.deepEqual(
    s.rows.map((r) => r.key),
    [A.id, B.id],
  );
  assert.deepEqual(nums(s.rows[0]), ROW_A);
  assert.deepEqual(nums(s.rows[1]), ROW_B);
  assert.deepEqual(nums(s.totals), TOTALS);
});

test('groupBy=buyer: a row per buyer', async () => {
  const s = await ok(t, auth, `${RANGE}&groupBy=buyer`);
  const byKey = new Map(s.rows.map((r) => [r.key, r]));
  assert.deepEqual([...byKey.keys()].sort(), ['alice', 'bob']);
  assert.deepEqual(nums(byKey.get('alice')), ROW_A);
  assert.deepEqual(nums(byKey.get('bob')), ROW_B);
  assert.deepEqual(nums(s.totals), TOTALS);
});

test('groupBy=postback and groupBy=network: conversions by their configuration', async () => {
  const expectedOne = zero({
    registrations: 1,
    firstDeposits: 1,
    firstDepositAmount: '100',
    deposits: 2,
    depositAmount: '0.3',
  });
  const expectedBin = zero({ registrations: 1 });

  const byPostback = await ok(t, auth, `${RANGE}&groupBy=postback`);
  const p = new Map(byPostback.rows.map((r) => [r.key, r]));
  assert.deepEqual(nums(p.get(oneWin.id)), expectedOne);
  assert.deepEqual(nums(p.get(binomo.id)), expectedBin);
  assert.equal(byPostback.totals.registrations, 2);
  assert.equal(byPostback.totals.depositAmount, '0.3');
  assert.equal(byPostback.totals.firstDepositAmount, '100');

  const byNetwork = await ok(t, auth, `${RANGE}&groupBy=network`);
  const n = new Map(byNetwork.rows.map((r) => [r.key, r]));
  assert.deepEqual([...n.keys()].sort(), ['1win', 'binomo']);
  assert.deepEqual(nums(n.get('1win')), expectedOne);
  assert.deepEqual(nums(n.get('binomo')), expectedBin);
});

test('groupBy=param.utm_campaign: a row per click parameter value', async () => {
  const s = await ok(t, auth, `${RANGE}&groupBy=param.utm_campaign`);
  const byKey = new Map(s.rows.map((r) => [r.key, r]));
  assert.deepEqual([...byKey.keys()].sort(), ['x', 'y']);
  assert.deepEqual(
    nums(byKey.get('x')),
    zero({
      clicks: 2,
      leads: 2,
      registrations: 2,
      firstDeposits: 1,
      firstDepositAmount: '100',
      deposits: 2,
      depositAmount: '0.3',
    }),
  );
  assert.deepEqual(nums(byKey.get('y')), zero({ clicks: 1, leads: 1 }));
  assert.deepEqual(nums(s.totals), TOTALS);
});

test('campaignId filters to one campaign; a foreign or unknown one shows nothing', async () => {
  const a = await ok(t, auth, `${RANGE}&campaignId=${A.id}`);
  assert.deepEqual(nums(a.totals), ROW_A);
  const b = await ok(t, auth, `${RANGE}&campaignId=${B.id}&groupBy=campaign`);
  assert.deepEqual(
    b.rows.map((r) => r.key),
    [B.id],
  );
  assert.deepEqual(nums(b.totals), ROW_B);

  const other = await signup(t.app);
  const theirs = await ok(t, other.auth, `${RANGE}&campaignId=${A.id}`);
  assert.deepEqual(nums(theirs.totals), zero());
  const nobody = await ok(t, other.auth, RANGE);
  assert.deepEqual(nums(nobody.totals), zero());
  assert.equal((await ok(t, auth, `${RANGE}&campaignId=999999`)).totals.clicks, 0);
});

test('a non-numeric campaignId filters to nothing rather than to everything', {}, async () => {
  const s = await ok(t, auth, `${RANGE}&campaignId=abc`);
  assert.deepEqual(nums(s.totals), zero());
});

test('the default range is the last 30 days ending today on the clock', async () => {
  const s = await ok(t, auth, '');
  assert.equal(s.to, DAY);
  assert.equal(s.from, '2026-10-22');
  assert.equal(s.tz, 'UTC');
  assert.equal(s.rows.length, 30);
  assert.equal(s.rows[0]?.key, '2026-10-22');
  assert.equal(s.rows[29]?.key, DAY);
  assert.deepEqual(nums(s.totals), TOTALS);
});

test('bad queries answer 400 with their codes', async () => {
  const cases: [string, string | null][] = [
    ['?tz=Mars/Olympus', 'invalid_timezone'],
    ['?from=2026-11-21&to=2026-11-20', 'invalid_range'],
    ['?from=2026-02-30&to=2026-03-01', 'invalid_date'],
    ['?from=2026-13-01', 'invalid_date'],
    ['?from=yesterday', null],
    ['?from=2026-1-1', null],
    ['?from=2024-01-01&to=2026-01-01', 'invalid_range'],
    ['?groupBy=country', null],
    ['?groupBy=param.', null],
    ['?currency=NOPE', 'invalid_currency'],
  ];
  for (const [query, code] of cases) {
    const res = await stats(t, auth, query);
    assert.equal(res.status, 400, query);
    assert.equal(typeof res.body.error.code, 'string', query);
    if (code) assert.equal(res.body.error.code, code, query);
  }
});

test('from/to exclude days outside the range', async () => {
  const app = await testApp();
  try {
    const { auth } = await signup(app.app);
    const c = await campaign(app, auth, 'C', 'c');
    const p = await postback(app, auth, 'P', '1win');
    const first = await click(app, c.slug); // 2026-11-20
    await recorded(fire(app.app, p.links.registration as string, { '{sub1}': first }));
    app.clock.advance(2 * 86_400_000); // 2026-11-22
    await click(app, c.slug);
    await click(app, c.slug);

    const only20 = await ok(app, auth, '?from=2026-11-20&to=2026-11-21');
    assert.deepEqual(nums(only20.totals), zero({ clicks: 1, leads: 1, registrations: 1 }));
    const only22 = await ok(app, auth, '?from=2026-11-22&to=2026-11-22');
    assert.deepEqual(nums(only22.totals), zero({ clicks: 2, leads: 2 }));
    const before = await ok(app, auth, '?from=2026-11-01&to=2026-11-19');
    assert.deepEqual(nums(before.totals), zero());
    const all = await ok(app, auth, '?from=2026-11-20&to=2026-11-22&groupBy=day');
    assert.deepEqual(
      all.rows.map((r) => [r.key, r.clicks]),
      [
        ['2026-11-20', 1],
        ['2026-11-21', 0],
        ['2026-11-22', 2],
      ],
    );
  } finally {
    await app.close();
  }
});

test('tz=Europe/Moscow moves an event at 22:30Z into the next local day', async () => {
  const app = await testApp();
  try {
    const { auth } = await signup(app.app);
    const c = await campaign(app, auth, 'C', 'c');
    const p = await postback(app, auth, 'P', '1win');
    const noon = await click(app, c.slug); // 12:00Z = 15:00 Moscow, 2026-11-20
    await recorded(fire(app.app, p.links.registration as string, { '{sub1}': noon }));
    app.clock.advance(10.5 * 3_600_000); // 22:30Z = 01:30 Moscow, 2026-11-21
    const late = await click(app, c.slug);
    await recorded(
      fire(app.app, p.links.firstDeposit as string, {
        '{sub1}': late,
        '{amount}': '7.5',
        '{event_id}': 'late',
      }),
    );

    const utc = await ok(app, auth, '?from=2026-11-20&to=2026-11-21&groupBy=day');
    assert.deepEqual(
      utc.rows.map((r) => [r.key, r.clicks, r.registrations, r.firstDeposits]),
      [
        ['2026-11-20', 2, 1, 1],
        ['2026-11-21', 0, 0, 0],
      ],
    );

    const msk = await ok(app, auth, '?from=2026-11-20&to=2026-11-21&groupBy=day&tz=Europe/Moscow');
    assert.equal(msk.tz, 'Europe/Moscow');
    assert.deepEqual(
      msk.rows.map((r) => [
        r.key,
        r.clicks,
        r.registrations,
        r.firstDeposits,
        r.firstDepositAmount,
      ]),
      [
        ['2026-11-20', 1, 1, 0, '0'],
        ['2026-11-21', 1, 0, 1, '7.5'],
      ],
    );
    // A one-day range in Moscow leaves the late event out.
    const mskDay = await ok(app, auth, '?from=2026-11-20&to=2026-11-20&tz=Europe/Moscow');
    assert.deepEqual(nums(mskDay.totals), zero({ clicks: 1, leads: 1, registrations: 1 }));
    // Today, by default, is the caller's local today.
    assert.equal((await ok(app, auth, '?tz=Europe/Moscow')).to, '2026-11-21');
    assert.equal((await ok(app, auth, '')).to, '2026-11-20');
  } finally {
    await app.close();
  }
});

test('currency: sums count one currency; counts count every conversion', async () => {
  const app = await testApp();
  try {
    const { auth } = await signup(app.app);
    const c = await campaign(app, auth, 'C', 'c');
    const usd = (
      await api<{ clickid: string }>(app.app, auth, 'POST', '/api/v1/leads', {
        campaignId: c.id,
      })
    ).body.clickid;
    const eur = (
      await api<{ clickid: string }>(app.app, auth, 'POST', '/api/v1/leads', {
        campaignId: c.id,
      })
    ).body.clickid;
    const manual = (clickid: string, body: Record<string, unknown>) =>
      api(app.app, auth, 'POST', `/api/v1/leads/${clickid}/events`, body);
    assert.equal((await manual(usd, { event: 'first_deposit', amount: '10' })).status, 201);
    assert.equal((await manual(usd, { event: 'deposit', amount: '0.1', tid: 'u1' })).status, 201);
    assert.equal(
      (await manual(eur, { event: 'first_deposit', amount: '50.05', currency: 'EUR' })).status,
      201,
    );

    const def = await ok(app, auth, `?from=${DAY}&to=${DAY}`);
    assert.equal(def.currency, 'USD');
    assert.deepEqual([...def.currencies].sort(), ['EUR', 'USD']);
    assert.equal(def.totals.firstDeposits, 2);
    assert.equal(def.totals.firstDepositAmount, '10');
    assert.equal(def.totals.depositAmount, '0.1');

    const inEur = await ok(app, auth, `?from=${DAY}&to=${DAY}&currency=eur`);
    assert.equal(inEur.currency, 'EUR');
    assert.equal(inEur.totals.firstDeposits, 2);
    assert.equal(inEur.totals.firstDepositAmount, '50.05');
    assert.equal(inEur.totals.depositAmount, '0');

    // Manual events have no postback: they group under network "manual".
    const byNetwork = await ok(app, auth, `?from=${DAY}&to=${DAY}&groupBy=network`);
    assert.deepEqual(
      byNetwork.rows.map((r) => r.key),
      ['manual'],
    );
  } finally {
    await app.close();
  }
});

test('with only one non-USD currency, sums (and withdrawals) default to it', async () => {
  const app = await testApp();
  try {
    const { auth } = await signup(app.app);
    const lead = (await api<{ clickid: string }>(app.app, auth, 'POST', '/api/v1/leads', {})).body
      .clickid;
    await api(app.app, auth, 'POST', `/api/v1/leads/${lead}/events`, {
      event: 'first_deposit',
      amount: '3.3',
      currency: 'RUB',
    });
    await api(app.app, auth, 'POST', `/api/v1/leads/${lead}/events`, {
      event: 'withdrawal',
      amount: '1.1',
      currency: 'RUB',
    });
    const s = await ok(app, auth, `?from=${DAY}&to=${DAY}`);
    assert.equal(s.currency, 'RUB');
    assert.equal(s.totals.firstDepositAmount, '3.3');
    assert.equal(s.totals.withdrawalAmount, '1.1');
  } finally {
    await app.close();
  }
});
