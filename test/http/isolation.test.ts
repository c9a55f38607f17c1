// Workspace isolation on every management route: workspace B, holding A's ids,
// gets 404 (never A's data, never a change to it); and every documented
// /api/v1 route refuses a caller without a token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, fire, funnel, signup, type TestApp, testApp } from '../helpers.js';

type Auth = { authorization: string };
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Json = Record<string, unknown>;

interface Lead {
  clickid: string;
  externalId: string | null;
  username: string | null;
  fields: Record<string, string>;
  events: { event: string }[];
  totals: { deposits: string };
}
interface Stats {
  totals: Record<string, number | string>;
}

let t: TestApp;
let a: {
  auth: Auth;
  campaignId: string;
  postbackId: string;
  clickid: string;
  apiKeyId: string;
  apiKey: string;
};
let b: { auth: Auth };

before(async () => {
  t = await testApp();
  const owner = await signup(t.app, 'A');
  const { campaign, postback, clickid } = await funnel(t.app, owner.auth, '1win');
  const links = postback.links as Record<string, string>;
  const reg = await fire(t.app, links.registration as string, { '{sub1}': clickid });
  assert.equal(reg.body.status, 'recorded');
  const ftd = await fire(t.app, links.firstDeposit as string, {
    '{sub1}': clickid,
    '{amount}': '100',
    '{event_id}': 'a-ftd-1',
  });
  assert.equal(ftd.body.status, 'recorded');
  const key = await api<{ id: string; key: string }>(
    t.app,
    owner.auth,
    'POST',
    '/api/v1/api-keys',
    {
      name: 'bot',
    },
  );
  assert.equal(key.status, 201);
  a = {
    auth: owner.auth,
    campaignId: campaign.id,
    postbackId: postback.id,
    clickid,
    apiKeyId: key.body.id,
    apiKey: key.body.key,
  };
  b = { auth: (await signup(t.app, 'B')).auth };
});
after(() => t.close());

const get = <T = Json>(auth: Auth, url: string) => api<T>(t.app, auth, 'GET', url);

/** Everything A can see of its own data, to compare before and after B's attempts. */
async function snapshotOfA() {
  const campaign = await get(a.auth, `/api/v1/campaigns/${a.campaignId}`);
  const postback = await get(a.auth, `/api/v1/postbacks/${a.postbackId}`);
  const lead = await get<Lead>(a.auth, `/api/v1/leads/${a.clickid}`);
  const logs = await get<{ items: unknown[] }>(a.auth, '/api/v1/postback-logs?limit=200');
  const leads = await get<{ items: unknown[] }>(a.auth, '/api/v1/leads');
  const stats = await get<Stats>(a.auth, '/api/v1/stats');
  const keys = await get<{ items: { id: string }[] }>(a.auth, '/api/v1/api-keys');
  const viaKey = await get<{ workspace: { name: string } }>(
    { authorization: `Bearer ${a.apiKey}` },
    '/api/v1/me',
  );
  for (const r of [campaign, postback, lead, logs, leads, stats, keys, viaKey]) {
    assert.equal(r.status, 200);
  }
  return {
    campaign: campaign.body,
    postback: postback.body,
    lead: lead.body,
    logCount: logs.body.items.length,
    leadCount: leads.body.items.length,
    statsTotals: stats.body.totals,
    apiKeyIds: keys.body.items.map((k) => k.id),
    apiKeyWorkspace: viaKey.body.workspace.name,
  };
}

let before_: Awaited<ReturnType<typeof snapshotOfA>>;

function assertZeroTotals(totals: Record<string, number | string>) {
  for (const [key, value] of Object.entries(totals)) {
    if (key === 'key' || key === 'label') continue;
    if (typeof value === 'number') assert.equal(value, 0, `totals.${key}`);
    else assert.equal(value, '0', `totals.${key}`);
  }
}

function assertNotFound(res: { status: number; body: unknown }, what: string) {
  assert.equal(res.status, 404, `${what}: ${JSON.stringify(res.body)}`);
  const error = (res.body as { error?: { code?: unknown; message?: unknown } }).error;
  assert.equal(typeof error?.code, 'string', `${what}: error.code`);
  assert.match(error?.code as string, /^[a-z][a-z0-9_]*$/, `${what}: snake_case code`);
  assert.equal(typeof error?.message, 'string', `${what}: error.message`);
  assert.ok(String(error?.message ?? '').length > 0, `${what}: non-empty message`);
}

test('A sees its own campaign, postback, lead, logs and stats (the baseline)', async () => {
  before_ = await snapshotOfA();
  assert.equal(before_.lead.events.length, 2);
  assert.equal(before_.lead.externalId, null);
  assert.equal(before_.logCount, 2);
  assert.equal(before_.leadCount, 1);
  assert.equal(before_.postback.enabled, true);
  assert.equal(before_.statsTotals.clicks, 1);
  assert.equal(before_.statsTotals.registrations, 1);
  assert.equal(before_.statsTotals.firstDeposits, 1);
  assert.equal(before_.statsTotals.firstDepositAmount, '100');
  assert.deepEqual(before_.apiKeyIds, [a.apiKeyId]);
  assert.equal(before_.apiKeyWorkspace, 'A');
});

test("B's lists are empty and its stats are zero", async () => {
  const campaigns = await get<{ items: unknown[] }>(b.auth, '/api/v1/campaigns');
  const postbacks = await get<{ items: unknown[] }>(b.auth, '/api/v1/postbacks');
  const leads = await get<{ items: unknown[] }>(b.auth, '/api/v1/leads');
  const logs = await get<{ items: unknown[] }>(b.auth, '/api/v1/postback-logs');
  const apiKeys = await get<{ items: unknown[] }>(b.auth, '/api/v1/api-keys');
  for (const [name, r] of Object.entries({ campaigns, postbacks, leads, logs, apiKeys })) {
    assert.equal(r.status, 200, name);
    assert.deepEqual(r.body.items, [], name);
  }
  for (const groupBy of ['day', 'campaign', 'postback', 'network', 'buyer', 'param.utm_campaign']) {
    const stats = await get<Stats & { rows: Json[] }>(b.auth, `/api/v1/stats?groupBy=${groupBy}`);
    assert.equal(stats.status, 200, groupBy);
    assertZeroTotals(stats.body.totals);
    if (groupBy !== 'day') assert.deepEqual(stats.body.rows, [], groupBy);
  }
});

test("B filtering by A's ids gets empty lists and zero stats", async () => {
  const leads = await get<{ items: unknown[] }>(b.auth, `/api/v1/leads?campaignId=${a.campaignId}`);
  assert.equal(leads.status, 200);
  assert.deepEqual(leads.body.items, []);
  const byClickid = await get<{ items: unknown[] }>(b.auth, `/api/v1/leads?q=${a.clickid}`);
  assert.equal(byClickid.status, 200);
  assert.deepEqual(byClickid.body.items, []);
  const logs = await get<{ items: unknown[] }>(
    b.auth,
    `/api/v1/postback-logs?postbackId=${a.postbackId}`,
  );
  assert.equal(logs.status, 200);
  assert.deepEqual(logs.body.items, []);
  const logsByClickid = await get<{ items: unknown[] }>(
    b.auth,
    `/api/v1/postback-logs?q=${a.clickid}`,
  );
  assert.deepEqual(logsByClickid.body.items, []);
  const stats = await get<Stats>(b.auth, `/api/v1/stats?campaignId=${a.campaignId}`);
  assert.equal(stats.status, 200);
  assertZeroTotals(stats.body.totals);
  const byCampaign = await get<Stats>(
    b.auth,
    `/api/v1/stats?campaignId=${a.campaignId}&groupBy=campaign`,
  );
  assertZeroTotals(byCampaign.body.totals);
});

/** Every by-id management route, called by B with A's ids. */
function byIdRoutes(): [Method, string, Json | undefined][] {
  return [
    ['GET', `/api/v1/campaigns/${a.campaignId}`, undefined],
    ['PATCH', `/api/v1/campaigns/${a.campaignId}`, { name: 'hijacked' }],
    ['DELETE', `/api/v1/campaigns/${a.campaignId}`, undefined],
    ['GET', `/api/v1/postbacks/${a.postbackId}`, undefined],
    ['PATCH', `/api/v1/postbacks/${a.postbackId}`, { name: 'hijacked', enabled: false }],
    ['DELETE', `/api/v1/postbacks/${a.postbackId}`, undefined],
    [
      'POST',
      `/api/v1/postbacks/${a.postbackId}/registration-link`,
      { baseUrl: 'https://1win.example/reg?p=1' },
    ],
    ['GET', `/api/v1/leads/${a.clickid}`, undefined],
    ['POST', '/api/v1/leads', { clickid: a.clickid, externalId: 'b-chat-1', username: 'mallory' }],
    ['POST', '/api/v1/leads', { campaignId: a.campaignId, username: 'mallory' }],
    [
      'POST',
      `/api/v1/leads/${a.clickid}/events`,
      { event: 'deposit', amount: '999', currency: 'USD', tid: 'b-dep-1' },
    ],
    ['POST', `/api/v1/leads/${a.clickid}/events`, { event: 'registration' }],
    [
      'POST',
      '/api/v1/links/render',
      { template: 'https://t.me/x?start={{tracker.clickid}}', clickid: a.clickid },
    ],
    ['POST', '/api/v1/postbacks', { name: 'steal', network: '1win', campaignId: a.campaignId }],
    ['DELETE', `/api/v1/api-keys/${a.apiKeyId}`, undefined],
  ];
}

test("every by-id route answers 404 to B with A's ids", async (ctx) => {
  for (const [method, url, payload] of byIdRoutes()) {
    const path = url
      .replace(a.clickid, ':clickid')
      .replace(new RegExp(`/(${a.campaignId}|${a.postbackId}|${a.apiKeyId})(?=/|$)`), '/:id');
    const label = `${method} ${path}${payload ? ` ${JSON.stringify(payload)}` : ''}`.replaceAll(
      a.clickid,
      '<A clickid>',
    );
    await ctx.test(label, async () => {
      assertNotFound(await api(t.app, b.auth, method, url, payload), label);
    });
  }
});

test("B cannot move its own postback into A's campaign", async () => {
  const own = await api<{ id: string }>(t.app, b.auth, 'POST', '/api/v1/postbacks', {
    name: 'B custom',
    network: 'custom',
  });
  assert.equal(own.status, 201);
  const moved = await api(t.app, b.auth, 'PATCH', `/api/v1/postbacks/${own.body.id}`, {
    campaignId: a.campaignId,
  });
  assertNotFound(moved, 'PATCH own postback {campaignId: A}');
  const after = await get<{ campaignId: string | null }>(
    b.auth,
    `/api/v1/postbacks/${own.body.id}`,
  );
  assert.equal(after.body.campaignId, null);
});

test("B's own postback token fired with A's clickid: 200 unmatched, nothing counted for A", async () => {
  const own = await api<{ links: Record<string, string> }>(
    t.app,
    b.auth,
    'POST',
    '/api/v1/postbacks',
    {
      name: 'B 1win',
      network: '1win',
    },
  );
  assert.equal(own.status, 201);
  const links = own.body.links;
  const attempts = [
    fire(t.app, links.registration as string, { '{sub1}': a.clickid }),
    fire(t.app, links.firstDeposit as string, {
      '{sub1}': a.clickid,
      '{amount}': '500',
      '{event_id}': 'b-ftd-1',
    }),
    fire(t.app, links.deposit as string, {
      '{sub1}': a.clickid,
      '{amount}': '50',
      '{event_id}': 'b-dep-1',
    }),
  ];
  for (const res of await Promise.all(attempts)) {
    assert.equal(res.status, 200);
    assert.equal(res.body.ok, true);
    assert.equal(res.body.status, 'unmatched');
    assert.equal(res.body.reason, 'unknown_clickid');
    assert.equal(res.body.clickid, a.clickid);
  }
  // B sees its own attempts in its own log, and still none of A's leads.
  const logs = await get<{ items: { status: string; postbackId: string }[] }>(
    b.auth,
    '/api/v1/postback-logs',
  );
  assert.equal(logs.body.items.length, 3);
  assert.ok(
    logs.body.items.every((l) => l.status === 'unmatched' && l.postbackId !== a.postbackId),
  );
  const leads = await get<{ items: unknown[] }>(b.auth, '/api/v1/leads');
  assert.deepEqual(leads.body.items, []);
});

test("afterwards A's data is unchanged", async () => {
  const now = await snapshotOfA();
  assert.equal(now.campaign.name, 'FB RU');
  assert.deepEqual(now.campaign, before_.campaign);
  assert.equal(now.postback.enabled, true);
  assert.deepEqual(now.postback, before_.postback);
  assert.equal(now.lead.events.length, 2);
  assert.deepEqual(
    now.lead.events.map((e) => e.event),
    before_.lead.events.map((e) => e.event),
  );
  assert.equal(now.lead.externalId, null, 'B did not bind its chat to A');
  assert.equal(now.lead.username, null);
  assert.equal(now.lead.totals.deposits, '100');
  assert.deepEqual(now.lead, before_.lead);
  assert.equal(now.logCount, before_.logCount, "B's postbacks left nothing in A's log");
  assert.equal(now.leadCount, 1, 'B created no lead in A');
  assert.deepEqual(now.statsTotals, before_.statsTotals);
  assert.deepEqual(now.apiKeyIds, before_.apiKeyIds, "A's API key is not revoked");
  assert.equal(now.apiKeyWorkspace, 'A', "A's API key still works");
  // A's campaign still takes clicks (B's DELETE did not remove it).
  const campaign = now.campaign as { slug: string };
  const click = await t.app.inject({ method: 'GET', url: `/c/${campaign.slug}` });
  assert.equal(click.statusCode, 302);
});

// --- every documented route ----------------------------------------------

/** Stand-ins for documented path parameters: A's ids where the path names them. */
function paramValue(path: string, name: string): string {
  if (name === 'clickid') return a.clickid;
  if (name === 'id' && path.startsWith('/api/v1/campaigns/')) return a.campaignId;
  if (name === 'id' && path.startsWith('/api/v1/postbacks/')) return a.postbackId;
  if (name === 'id' && path.startsWith('/api/v1/api-keys/')) return a.apiKeyId;
  return '1';
}

type Schema = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  required?: string[];
  properties?: Record<string, Schema>;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  minItems?: number;
  items?: Schema;
  default?: unknown;
};

/** A minimal value the schema accepts, so that the handler, not validation, answers. */
function sample(schema: Schema | undefined): unknown {
  if (!schema) return {};
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return sample(options.find((o) => o.type !== 'null') ?? options[0]);
  switch (schema.type) {
    case 'object':
      return Object.fromEntries(
        (schema.required ?? []).map((key) => [key, sample(schema.properties?.[key])]),
      );
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items));
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string': {
      const min = Math.max(schema.minLength ?? 1, 1);
      const candidates = [
        'x'.repeat(min),
        'https://example.com/x',
        'abc123',
        'USD',
        'registration',
        'day',
        '2026-11-20',
        'x@example.com',
      ];
      const fits = (value: string) =>
        value.length >= min &&
        value.length <= (schema.maxLength ?? Number.POSITIVE_INFINITY) &&
        (!schema.pattern || new RegExp(schema.pattern, 'u').test(value));
      return candidates.find(fits) ?? candidates[0];
    }
    default:
      return schema.default ?? {};
  }
}

interface Operation {
  method: Method;
  path: string;
  /** A valid JSON body, when the operation takes one. */
  body: unknown;
  /** Required query parameters, filled with valid values. */
  query: string;
}

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
}

/** The documented /api/v1 operations, from the OpenAPI document the app serves. */
async function documentedOperations(): Promise<Operation[]> {
  const res = await t.app.inject({ method: 'GET', url: '/api/docs/json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json() as { paths: Record<string, Record<string, OpenApiOperation>> };
  const ops: Operation[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/v1/')) continue;
    for (const [method, op] of Object.entries(operations)) {
      const upper = method.toUpperCase();
      if (!['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].includes(upper)) continue;
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const query = new URLSearchParams();
      for (const p of op.parameters ?? []) {
        if (p.in === 'query' && p.required) query.set(p.name, String(sample(p.schema)));
      }
      ops.push({
        method: upper as Method,
        path,
        body: schema ? sample(schema) : upper === 'POST' || upper === 'PATCH' ? {} : undefined,
        query: query.size > 0 ? `?${query}` : '',
      });
    }
  }
  return ops;
}

function concrete(op: Operation): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => paramValue(op.path, name));
  return path + op.query;
}

const PUBLIC_OPERATIONS = new Set([
  'POST /api/v1/auth/signup',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/logout',
]);

test("every documented route with a path parameter answers 404 to B with A's ids (a valid body each)", async () => {
  const ops = (await documentedOperations()).filter((op) => op.path.includes('{'));
  assert.ok(ops.length >= 10, `expected the by-id routes in the OpenAPI document: ${ops.length}`);
  for (const op of ops) {
    const res = await api(t.app, b.auth, op.method, concrete(op), op.body);
    assertNotFound(res, `${op.method} ${op.path} ${JSON.stringify(op.body)}`);
  }
});

/** Every route the router knows (from printRoutes), as "METHOD /path/{param}". */
function routerOperations(): Set<string> {
  const tree = t.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const ops = new Set<string>();
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    const full = (stack[depth - 1] ?? '') + (m[2] as string);
    stack[depth] = full;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) {
      if (method !== 'HEAD') ops.add(`${method} ${full.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return ops;
}

test('every /api/v1 route the router serves is in the OpenAPI document (none hidden from the guard)', async () => {
  const documented = new Set((await documentedOperations()).map((o) => `${o.method} ${o.path}`));
  const served = [...routerOperations()].filter((op) => op.split(' ')[1]?.startsWith('/api/v1/'));
  assert.ok(served.length >= documented.size, `parsed routes: ${served.join(', ')}`);
  for (const op of served) assert.ok(documented.has(op), `${op} is served but not documented`);
});

test('every documented /api/v1 route but signup, login and logout answers 401 without a token', async () => {
  const ops = (await documentedOperations()).filter(
    (op) => !PUBLIC_OPERATIONS.has(`${op.method} ${op.path}`),
  );
  assert.ok(ops.length >= 15, `only ${ops.length} operations documented`);
  for (const op of ops) {
    const key = `${op.method} ${op.path} ${JSON.stringify(op.body)}`;
    for (const headers of [
      {},
      { authorization: 'Bearer not-a-real-token-0123456789' },
      { cookie: 'cb_session=not-a-real-session-0123456789' },
    ]) {
      const res = await t.app.inject({
        method: op.method,
        url: concrete(op),
        headers,
        ...(op.body === undefined ? {} : { payload: op.body as Json }),
      });
      assert.equal(res.statusCode, 401, `${key} ${JSON.stringify(headers)}: ${res.body}`);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'unauthorized', key);
    }
  }
});

test('authentication comes before validation: an anonymous request with a bad body is 401, not 400', {}, async () => {
  const ops = (await documentedOperations()).filter(
    (op) => !PUBLIC_OPERATIONS.has(`${op.method} ${op.path}`),
  );
  const failures: string[] = [];
  for (const op of ops) {
    const url = `${concrete(op)}${op.query ? '&' : '?'}limit=0&groupBy=nope&from=bad`;
    const res = await t.app.inject({
      method: op.method,
      url,
      ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { payload: { bogus: [1] } }),
    });
    if (res.statusCode !== 401) failures.push(`${op.method} ${op.path} → ${res.statusCode}`);
  }
  assert.deepEqual(failures, []);
});
