// Forwarding end to end through the public surface: sources and auto actions
// configured over the API, events arriving as postbacks, clicks and bot
// bindings, and local servers standing in for Facebook, a tracker and a bot,
// checking exactly what they receive. The worker is driven step by step with
// the test's clock, so retries and expiry need no waiting.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import { type FakeDestination, fakeDestination } from '../fake-destination.js';
import { api, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
let fb: FakeDestination;
let bot: FakeDestination;

const TOKEN = 'EAAB-test-access-token-1234567890';
const HOUR = 3_600_000;

before(async () => {
  fb = await fakeDestination();
  bot = await fakeDestination();
  t = await testApp({
    FACEBOOK_GRAPH_URL: fb.url,
    ALLOW_PRIVATE_WEBHOOKS: 'true',
    FORWARD_RETRY_BASE_MS: '1000',
    FORWARD_TIMEOUT_MS: '400',
  });
});
after(async () => {
  await t.close();
  await fb.close();
  await bot.close();
});
beforeEach(() => {
  for (const fake of [fb, bot]) {
    fake.received.length = 0;
    fake.script.length = 0;
    fake.fallback = { status: 200, body: '{"events_received":1}' };
    fake.maxConcurrent = 0;
    fake.decide = null;
  }
});

type Auth = { authorization: string };
type Json = Record<string, unknown>;

interface Delivery {
  id: string;
  sourceId: string;
  sourceType: string;
  event: string;
  destinationEvent: string | null;
  eventId: string;
  attempt: number;
  httpStatus: number | null;
  status: string;
  error: string | null;
  request: string;
  response: string | null;
}

/** A workspace with a campaign, a custom postback and one lead that clicked. */
async function setup(clickQuery = 'fbclid=IwAR3xYz_CaseMatters&fbp=fb.1.1700000000000.42') {
  const account = await signup(t.app);
  const campaign = await api<{ id: string; slug: string }>(
    t.app,
    account.auth,
    'POST',
    '/api/v1/campaigns',
    { name: 'FB RU', destinationUrl: 'https://t.me/bot?start={{tracker.clickid}}' },
  );
  const postback = await api<{ token: string }>(t.app, account.auth, 'POST', '/api/v1/postbacks', {
    name: 'custom',
    network: 'custom',
  });
  const clickAt = t.clock.now;
  const click = await t.app.inject({
    method: 'GET',
    url: `/c/${campaign.body.slug}?${clickQuery}`,
    headers: { 'user-agent': 'Mozilla/5.0 Test', 'x-forwarded-for': '203.0.113.9' },
    remoteAddress: '203.0.113.9',
  });
  const clickid = new URL(click.headers.location as string).searchParams.get('start') as string;
  return {
    auth: account.auth,
    workspaceId: account.workspaceId,
    campaign: campaign.body,
    token: postback.body.token,
    clickid,
    clickAt,
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function postback(s: Setup, event: string, query: Record<string, string> = {}) {
  const qs = new URLSearchParams({ clickid: s.clickid, ...query });
  const res = await t.app.inject({
    method: 'GET',
    url: `/api/postbacks/${s.token}/${event}?${qs}`,
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { status: string };
}

async function addFacebook(s: Setup, extra: Json = {}) {
  const res = await api<Json & { id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/sources`,
    {
      type: 'facebook',
      name: 'Pixel',
      pixelId: '1234567890',
      accessToken: TOKEN,
      testEventCode: 'TEST123',
      ...extra,
    },
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function deliveries(auth: Auth, query = ''): Promise<Delivery[]> {
  const res = await api<{ items: Delivery[] }>(t.app, auth, 'GET', `/api/v1/deliveries${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items;
}

const drain = () => t.app.forwarder.drain();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type FbEvent = {
  event_name: string;
  event_time: number;
  event_id: string;
  action_source: string;
  event_source_url?: string;
  user_data: Record<string, unknown>;
  custom_data?: Record<string, unknown>;
};

function fbEvents(): FbEvent[] {
  return fb.received.flatMap((r) => (JSON.parse(r.body) as { data: FbEvent[] }).data);
}

test('Facebook gets the click as Lead and conversions by the default mapping, with click data and exact amounts', async () => {
  const s = await setup();
  const source = await addFacebook(s);
  assert.equal(source.hasAccessToken, true);
  assert.equal('accessToken' in source, false, 'the token is never returned');
  assert.deepEqual(source.mapping, {
    click: 'Lead',
    contact: 'Contact',
    registration: 'CompleteRegistration',
    first_deposit: 'Purchase',
  });

  // The click came before the source: only events after it are forwarded.
  t.clock.advance(60_000);
  assert.equal((await postback(s, 'registration')).status, 'recorded');
  t.clock.advance(60_000);
  const ftdAt = t.clock.now;
  await postback(s, 'first_deposit', { amount: '150.5', currency: 'usd', tid: 'T1' });
  await postback(s, 'deposit', { amount: '20', currency: 'USD', tid: 'T2' });
  await drain();

  assert.equal(fb.received.length, 1, 'events due together go out in one request');
  assert.equal(fbEvents().length, 2, 'registration and first deposit; a deposit is unmapped');
  const [reg, ftd] = fbEvents() as [FbEvent, FbEvent];
  const request = fb.received[0];
  assert.equal(request?.method, 'POST');
  assert.equal(request?.url, `/v24.0/1234567890/events?access_token=${encodeURIComponent(TOKEN)}`);
  assert.equal(fb.json(0).test_event_code, 'TEST123');

  assert.equal(reg.event_name, 'CompleteRegistration');
  assert.equal(reg.action_source, 'website');
  assert.equal(reg.event_source_url, `http://track.test/c/${s.campaign.slug}`);
  assert.match(reg.event_id, /^cb-cv-\d+$/);
  assert.deepEqual(reg.user_data, {
    fbc: `fb.1.${s.clickAt}.IwAR3xYz_CaseMatters`,
    fbp: 'fb.1.1700000000000.42',
    client_ip_address: '203.0.113.9',
    client_user_agent: 'Mozilla/5.0 Test',
    external_id: [sha256(s.clickid.toLowerCase())],
  });
  assert.equal(ftd.event_name, 'Purchase');
  assert.equal(ftd.event_time, Math.floor(ftdAt / 1000));
  assert.notEqual(ftd.event_id, reg.event_id);
  // The amount is the network's decimal, written as a JSON number without a float on the way.
  assert.match(fb.received[0]?.body ?? '', /"custom_data":\{"value":150\.5,"currency":"USD"\}/);

  const logs = await deliveries(s.auth);
  assert.equal(logs.length, 2);
  for (const d of logs) {
    assert.equal(d.status, 'delivered');
    assert.equal(d.httpStatus, 200);
    assert.equal(d.sourceType, 'facebook');
    assert.ok(!d.request.includes(TOKEN), 'the token is redacted in the logs');
    assert.match(d.request, /access_token=\[redacted\]/);
  }
  // One request carried both; the order their log rows commit in is not defined.
  assert.deepEqual(logs.map((d) => d.destinationEvent).sort(), [
    'CompleteRegistration',
    'Purchase',
  ]);
  assert.equal(await drain(), 0, 'nothing left to send');
});

test('the click itself is sent as Lead when the source exists before it; a first bot binding as Contact', async () => {
  const account = await signup(t.app);
  const campaign = await api<{ id: string; slug: string }>(
    t.app,
    account.auth,
    'POST',
    '/api/v1/campaigns',
    { name: 'C', destinationUrl: 'https://t.me/bot?start={{tracker.clickid}}' },
  );
  await api(t.app, account.auth, 'POST', `/api/v1/campaigns/${campaign.body.id}/sources`, {
    type: 'facebook',
    name: 'Pixel',
    pixelId: '99999',
    accessToken: TOKEN,
  });
  const click = await t.app.inject({ method: 'GET', url: `/c/${campaign.body.slug}?fbclid=abc` });
  const clickid = new URL(click.headers.location as string).searchParams.get('start') as string;
  for (const externalId of ['777', '777']) {
    const bound = await api(t.app, account.auth, 'POST', '/api/v1/leads', { clickid, externalId });
    assert.equal(bound.status, 200);
  }
  await drain();
  assert.deepEqual(
    fbEvents().map((e) => e.event_name),
    ['Lead', 'Contact'],
    'one Contact: binding again is not a new contact',
  );
  const [lead, contact] = fbEvents() as [FbEvent, FbEvent];
  assert.match(lead.event_id, /^cb-ck-\d+$/);
  assert.match(contact.event_id, /^cb-ct-\d+$/);
  assert.equal(fb.json(0).test_event_code, undefined);
});

test('duplicate and concurrent copies of a postback forward one event', async () => {
  const s = await setup();
  await addFacebook(s);
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      postback(s, 'first_deposit', { amount: '50', currency: 'USD', tid: 'DUP' }),
    ),
  );
  assert.equal(answers.filter((a) => a.status === 'recorded').length, 1);
  await postback(s, 'registration');
  await postback(s, 'registration');
  await drain();
  assert.deepEqual(
    fbEvents()
      .map((e) => e.event_name)
      .sort(),
    ['CompleteRegistration', 'Purchase'],
  );
});

test('mapping changes apply to the next events: deposits, the Nth deposit and a custom event', async () => {
  const s = await setup();
  const source = await addFacebook(s);
  const patched = await api<Json>(
    t.app,
    s.auth,
    'PATCH',
    `/api/v1/campaigns/${s.campaign.id}/sources/${source.id}`,
    {
      mapping: {
        first_deposit: 'Purchase',
        deposit: 'Redeposit',
        'deposit#2': 'SecondDeposit',
        email_confirmation: 'Subscribe',
      },
    },
  );
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await postback(s, 'registration');
  await postback(s, 'first_deposit', { amount: '10', currency: 'EUR', tid: 'a' });
  await postback(s, 'deposit', { amount: '11', currency: 'EUR', tid: 'b' });
  await postback(s, 'deposit', { amount: '12', currency: 'EUR', tid: 'c' });
  await postback(s, 'deposit', { amount: '13.000001', currency: 'EUR', tid: 'd' });
  await postback(s, 'email_confirmation');
  await drain();
  const events = fbEvents();
  assert.deepEqual(
    events.map((e) => e.event_name),
    ['Purchase', 'Redeposit', 'SecondDeposit', 'Redeposit', 'Subscribe'],
    'registration is no longer mapped',
  );
  assert.deepEqual(
    events.map((e) => e.custom_data?.value),
    [10, 11, 12, 13.000001, undefined],
  );
  assert.match(fb.received.map((r) => r.body).join(), /"value":13\.000001,/);
});

test('a 500 is retried with backoff and the same event_id; once delivered, never again', async () => {
  const s = await setup();
  await addFacebook(s);
  fb.script.push({ status: 500, body: '{"error":{"message":"try later"}}' }, { status: 503 });
  await postback(s, 'registration');
  await drain();
  assert.equal(fb.received.length, 1);
  let logs = await deliveries(s.auth);
  assert.equal(logs[0]?.status, 'retrying');
  assert.equal(logs[0]?.httpStatus, 500);
  assert.match(logs[0]?.error ?? '', /HTTP 500/);

  // Not before its time: the first retry is due 0.5–1.5 s later.
  t.clock.advance(400);
  await drain();
  assert.equal(fb.received.length, 1);
  t.clock.advance(1_200);
  await drain();
  assert.equal(fb.received.length, 2, 'second attempt (503)');
  t.clock.advance(5_000);
  await drain();
  assert.equal(fb.received.length, 3, 'third attempt succeeds');
  t.clock.advance(24 * HOUR);
  await drain();
  assert.equal(fb.received.length, 3, 'no second event after success');

  const ids = new Set(fbEvents().map((e) => e.event_id));
  assert.equal(ids.size, 1, 'every attempt carries the same event_id');
  logs = await deliveries(s.auth);
  assert.deepEqual(
    logs.map((d) => [d.attempt, d.status, d.httpStatus]),
    [
      [3, 'delivered', 200],
      [2, 'retrying', 503],
      [1, 'retrying', 500],
    ],
  );
});

test('a destination that does not answer times out and is retried', async () => {
  const s = await setup();
  await addFacebook(s);
  fb.script.push('hang');
  await postback(s, 'registration');
  await drain();
  const [first] = await deliveries(s.auth);
  assert.equal(first?.status, 'retrying');
  assert.equal(first?.httpStatus, null);
  assert.match(first?.error ?? '', /no answer within 400 ms/);
  t.clock.advance(2_000);
  await drain();
  const [second] = await deliveries(s.auth);
  assert.equal(second?.status, 'delivered');
});

test('a 400 fails for good; a Facebook error marked transient is retried; a manual retry sends it again', async () => {
  const s = await setup();
  await addFacebook(s);
  fb.script.push(
    { status: 400, body: '{"error":{"message":"Invalid OAuth access token","code":190}}' },
    { status: 400, body: '{"error":{"message":"temporary","code":2,"is_transient":true}}' },
  );
  await postback(s, 'registration');
  await drain();
  await postback(s, 'first_deposit', { amount: '5', currency: 'USD' });
  await drain();
  const logs = await deliveries(s.auth);
  const failed = logs.find((d) => d.destinationEvent === 'CompleteRegistration');
  const transient = logs.find((d) => d.destinationEvent === 'Purchase');
  assert.equal(failed?.status, 'failed');
  assert.equal(failed?.error, 'HTTP 400: Invalid OAuth access token (code 190)');
  assert.equal(transient?.status, 'retrying');

  const retried = await api<Json>(t.app, s.auth, 'POST', `/api/v1/deliveries/${failed?.id}/retry`);
  assert.equal(retried.status, 202);
  assert.equal(retried.body.status, 'pending');
  await drain();
  const again = (await deliveries(s.auth, '?status=delivered'))[0];
  assert.equal(again?.eventId, failed?.eventId, 'the same event id');
  assert.equal(again?.attempt, 2);

  // While an attempt is under way, a retry is refused rather than dropped.
  fb.script.push({ status: 200, body: '{"events_received":1}', delayMs: 300 });
  const path = `/api/v1/deliveries/${failed?.id}/retry`;
  assert.equal((await api(t.app, s.auth, 'POST', path)).status, 202);
  const sent = fb.received.length;
  const sending = drain();
  await fb.waitFor(sent + 1);
  const during = await api<{ error: { code: string } }>(t.app, s.auth, 'POST', path);
  assert.equal(during.status, 409);
  assert.equal(during.body.error.code, 'in_flight');
  await sending;
  assert.equal((await deliveries(s.auth, '?status=delivered'))[0]?.attempt, 3);

  const other = await signup(t.app);
  const foreign = await api(t.app, other.auth, 'POST', `/api/v1/deliveries/${failed?.id}/retry`);
  assert.equal(foreign.status, 404);
  assert.equal((await deliveries(other.auth)).length, 0);
});

test('gives up after the maximum attempts', async () => {
  const local = await testApp({
    FACEBOOK_GRAPH_URL: fb.url,
    FORWARD_RETRY_BASE_MS: '100',
    FORWARD_MAX_ATTEMPTS: '3',
  });
  try {
    const account = await signup(local.app);
    const campaign = await api<{ id: string; slug: string }>(
      local.app,
      account.auth,
      'POST',
      '/api/v1/campaigns',
      { name: 'C', destinationUrl: 'https://t.me/b?start={{tracker.clickid}}' },
    );
    await api(local.app, account.auth, 'POST', `/api/v1/campaigns/${campaign.body.id}/sources`, {
      type: 'facebook',
      name: 'P',
      pixelId: '12345',
      accessToken: TOKEN,
    });
    fb.fallback = { status: 500 };
    await local.app.inject({ method: 'GET', url: `/c/${campaign.body.slug}` });
    for (let i = 0; i < 6; i++) {
      await local.app.forwarder.drain();
      local.clock.advance(HOUR);
    }
    assert.equal(fb.received.length, 3);
    const logs = await api<{ items: Delivery[] }>(
      local.app,
      account.auth,
      'GET',
      '/api/v1/deliveries',
    );
    assert.equal(logs.body.items[0]?.status, 'failed');
    assert.match(logs.body.items[0]?.error ?? '', /gave up after 3 attempts/);
  } finally {
    await local.close();
  }
});

test('events older than 7 days are not sent to Facebook but logged as expired', async () => {
  const s = await setup();
  await addFacebook(s);
  fb.fallback = { status: 500 };
  await postback(s, 'registration');
  await drain();
  fb.fallback = { status: 200 };
  t.clock.advance(8 * 24 * HOUR);
  await drain();
  assert.equal(fb.received.length, 1, 'only the first (failed) attempt went out');
  const [last] = await deliveries(s.auth);
  assert.equal(last?.status, 'expired');
  assert.match(last?.error ?? '', /older than 7 days/);
});

test('webhooks: GET with URL macros, POST with JSON, an HMAC signature and an Idempotency-Key', async () => {
  const s = await setup();
  const get = await api<Json & { id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/sources`,
    {
      type: 'webhook',
      name: 'Keitaro',
      method: 'GET',
      url: `${bot.url}/postback?subid={clickid}&status={event}&payout={amount}&currency={currency}&tid={tid}&geo={fields.country}&n={occurrence}&keep={unknown}`,
      events: ['first_deposit', 'deposit'],
    },
  );
  assert.equal(get.status, 201, JSON.stringify(get.body));
  assert.deepEqual(get.body.events, ['first_deposit', 'deposit']);
  const post = await api<Json & { id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/sources`,
    { type: 'webhook', name: 'Mine', method: 'POST', url: `${bot.url}/hook`, secret: 's3cr3t-key' },
  );
  assert.equal(post.status, 201);
  assert.equal(post.body.hasSecret, true);
  assert.equal('secret' in post.body, false);

  await postback(s, 'registration', { 'fields.country': 'RU & KZ' });
  await postback(s, 'first_deposit', { amount: '99.99', currency: 'RUB', tid: 'X/1' });
  await drain();

  const gets = bot.received.filter((r) => r.method === 'GET');
  const posts = bot.received.filter((r) => r.method === 'POST');
  assert.equal(gets.length, 1, 'the GET webhook only wanted deposits');
  const url = new URL(gets[0]?.url ?? '', bot.url);
  assert.equal(url.searchParams.get('subid'), s.clickid);
  assert.equal(url.searchParams.get('status'), 'first_deposit');
  assert.equal(url.searchParams.get('payout'), '99.99');
  assert.equal(url.searchParams.get('currency'), 'RUB');
  assert.equal(url.searchParams.get('tid'), 'X/1');
  assert.equal(url.searchParams.get('geo'), 'RU & KZ');
  assert.equal(url.searchParams.get('n'), '1');
  assert.equal(url.searchParams.get('keep'), '{unknown}');

  assert.equal(posts.length, 2, 'the POST webhook gets every conversion');
  for (const r of posts) {
    const expected = createHmac('sha256', 's3cr3t-key').update(r.body).digest('hex');
    assert.equal(r.headers['x-clickback-signature'], expected);
    assert.equal(r.headers['content-type'], 'application/json');
    const body = JSON.parse(r.body) as Json;
    assert.equal(r.headers['idempotency-key'], body.eventId);
    assert.equal(body.clickid, s.clickid);
  }
  const ftd = JSON.parse(posts[1]?.body ?? '{}') as Json;
  assert.equal(ftd.amount, '99.99');
  assert.equal(ftd.currency, 'RUB');
  assert.deepEqual(ftd.fields, { country: 'RU & KZ' });

  // Removing the secret stops the signing.
  await api(t.app, s.auth, 'PATCH', `/api/v1/campaigns/${s.campaign.id}/sources/${post.body.id}`, {
    secret: null,
  });
  await postback(s, 'deposit', { amount: '1', currency: 'RUB', tid: 'X/2' });
  await drain();
  const last = bot.received.filter((r) => r.method === 'POST').at(-1);
  assert.equal(last?.headers['x-clickback-signature'], undefined);
});

test('auto actions: registration, every deposit, the 2nd deposit only, and a custom event', async () => {
  const s = await setup();
  const base = `/api/v1/campaigns/${s.campaign.id}/auto-actions`;
  for (const [event, path] of [
    ['registration', '/reg'],
    ['deposit', '/dep'],
    ['deposit#2', '/dep2'],
    ['withdrawal', '/wd'],
  ] as const) {
    const res = await api<Json>(t.app, s.auth, 'POST', base, {
      event,
      url: `${bot.url}${path}`,
      payload: { step: path },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  await api(t.app, s.auth, 'POST', '/api/v1/leads', { clickid: s.clickid, externalId: 'tg42' });
  await postback(s, 'registration');
  await postback(s, 'first_deposit', { amount: '10', currency: 'USD', tid: '1' });
  await postback(s, 'deposit', { amount: '20', currency: 'USD', tid: '2' });
  await postback(s, 'deposit', { amount: '30', currency: 'USD', tid: '3' });
  await postback(s, 'withdrawal', { amount: '5', currency: 'USD', tid: '4' });
  await drain();

  const byPath = (path: string) =>
    bot.received.filter((r) => r.url === path).map((r) => JSON.parse(r.body) as Json);
  const [reg] = byPath('/reg');
  assert.deepEqual(
    { ...reg, eventId: undefined, at: undefined },
    {
      event: 'registration',
      occurrence: 1,
      clickid: s.clickid,
      externalId: 'tg42',
      amount: null,
      currency: null,
      fields: {},
      payload: { step: '/reg' },
      eventId: undefined,
      tid: null,
      at: undefined,
    },
  );
  assert.deepEqual(
    byPath('/dep').map((b) => [b.occurrence, b.amount]),
    [
      [1, '20'],
      [2, '30'],
    ],
  );
  assert.deepEqual(
    byPath('/dep2').map((b) => [b.occurrence, b.amount]),
    [[2, '30']],
  );
  assert.deepEqual(
    byPath('/wd').map((b) => [b.event, b.amount]),
    [['withdrawal', '-5']],
  );

  const list = await api<{ items: Json[] }>(t.app, s.auth, 'GET', base);
  assert.equal(list.body.items.length, 4);
  const logs = await deliveries(s.auth, '?event=deposit');
  assert.equal(logs.length, 3, 'deposit → /dep twice, /dep2 once');
  assert.ok(logs.every((d) => d.sourceType === 'auto_action'));
});

test("auto actions and sources set up with a network's name for an event (emailconf, sale, resale#2) listen on the event it is counted as", async () => {
  const s = await setup();
  const base = `/api/v1/campaigns/${s.campaign.id}/auto-actions`;
  const saved: Record<string, unknown> = {};
  for (const [event, path] of [
    ['emailconf', '/emailconf'],
    ['resale#2', '/resale2'],
    ['commission', '/commission'],
  ] as const) {
    const res = await api<Json>(t.app, s.auth, 'POST', base, { event, url: `${bot.url}${path}` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    saved[event] = res.body.event;
  }
  assert.deepEqual(saved, {
    emailconf: 'email_confirmation',
    'resale#2': 'deposit#2',
    commission: 'commission',
  });
  const source = await addFacebook(s, { mapping: { sale: 'Purchase', emailconf: 'Subscribe' } });
  assert.deepEqual(source.mapping, { first_deposit: 'Purchase', email_confirmation: 'Subscribe' });
  const hook = await api<Json>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/sources`,
    {
      type: 'webhook',
      name: 'Keitaro',
      method: 'GET',
      url: `${bot.url}/keitaro?status={event}`,
      events: ['emailconf', 'email_confirmation', 'resale'],
    },
  );
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  assert.deepEqual(hook.body.events, ['email_confirmation', 'deposit']);

  // Chatterfy's format, as a Chatterfy user's links send it.
  const chatterfy = (query: Record<string, string>) => postback(s, 'tracker-postback', query);
  assert.equal((await chatterfy({ 'tracker.event': 'emailconf' })).status, 'recorded');
  await chatterfy({ 'tracker.event': 'sale', 'tracker.cost': '10', 'tracker.tid': '1' });
  await chatterfy({ 'tracker.event': 'resale', 'tracker.cost': '20', 'tracker.tid': '2' });
  await chatterfy({ 'tracker.event': 'resale', 'tracker.cost': '30', 'tracker.tid': '3' });
  await chatterfy({ 'tracker.event': 'commission', 'tracker.cost': '3' });
  await drain();

  const to = (path: string) =>
    bot.received
      .filter((r) => new URL(r.url, bot.url).pathname === path)
      .map((r) => (r.method === 'POST' ? (JSON.parse(r.body) as Json).event : r.url));
  assert.deepEqual(to('/emailconf'), ['email_confirmation']);
  assert.deepEqual(to('/resale2'), ['deposit']);
  assert.deepEqual(to('/commission'), ['commission']);
  assert.deepEqual(to('/keitaro').sort(), [
    '/keitaro?status=deposit',
    '/keitaro?status=deposit',
    '/keitaro?status=email_confirmation',
  ]);
  assert.deepEqual(
    fbEvents()
      .map((e) => e.event_name)
      .sort(),
    ['Purchase', 'Subscribe'],
  );

  // One event mapped twice under two of its names must say one thing.
  const clash = await api<{ error: { code: string } }>(
    t.app,
    s.auth,
    'PATCH',
    `/api/v1/campaigns/${s.campaign.id}/sources/${source.id}`,
    { mapping: { sale: 'Purchase', first_deposit: 'Lead' } },
  );
  assert.equal(clash.status, 400);
  assert.equal(clash.body.error.code, 'invalid_mapping');
});

test('an auto action saved under an alias by an earlier version listens on the counted name once changed', async () => {
  const s = await setup();
  // As an earlier version stored it: the alias itself, as event and route.
  const settings = {
    kind: 'auto_action' as const,
    autoAction: { event: 'emailconf', url: `${bot.url}/old`, payload: {} },
  };
  const old = await t.store.createDestination(
    s.workspaceId,
    s.campaign.id,
    { name: 'old', enabled: true, settings, secret: null, routes: ['emailconf'] },
    t.clock.now,
  );
  await postback(s, 'emailconf');
  await drain();
  assert.equal(bot.received.length, 0, 'the stored alias never matches');
  const path = `/api/v1/campaigns/${s.campaign.id}/auto-actions/${old.id}`;
  const changed = await api<Json>(t.app, s.auth, 'PATCH', path, {});
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.equal(changed.body.event, 'email_confirmation');
  await postback(s, 'tracker-postback', { 'tracker.event': 'emailconf', 'tracker.tid': 'e2' });
  await drain();
  assert.deepEqual(
    bot.received.map((r) => [r.url, (JSON.parse(r.body) as Json).event]),
    [['/old', 'email_confirmation']],
  );
});

test('a disabled or deleted source stops receiving; its queued events are skipped', async () => {
  const s = await setup();
  const source = await addFacebook(s);
  const path = `/api/v1/campaigns/${s.campaign.id}/sources/${source.id}`;
  await postback(s, 'registration');
  await api(t.app, s.auth, 'PATCH', path, { enabled: false });
  await postback(s, 'first_deposit', { amount: '1', currency: 'USD' });
  await drain();
  assert.equal(fb.received.length, 0);
  const [skipped] = await deliveries(s.auth);
  assert.equal(skipped?.status, 'skipped');
  assert.match(skipped?.error ?? '', /disabled/);

  await api(t.app, s.auth, 'PATCH', path, { enabled: true });
  await postback(s, 'deposit', { amount: '2', currency: 'USD', tid: 'z' });
  await api(t.app, s.auth, 'PATCH', path, { mapping: { deposit: 'Purchase' } });
  await postback(s, 'deposit', { amount: '3', currency: 'USD', tid: 'y' });
  await drain();
  assert.deepEqual(
    fbEvents().map((e) => e.custom_data?.value),
    [3],
  );

  assert.equal((await api(t.app, s.auth, 'DELETE', path)).status, 204);
  assert.equal((await api(t.app, s.auth, 'GET', path)).status, 404);
  await postback(s, 'deposit', { amount: '4', currency: 'USD', tid: 'x' });
  await drain();
  assert.equal(fb.received.length, 1);
  assert.ok((await deliveries(s.auth)).length >= 2, 'logs outlive their source');
});

test('at most FORWARD_CONCURRENCY requests to one destination at once', async () => {
  const local = await testApp({
    FACEBOOK_GRAPH_URL: fb.url,
    FORWARD_CONCURRENCY: '2',
    ALLOW_PRIVATE_WEBHOOKS: 'true',
  });
  try {
    const account = await signup(local.app);
    const campaign = await api<{ id: string; slug: string }>(
      local.app,
      account.auth,
      'POST',
      '/api/v1/campaigns',
      { name: 'C', destinationUrl: 'https://t.me/b?start={{tracker.clickid}}' },
    );
    await api(local.app, account.auth, 'POST', `/api/v1/campaigns/${campaign.body.id}/sources`, {
      type: 'webhook',
      name: 'slow',
      method: 'GET',
      url: `${bot.url}/slow?c={clickid}`,
      events: [],
    });
    await api(
      local.app,
      account.auth,
      'POST',
      `/api/v1/campaigns/${campaign.body.id}/auto-actions`,
      {
        event: 'contact',
        url: `${bot.url}/contact`,
      },
    );
    bot.fallback = { status: 200, delayMs: 60 };
    for (let i = 0; i < 10; i++) {
      const click = await local.app.inject({ method: 'GET', url: `/c/${campaign.body.slug}` });
      const clickid = new URL(click.headers.location as string).searchParams.get('start');
      await api(local.app, account.auth, 'POST', '/api/v1/leads', { clickid, externalId: `u${i}` });
    }
    await local.app.forwarder.drain();
    assert.equal(bot.received.filter((r) => r.url === '/contact').length, 10);
    assert.ok(bot.maxConcurrent <= 2, `at most 2 at once, saw ${bot.maxConcurrent}`);
  } finally {
    await local.close();
  }
});

test('validation: required fields, foreign fields, bad mapping, other workspaces', async () => {
  const s = await setup();
  const path = `/api/v1/campaigns/${s.campaign.id}/sources`;
  const cases: Array<[Json, number, string]> = [
    [{ type: 'facebook', name: 'x', accessToken: TOKEN }, 400, 'pixelId is required'],
    [{ type: 'facebook', name: 'x', pixelId: '12345' }, 400, 'accessToken is required'],
    [
      { type: 'facebook', name: 'x', pixelId: '12345', accessToken: TOKEN, url: 'http://a.b' },
      400,
      'url does not apply',
    ],
    [{ type: 'facebook', name: 'x', pixelId: 'abc', accessToken: TOKEN }, 400, 'pixelId'],
    [
      {
        type: 'facebook',
        name: 'x',
        pixelId: '12345',
        accessToken: TOKEN,
        mapping: { 'Bad Key': 'Lead' },
      },
      400,
      '',
    ],
    [
      {
        type: 'facebook',
        name: 'x',
        pixelId: '12345',
        accessToken: TOKEN,
        mapping: { deposit: 'has space' },
      },
      400,
      '',
    ],
    [{ type: 'webhook', name: 'x', method: 'GET' }, 400, 'url is required'],
    [{ type: 'webhook', name: 'x', url: 'ftp://x.y/' }, 400, ''],
    [{ type: 'sms', name: 'x' }, 400, ''],
  ];
  for (const [body, status, message] of cases) {
    const res = await api<{ error: { message: string } }>(t.app, s.auth, 'POST', path, body);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.ok(res.body.error.message.includes(message), `${res.body.error.message} ∌ ${message}`);
  }
  const source = await addFacebook(s);
  const other = await signup(t.app);
  assert.equal((await api(t.app, other.auth, 'GET', path)).status, 404);
  assert.equal(
    (await api(t.app, other.auth, 'PATCH', `${path}/${source.id}`, { name: 'x' })).status,
    404,
  );
  assert.equal((await api(t.app, other.auth, 'DELETE', `${path}/${source.id}`)).status, 404);
  const anonymous = await t.app.inject({ method: 'GET', url: path });
  assert.equal(anonymous.statusCode, 401);
});

test('the access token is stored encrypted and a new one replaces it', async () => {
  const s = await setup();
  const source = await addFacebook(s);
  const stored = await t.store.getDestination(
    (await api<{ workspace: { id: string } }>(t.app, s.auth, 'GET', '/api/v1/me')).body.workspace
      .id,
    source.id,
  );
  assert.ok(stored?.secret);
  assert.ok(!stored.secret.includes(TOKEN));
  assert.equal(t.app.deps.secrets.decrypt(stored.secret), TOKEN);
  await api(t.app, s.auth, 'PATCH', `/api/v1/campaigns/${s.campaign.id}/sources/${source.id}`, {
    accessToken: 'EAAB-another-token-000000',
  });
  await postback(s, 'registration');
  await drain();
  assert.match(fb.received[0]?.url ?? '', /access_token=EAAB-another-token-000000$/);
});

test('without ALLOW_PRIVATE_WEBHOOKS, loopback, private and link-local URLs are refused', async () => {
  const strict = await testApp();
  try {
    const account = await signup(strict.app);
    const campaign = await api<{ id: string }>(
      strict.app,
      account.auth,
      'POST',
      '/api/v1/campaigns',
      {
        name: 'C',
      },
    );
    const path = `/api/v1/campaigns/${campaign.body.id}/sources`;
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://localhost/x',
      'http://10.1.2.3/x',
      'http://192.168.0.10/x',
      'http://172.20.0.1/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/x',
      'http://[fd00::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://0.0.0.0/x',
    ]) {
      const res = await api<{ error: { code: string } }>(strict.app, account.auth, 'POST', path, {
        type: 'webhook',
        name: 'x',
        method: 'GET',
        url,
      });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, 'private_address', url);
    }
    const action = await api<{ error: { code: string } }>(
      strict.app,
      account.auth,
      'POST',
      `/api/v1/campaigns/${campaign.body.id}/auto-actions`,
      { event: 'registration', url: 'http://127.0.0.1/bot' },
    );
    assert.equal(action.status, 400);
    assert.equal(action.body.error.code, 'private_address');
    const ok = await api(strict.app, account.auth, 'POST', path, {
      type: 'webhook',
      name: 'public',
      method: 'GET',
      url: 'http://203.0.113.10/postback?c={clickid}',
    });
    assert.equal(ok.status, 201);
  } finally {
    await strict.close();
  }
});

test('Facebook events go out in batches of 100; an expired one is left out of its batch', async () => {
  const s = await setup();
  await addFacebook(s, { mapping: { deposit: 'Purchase' } });
  const first = t.clock.now;
  fb.fallback = { status: 500 };
  await postback(s, 'deposit', { amount: '1', currency: 'USD', tid: 'old' });
  await drain();
  fb.fallback = { status: 200, body: '{"events_received":1}' };
  t.clock.advance(8 * 24 * HOUR);
  for (let i = 0; i < 150; i++) {
    await postback(s, 'deposit', { amount: `${i}.5`, currency: 'USD', tid: `n${i}` });
  }
  fb.received.length = 0;
  await drain();
  const sizes = fb.received.map((r) => (JSON.parse(r.body) as { data: unknown[] }).data.length);
  assert.equal(sizes.length, 2, `two requests, got ${sizes.join(', ')}`);
  assert.ok(Math.max(...sizes) <= 100);
  assert.equal((sizes[0] ?? 0) + (sizes[1] ?? 0), 150);
  const sent = fbEvents();
  assert.equal(new Set(sent.map((e) => e.event_id)).size, 150);
  assert.ok(
    sent.every((e) => e.event_time * 1000 > first + HOUR),
    'the stale one is not in a batch',
  );
  const logs = await deliveries(s.auth, '?limit=200');
  assert.equal(logs.filter((d) => d.status === 'delivered').length, 150);
  assert.equal(logs.filter((d) => d.status === 'expired').length, 1);
  assert.match(
    logs.find((d) => d.status === 'delivered')?.request ?? '',
    /\(event \d+ of \d+ in this request\)$/,
  );
});

test('a Facebook request refused for one invalid event is sent again in halves: only that event fails, every other is delivered once', async () => {
  const s = await setup();
  await addFacebook(s, { mapping: { deposit: 'Purchase' } });
  // As Facebook does: one invalid event refuses the whole request.
  const refusal = {
    status: 400,
    body: '{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804019}}',
  };
  fb.decide = (body) => (body.includes('"value":13.5,') ? refusal : null);
  for (let i = 0; i < 20; i++) {
    await postback(s, 'deposit', { amount: `${i}.5`, currency: 'USD', tid: `s${i}` });
  }
  await drain();

  const refused = fb.received.filter((r) => r.status === 400);
  const accepted = fb.received.filter((r) => r.status === 200);
  const count = (rs: typeof fb.received) =>
    rs.flatMap((r) => (JSON.parse(r.body) as { data: FbEvent[] }).data);
  assert.equal(count(fb.received.slice(0, 1)).length, 20, 'all 20 went in one request first');
  assert.deepEqual(
    count(refused.filter((r) => count([r]).length === 1)).map((e) => e.custom_data?.value),
    [13.5],
    'the invalid event ends up alone',
  );
  const delivered = count(accepted).map((e) => e.event_id);
  assert.equal(delivered.length, 19);
  assert.equal(new Set(delivered).size, 19, 'each once');
  assert.ok(fb.received.length <= 1 + 2 * 5, `${fb.received.length} requests, a halving each step`);

  const logs = await deliveries(s.auth, '?limit=200');
  const current = new Map<string, Delivery>();
  for (const d of [...logs].reverse()) current.set(d.eventId, d);
  const statuses = [...current.values()].map((d) => d.status).sort();
  assert.deepEqual(statuses, [...Array(19).fill('delivered'), 'failed']);
  assert.match(
    [...current.values()].find((d) => d.status === 'failed')?.error ?? '',
    /Invalid parameter/,
  );
});

test('a refusal of the whole request (no such pixel) is not split; halving stops within half the lease', async () => {
  const s = await setup();
  await addFacebook(s, { mapping: { deposit: 'Purchase' } });
  fb.fallback = {
    status: 400,
    body: '{"error":{"message":"Object with ID \'1\' does not exist","code":100,"error_subcode":33}}',
  };
  for (let i = 0; i < 8; i++) {
    await postback(s, 'deposit', { amount: `${i}.25`, currency: 'USD', tid: `w${i}` });
  }
  await drain();
  assert.equal(fb.received.length, 1, 'one request: every event fails alike');

  // Each refusal takes 50 s of the clock: the lease is 120 s, so after the
  // first split (50 s) one more level is tried (100 s), then no more.
  const refusal = { status: 400, body: '{"error":{"message":"Invalid parameter","code":100}}' };
  fb.decide = () => {
    t.clock.advance(50_000);
    return refusal;
  };
  for (let i = 0; i < 8; i++) {
    await postback(s, 'deposit', { amount: `${i}.75`, currency: 'USD', tid: `v${i}` });
  }
  fb.received.length = 0;
  await drain();
  assert.equal(fb.received.length, 3, 'the whole request, then each half, split no further');
  const sizes = fb.received.map((r) => (JSON.parse(r.body) as { data: unknown[] }).data.length);
  assert.deepEqual(sizes, [8, 4, 4]);
});

test('changes to one source or auto action made at once all keep their fields', async () => {
  const s = await setup();
  const source = await addFacebook(s);
  const path = `/api/v1/campaigns/${s.campaign.id}/sources/${source.id}`;
  const changes: Json[] = [
    { name: 'Renamed' },
    { enabled: false },
    { pixelId: '999000111' },
    { testEventCode: 'TEST777' },
    { mapping: { deposit: 'Purchase' } },
  ];
  const answers = await Promise.all(changes.map((c) => api(t.app, s.auth, 'PATCH', path, c)));
  assert.deepEqual(
    answers.map((a) => a.status),
    changes.map(() => 200),
  );
  const now = (await api<Json>(t.app, s.auth, 'GET', path)).body;
  assert.deepEqual(
    {
      name: now.name,
      enabled: now.enabled,
      pixelId: now.pixelId,
      testEventCode: now.testEventCode,
      mapping: now.mapping,
    },
    {
      name: 'Renamed',
      enabled: false,
      pixelId: '999000111',
      testEventCode: 'TEST777',
      mapping: { deposit: 'Purchase' },
    },
  );

  const action = await api<{ id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/auto-actions`,
    { event: 'registration', url: `${bot.url}/hook` },
  );
  assert.equal(action.status, 201);
  const actionPath = `/api/v1/campaigns/${s.campaign.id}/auto-actions/${action.body.id}`;
  const actionChanges: Json[] = [
    { event: 'first_deposit' },
    { enabled: false },
    { payload: { text: 'paid' } },
  ];
  const actionAnswers = await Promise.all(
    actionChanges.map((c) => api(t.app, s.auth, 'PATCH', actionPath, c)),
  );
  assert.deepEqual(
    actionAnswers.map((a) => a.status),
    actionChanges.map(() => 200),
  );
  const after = (
    await api<Json>(t.app, s.auth, 'GET', `/api/v1/campaigns/${s.campaign.id}/auto-actions`)
  ).body.items as Json[];
  const changed = after.find((a) => a.id === action.body.id);
  assert.deepEqual(
    { event: changed?.event, enabled: changed?.enabled, payload: changed?.payload },
    { event: 'first_deposit', enabled: false, payload: { text: 'paid' } },
  );
});

test('an empty PATCH (a form saved unchanged) answers 200 and changes nothing', async () => {
  const s = await setup();
  const source = await addFacebook(s);
  const action = await api<Json & { id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/auto-actions`,
    { event: 'registration', url: `${bot.url}/reg`, payload: { step: 1 } },
  );
  assert.equal(action.status, 201, JSON.stringify(action.body));
  const actions = `/api/v1/campaigns/${s.campaign.id}/auto-actions`;
  for (const [path, read] of [
    [`/api/v1/campaigns/${s.campaign.id}`, null],
    [`/api/v1/campaigns/${s.campaign.id}/sources/${source.id}`, null],
    // Auto actions are read through their list.
    [`${actions}/${action.body.id}`, actions],
  ] as const) {
    const before = read
      ? ((await api<{ items: Json[] }>(t.app, s.auth, 'GET', read)).body.items.find(
          (i) => i.id === action.body.id,
        ) as Json)
      : (await api<Json>(t.app, s.auth, 'GET', path)).body;
    const patched = await api<Json>(t.app, s.auth, 'PATCH', path, {});
    assert.equal(patched.status, 200, `${path}: ${JSON.stringify(patched.body)}`);
    const { updatedAt: _was, ...kept } = before;
    const { updatedAt: _now, ...now } = patched.body;
    assert.deepEqual(now, kept, path);
  }
});

interface Health {
  state: string;
  lastDeliveredAt: string | null;
  failedInARow: number;
  failingSince: string | null;
  lastFailedAt: string | null;
  lastError: string | null;
  pending: number;
}

/** A source's health as the list and the single source both answer it. */
async function healthOf(s: Setup, sourceId: string): Promise<Health> {
  const list = await api<{ items: Array<{ id: string; health: Health }> }>(
    t.app,
    s.auth,
    'GET',
    `/api/v1/campaigns/${s.campaign.id}/sources`,
  );
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const listed = list.body.items.find((i) => i.id === sourceId);
  const one = await api<{ health: Health }>(
    t.app,
    s.auth,
    'GET',
    `/api/v1/campaigns/${s.campaign.id}/sources/${sourceId}`,
  );
  assert.deepEqual(one.body.health, listed?.health);
  return one.body.health;
}

/** A click on the campaign: a `Lead` event for its pixel. */
async function adClick(s: Setup) {
  const res = await t.app.inject({
    method: 'GET',
    url: `/c/${s.campaign.slug}?fbclid=IwAR${t.clock.now}`,
    headers: { 'user-agent': 'Mozilla/5.0 Test' },
  });
  assert.equal(res.statusCode, 302);
}

test('source health: a pixel refused with error 190 becomes failing with that error, and ok once an event gets through', async () => {
  const s = await setup();
  const pixel = await addFacebook(s);
  assert.deepEqual(await healthOf(s, pixel.id), {
    state: 'idle',
    lastDeliveredAt: null,
    failedInARow: 0,
    failingSince: null,
    lastFailedAt: null,
    lastError: null,
    pending: 0,
  });
  await adClick(s);
  assert.equal((await healthOf(s, pixel.id)).pending, 1, 'waiting before the worker runs');

  fb.fallback = {
    status: 400,
    body: '{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}',
  };
  await drain();
  const firstAt = new Date(t.clock.now).toISOString();
  const once = await healthOf(s, pixel.id);
  assert.equal(once.state, 'ok', 'one refusal is not yet a pattern');
  assert.equal(once.failedInARow, 1);
  assert.equal(once.pending, 0, 'refused for good: not retried');

  t.clock.advance(60_000);
  await adClick(s);
  await adClick(s);
  await drain();
  const failing = await healthOf(s, pixel.id);
  const [logged] = await deliveries(s.auth, `?sourceId=${pixel.id}`);
  assert.equal(logged?.error, 'HTTP 400: Invalid OAuth access token (code 190)');
  assert.deepEqual(failing, {
    state: 'failing',
    lastDeliveredAt: null,
    failedInARow: 3,
    failingSince: firstAt,
    lastFailedAt: new Date(t.clock.now).toISOString(),
    lastError: logged?.error,
    pending: 0,
  });

  // The token is fixed: the next event is delivered and the source is ok again.
  fb.fallback = { status: 200, body: '{"events_received":1}' };
  t.clock.advance(60_000);
  await adClick(s);
  await drain();
  assert.deepEqual(await healthOf(s, pixel.id), {
    state: 'ok',
    lastDeliveredAt: new Date(t.clock.now).toISOString(),
    failedInARow: 0,
    failingSince: null,
    lastFailedAt: null,
    lastError: null,
    pending: 0,
  });
});

test('source health: a pixel answering 503 is retried, ok for 15 minutes, then failing; a disabled one is paused', async () => {
  const s = await setup();
  const pixel = await addFacebook(s);
  fb.fallback = { status: 503, body: 'unavailable' };
  for (let i = 0; i < 3; i++) await adClick(s);
  await drain();
  const retrying = await healthOf(s, pixel.id);
  assert.equal(retrying.state, 'ok', 'a hiccup the retries deal with');
  assert.equal(retrying.failedInARow, 3);
  assert.equal(retrying.pending, 3);
  assert.equal(retrying.lastError, 'HTTP 503: unavailable');

  t.clock.advance(14 * 60_000);
  await drain();
  assert.equal((await healthOf(s, pixel.id)).state, 'ok');
  t.clock.advance(60_000);
  await drain();
  const failing = await healthOf(s, pixel.id);
  assert.equal(failing.state, 'failing');
  assert.ok(failing.failedInARow > 3, String(failing.failedInARow));
  assert.equal(failing.pending, 3);

  const paused = await api<{ health: Health }>(
    t.app,
    s.auth,
    'PATCH',
    `/api/v1/campaigns/${s.campaign.id}/sources/${pixel.id}`,
    { enabled: false },
  );
  assert.equal(paused.status, 200, JSON.stringify(paused.body));
  assert.equal(paused.body.health.state, 'paused');
  assert.equal(paused.body.health.lastError, 'HTTP 503: unavailable');
});

test("failing sources of the workspace: every campaign's, with the campaign's name, the error and the health; not an auto action's, a paused one's or another workspace's", async () => {
  const s = await setup();
  type Failing = Json & { id: string; campaignId: string; campaignName: string; health: Health };
  const failingNow = async (auth = s.auth) => {
    const res = await api<{ items: Failing[] }>(t.app, auth, 'GET', '/api/v1/sources/failing');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items;
  };
  assert.deepEqual(await failingNow(), []);
  const unauthenticated = await t.app.inject({ method: 'GET', url: '/api/v1/sources/failing' });
  assert.equal(unauthenticated.statusCode, 401);

  // A second campaign whose webhook is refused once: a hiccup, not failing.
  const second = await api<{ id: string; slug: string }>(
    t.app,
    s.auth,
    'POST',
    '/api/v1/campaigns',
    { name: 'TG KZ', destinationUrl: 'https://t.me/kz_bot?start={{tracker.clickid}}' },
  );
  const hook = await api<{ id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${second.body.id}/sources`,
    { type: 'webhook', name: 'Keitaro', method: 'GET', url: `${bot.url}/postback?subid={clickid}` },
  );
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const action = await api<{ id: string }>(
    t.app,
    s.auth,
    'POST',
    `/api/v1/campaigns/${s.campaign.id}/auto-actions`,
    { event: 'deposit', url: `${bot.url}/action` },
  );
  assert.equal(action.status, 201, JSON.stringify(action.body));
  const pixel = await addFacebook(s, { name: 'Main pixel' });
  bot.fallback = { status: 404, body: 'no such route' };
  fb.fallback = {
    status: 400,
    body: '{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}',
  };
  const click = await t.app.inject({ method: 'GET', url: `/c/${second.body.slug}` });
  const clickid2 = new URL(click.headers.location as string).searchParams.get('start') as string;
  await postback({ ...s, clickid: clickid2 }, 'registration');
  for (const tid of ['d1', 'd2', 'd3']) {
    await postback(s, 'deposit', { amount: '10', tid });
    await adClick(s);
  }
  await drain();
  assert.equal((await healthOf({ ...s, campaign: second.body }, hook.body.id)).state, 'ok');

  const refusedActions = await deliveries(s.auth, `?sourceId=${action.body.id}`);
  assert.deepEqual(
    refusedActions.map((d) => d.status),
    ['failed', 'failed', 'failed'],
  );
  const [listed, ...others] = await failingNow();
  assert.deepEqual(others, [], 'the auto action fails too, but it is not a source');
  assert.ok(listed);
  assert.equal(listed.id, pixel.id);
  assert.equal(listed.name, 'Main pixel');
  assert.equal(listed.type, 'facebook');
  assert.equal(listed.campaignId, s.campaign.id);
  assert.equal(listed.campaignName, 'FB RU');
  assert.equal(listed.accessToken, undefined, 'the token is never returned');
  const { campaignName: _name, ...asSource } = listed;
  assert.deepEqual(asSource.health, await healthOf(s, pixel.id));
  assert.deepEqual(listed.health, {
    state: 'failing',
    lastDeliveredAt: null,
    failedInARow: 3,
    failingSince: listed.health.failingSince,
    lastFailedAt: new Date(t.clock.now).toISOString(),
    lastError: 'HTTP 400: Invalid OAuth access token (code 190)',
    pending: 0,
  });

  // Another workspace sees none of it.
  const other = await signup(t.app, 'Other team');
  assert.deepEqual(await failingNow(other.auth), []);

  // Paused, it is no longer a warning; enabled again, it is (nothing got through).
  const sourcePath = `/api/v1/campaigns/${s.campaign.id}/sources/${pixel.id}`;
  assert.equal((await api(t.app, s.auth, 'PATCH', sourcePath, { enabled: false })).status, 200);
  assert.deepEqual(await failingNow(), []);
  assert.equal((await api(t.app, s.auth, 'PATCH', sourcePath, { enabled: true })).status, 200);
  assert.deepEqual(
    (await failingNow()).map((i) => i.id),
    [pixel.id],
  );
  // Once an event reaches Facebook, it is off the list.
  fb.fallback = { status: 200, body: '{"events_received":1}' };
  t.clock.advance(60_000);
  await adClick(s);
  await drain();
  assert.deepEqual(await failingNow(), []);
});
