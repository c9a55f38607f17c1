// Campaign CRUD and the public click route: the redirect with rendered macros,
// the lead it creates, 404s, and which IP a click is recorded with.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { api, PUBLIC_URL, signup, type TestApp, tempDir, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

type Auth = { authorization: string };

interface Campaign {
  id: string;
  name: string;
  description: string;
  buyer: string;
  destinationUrl: string;
  slug: string;
  clickUrl: string;
  createdAt: string;
}

interface Lead {
  clickid: string;
  campaignId: string | null;
  params: Record<string, string>;
}

type ErrorBody = { error: { code: string; message: string } };

const BOT = 'https://t.me/my_bot?start={{tracker.clickid}}';

async function createCampaign(auth: Auth, body: Record<string, unknown>): Promise<Campaign> {
  const res = await api<Campaign>(t.app, auth, 'POST', '/api/v1/campaigns', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function click(app: FastifyInstance, path: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url: path, headers });
}

function clickidFrom(location: string | undefined): string {
  assert.ok(location, 'no Location header');
  const clickid = new URL(location).searchParams.get('start');
  assert.ok(clickid);
  return clickid;
}

test('create answers 201 with the full campaign and its clickUrl', async () => {
  const { auth } = await signup(t.app);
  const res = await api<Campaign>(t.app, auth, 'POST', '/api/v1/campaigns', {
    name: '  FB RU  ',
    description: 'autumn',
    buyer: 'alice',
    destinationUrl: BOT,
  });
  assert.equal(res.status, 201);
  const c = res.body;
  assert.equal(typeof c.id, 'string');
  assert.equal(c.name, 'FB RU');
  assert.equal(c.description, 'autumn');
  assert.equal(c.buyer, 'alice');
  assert.equal(c.destinationUrl, BOT);
  assert.match(c.slug, /^[A-Za-z0-9]+$/);
  assert.equal(c.clickUrl, `${PUBLIC_URL}/c/${c.slug}`);
  assert.equal(c.createdAt, '2026-11-20T12:00:00.000Z');

  const minimal = await createCampaign(auth, { name: 'bare' });
  assert.equal(minimal.description, '');
  assert.equal(minimal.buyer, '');
  assert.equal(minimal.destinationUrl, '');
  assert.notEqual(minimal.slug, c.slug);
});

test('list, get, patch and delete a campaign', async () => {
  const { auth } = await signup(t.app);
  const a = await createCampaign(auth, { name: 'A', destinationUrl: BOT });
  const b = await createCampaign(auth, { name: 'B' });

  const list = await api<{ items: Campaign[] }>(t.app, auth, 'GET', '/api/v1/campaigns');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.items.map((c) => c.id).sort(), [a.id, b.id].sort());

  const got = await api<Campaign>(t.app, auth, 'GET', `/api/v1/campaigns/${a.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, a);

  const patched = await api<Campaign>(t.app, auth, 'PATCH', `/api/v1/campaigns/${a.id}`, {
    name: 'A2',
    buyer: 'bob',
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.name, 'A2');
  assert.equal(patched.body.buyer, 'bob');
  assert.equal(patched.body.destinationUrl, BOT, 'unchanged fields stay');
  assert.equal(patched.body.slug, a.slug);
  assert.equal(
    (await api<Campaign>(t.app, auth, 'GET', `/api/v1/campaigns/${a.id}`)).body.name,
    'A2',
  );

  const del = await api(t.app, auth, 'DELETE', `/api/v1/campaigns/${a.id}`);
  assert.equal(del.status, 204);
  assert.equal((await api(t.app, auth, 'GET', `/api/v1/campaigns/${a.id}`)).status, 404);
  assert.equal((await api(t.app, auth, 'DELETE', `/api/v1/campaigns/${a.id}`)).status, 404);
  assert.equal(
    (await api(t.app, auth, 'PATCH', `/api/v1/campaigns/${a.id}`, { name: 'x' })).status,
    404,
  );
  const after = await api<{ items: Campaign[] }>(t.app, auth, 'GET', '/api/v1/campaigns');
  assert.deepEqual(
    after.body.items.map((c) => c.id),
    [b.id],
  );
});

test('unknown, non-numeric and foreign campaign ids answer 404', async () => {
  const mine = await signup(t.app);
  const other = await signup(t.app);
  const theirs = await createCampaign(other.auth, { name: 'theirs' });
  for (const id of ['999999', 'abc', '0', '-1', '1.5', theirs.id]) {
    for (const [method, payload] of [
      ['GET', undefined],
      ['PATCH', { name: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await api<ErrorBody>(
        t.app,
        mine.auth,
        method,
        `/api/v1/campaigns/${id}`,
        payload,
      );
      assert.equal(res.status, 404, `${method} ${id}`);
      assert.equal(res.body.error.code, 'not_found');
    }
  }
  // The foreign one is untouched.
  const still = await api<Campaign>(t.app, other.auth, 'GET', `/api/v1/campaigns/${theirs.id}`);
  assert.equal(still.body.name, 'theirs');
});

test('campaign validation answers 400 with the error envelope', async () => {
  const { auth } = await signup(t.app);
  for (const body of [
    {},
    { name: '' },
    { name: 'x'.repeat(201) },
    { name: 'x', destinationUrl: 'javascript:alert(1)' },
    { name: 'x', destinationUrl: 'data:text/html,hi' },
    { name: 'x', destinationUrl: ' javascript:alert(1)' },
    { name: ['a', 'b'] },
  ]) {
    const res = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/campaigns', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(typeof res.body.error.code, 'string');
    assert.equal(typeof res.body.error.message, 'string');
  }
  assert.equal(
    (await api(t.app, auth, 'POST', '/api/v1/campaigns', { name: 'x'.repeat(200) })).status,
    201,
  );
  const c = await createCampaign(auth, { name: 'ok' });
  const bad = await api<ErrorBody>(t.app, auth, 'PATCH', `/api/v1/campaigns/${c.id}`, {
    destinationUrl: 'javascript:alert(1)',
  });
  assert.equal(bad.status, 400);
  assert.equal(
    (await api(t.app, auth, 'PATCH', `/api/v1/campaigns/${c.id}`, { name: '' })).status,
    400,
  );
});

test('a whitespace-only name is refused like a missing one', {}, async () => {
  const { auth } = await signup(t.app);
  const res = await api<ErrorBody>(t.app, auth, 'POST', '/api/v1/campaigns', { name: '   ' });
  assert.equal(res.status, 400);
});

test('a click redirects 302 to the destination with a fresh clickid and records its params', async () => {
  const { auth } = await signup(t.app);
  const c = await createCampaign(auth, { name: 'FB', destinationUrl: BOT });
  const res = await click(t.app, `/c/${c.slug}?fbclid=AbC&utm_campaign=x`);
  assert.equal(res.statusCode, 302);
  const location = res.headers.location as string;
  assert.match(location, /^https:\/\/t\.me\/my_bot\?start=[A-Za-z0-9]{12}$/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const clickid = clickidFrom(location);

  const lead = await api<Lead>(t.app, auth, 'GET', `/api/v1/leads/${clickid}`);
  assert.equal(lead.status, 200);
  assert.equal(lead.body.clickid, clickid);
  assert.equal(lead.body.campaignId, c.id);
  assert.equal(lead.body.params.fbclid, 'AbC');
  assert.equal(lead.body.params.utm_campaign, 'x');

  // The click URL by id works as well (API.md: slug or id).
  const byId = await click(t.app, `/c/${c.id}`);
  assert.equal(byId.statusCode, 302);
});

test('two clicks get different clickids and two leads', async () => {
  const { auth } = await signup(t.app);
  const c = await createCampaign(auth, { name: 'FB', destinationUrl: BOT });
  const one = clickidFrom((await click(t.app, `/c/${c.slug}`)).headers.location as string);
  const two = clickidFrom((await click(t.app, `/c/${c.slug}`)).headers.location as string);
  assert.notEqual(one, two);
  const leads = await api<{ items: Lead[] }>(
    t.app,
    auth,
    'GET',
    `/api/v1/leads?campaignId=${c.id}`,
  );
  assert.deepEqual(leads.body.items.map((l) => l.clickid).sort(), [one, two].sort());
});

test('destination macros render URL-encoded; unknown macros render empty', async () => {
  const { auth } = await signup(t.app);
  const c = await createCampaign(auth, {
    name: 'macros',
    destinationUrl:
      'https://land.test/p?u={{tracker.utm_campaign}}&id={{tracker.clickid}}&z={{nope}}&m={{tracker.missing}}',
  });
  const res = await click(t.app, `/c/${c.slug}?utm_campaign=${encodeURIComponent('a b&c')}`);
  assert.equal(res.statusCode, 302);
  const location = res.headers.location as string;
  assert.match(location, /^https:\/\/land\.test\/p\?u=a%20b%26c&id=[A-Za-z0-9]{12}&z=&m=$/);
  const url = new URL(location);
  assert.equal(url.searchParams.get('u'), 'a b&c');
});

test('unknown and deleted campaigns answer 404 on the click route', async () => {
  const { auth } = await signup(t.app);
  const missing = await click(t.app, '/c/nosuchcampaign');
  assert.equal(missing.statusCode, 404);
  assert.equal((missing.json() as ErrorBody).error.code, 'not_found');

  const c = await createCampaign(auth, { name: 'gone', destinationUrl: BOT });
  assert.equal((await click(t.app, `/c/${c.slug}`)).statusCode, 302);
  assert.equal((await api(t.app, auth, 'DELETE', `/api/v1/campaigns/${c.id}`)).status, 204);
  const gone = await click(t.app, `/c/${c.slug}`);
  assert.equal(gone.statusCode, 404);
  assert.equal((gone.json() as ErrorBody).error.code, 'not_found');
  assert.equal((await click(t.app, `/c/${c.id}`)).statusCode, 404);
});

test('a campaign without destinationUrl answers 200 {clickid}', async () => {
  const { auth } = await signup(t.app);
  const c = await createCampaign(auth, { name: 'no destination' });
  const res = await click(t.app, `/c/${c.slug}?utm_source=fb`);
  assert.equal(res.statusCode, 200);
  const body = res.json() as { clickid: string };
  assert.match(body.clickid, /^[A-Za-z0-9]{12}$/);
  const lead = await api<Lead>(t.app, auth, 'GET', `/api/v1/leads/${body.clickid}`);
  assert.equal(lead.status, 200);
  assert.equal(lead.body.campaignId, c.id);
  assert.equal(lead.body.params.utm_source, 'fb');
});

test('a HEAD to the click URL answers as the click would and records nothing', async () => {
  const { auth } = await signup(t.app);
  const bot = await createCampaign(auth, { name: 'head', destinationUrl: BOT });
  const bare = await createCampaign(auth, { name: 'head, no destination' });
  const head = (path: string) => t.app.inject({ method: 'HEAD', url: path });

  const checked = await head(`/c/${bot.slug}?fbclid=preview`);
  assert.equal(checked.statusCode, 302);
  assert.equal(checked.headers.location, 'https://t.me/my_bot?start=');
  assert.equal(checked.headers['cache-control'], 'no-store');
  assert.equal(checked.body, '');
  const noDestination = await head(`/c/${bare.slug}`);
  assert.equal(noDestination.statusCode, 200);
  assert.match(String(noDestination.headers['content-type']), /^application\/json/);
  assert.equal(noDestination.body, '');
  assert.equal((await head('/c/nosuchcampaign')).statusCode, 404);

  const leadsOf = async (c: Campaign) =>
    (await api<{ items: Lead[] }>(t.app, auth, 'GET', `/api/v1/leads?campaignId=${c.id}`)).body
      .items;
  assert.deepEqual(await leadsOf(bot), []);
  assert.deepEqual(await leadsOf(bare), []);

  // The GET after it is a click as ever.
  const clicked = await click(t.app, `/c/${bot.slug}?fbclid=real`);
  assert.equal(clicked.statusCode, 302);
  const leads = await leadsOf(bot);
  assert.deepEqual(
    leads.map((l) => [l.clickid, l.params.fbclid]),
    [[clickidFrom(clicked.headers.location as string), 'real']],
  );
});

test('a click with X-Forwarded-For still redirects, with or without TRUST_PROXY', async () => {
  for (const env of [{}, { TRUST_PROXY: 'true' }] as Record<string, string>[]) {
    const app = await testApp(env);
    try {
      const { auth } = await signup(app.app);
      const c = await api<Campaign>(app.app, auth, 'POST', '/api/v1/campaigns', {
        name: 'proxy',
        destinationUrl: BOT,
      });
      const res = await click(app.app, `/c/${c.body.slug}`, { 'x-forwarded-for': '203.0.113.7' });
      assert.equal(res.statusCode, 302);
      assert.match(res.headers.location as string, /start=[A-Za-z0-9]{12}$/);
    } finally {
      await app.close();
    }
  }
});

// No API exposes a click's IP, so this builds the app on a known file and reads the row.
async function clickIp(env: Record<string, string>): Promise<{ ip: string | null; ua: string }> {
  const dir = tempDir();
  const path = `${dir.path}/test.db`;
  const store = openSqliteStore({ path });
  const app = await buildApp({
    config: loadConfig({ PUBLIC_URL, DATABASE_URL: `sqlite:${path}`, DATA_DIR: dir.path, ...env }),
    store,
  });
  try {
    await app.ready();
    const { auth } = await signup(app);
    const c = await api<Campaign>(app, auth, 'POST', '/api/v1/campaigns', {
      name: 'ip',
      destinationUrl: BOT,
    });
    const res = await app.inject({
      method: 'GET',
      url: `/c/${c.body.slug}`,
      remoteAddress: '198.51.100.1',
      headers: {
        'x-forwarded-for': '203.0.113.7',
        'user-agent': 'TestAgent/1.0',
        referer: 'https://facebook.com/',
      },
    });
    assert.equal(res.statusCode, 302);
    const db = new Database(path, { readonly: true });
    try {
      const row = db.prepare('SELECT ip, user_agent, referrer FROM clicks').get() as {
        ip: string | null;
        user_agent: string;
        referrer: string;
      };
      assert.equal(row.referrer, 'https://facebook.com/');
      return { ip: row.ip, ua: row.user_agent };
    } finally {
      db.close();
    }
  } finally {
    await app.close();
    await store.close();
    dir.remove();
  }
}

test('without TRUST_PROXY the click IP is the socket address, X-Forwarded-For ignored', async () => {
  const row = await clickIp({});
  assert.equal(row.ip, '198.51.100.1');
  assert.equal(row.ua, 'TestAgent/1.0');
});

test('with TRUST_PROXY=true the click IP comes from X-Forwarded-For', async () => {
  const row = await clickIp({ TRUST_PROXY: 'true' });
  assert.equal(row.ip, '203.0.113.7');
});
