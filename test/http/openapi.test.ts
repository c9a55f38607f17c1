// The generated OpenAPI reference, the health check, and the answers for
// routes that do not exist and bodies that do not parse.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

type ErrorBody = { error: { code: string; message: string } };

test('GET /api/docs/json is an OpenAPI document listing the management routes', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/api/docs/json' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const doc = res.json() as {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, unknown>>;
  };
  assert.match(doc.openapi, /^3\./);
  assert.equal(typeof doc.info.title, 'string');
  for (const path of [
    '/api/v1/auth/signup',
    '/api/v1/auth/login',
    '/api/v1/me',
    '/api/v1/campaigns',
    '/api/v1/campaigns/{id}',
    '/api/v1/postbacks',
    '/api/v1/postbacks/{id}',
    '/api/v1/postbacks/{id}/registration-link',
    '/api/v1/leads',
    '/api/v1/leads/{clickid}',
    '/api/v1/leads/{clickid}/events',
    '/api/v1/links/render',
    '/api/v1/stats',
    '/api/v1/postback-logs',
  ]) {
    assert.ok(doc.paths[path], `missing ${path}`);
  }
  assert.ok(doc.paths['/api/v1/campaigns']?.post);
  assert.ok(doc.paths['/api/v1/campaigns']?.get);
  assert.ok(doc.paths['/api/v1/campaigns/{id}']?.patch);
  assert.ok(doc.paths['/api/v1/campaigns/{id}']?.delete);
  assert.ok(!doc.paths['/healthz'], 'the health check is hidden');
});

test("the reference documents a postback log row's amount and currency", async () => {
  const res = await t.app.inject({ method: 'GET', url: '/api/docs/json' });
  type Schema = { properties?: Record<string, Schema>; items?: Schema; required?: string[] };
  const doc = res.json() as {
    paths: Record<
      string,
      { get?: { responses?: Record<string, { content?: Record<string, { schema: Schema }> }> } }
    >;
  };
  const answer = doc.paths['/api/v1/postback-logs']?.get?.responses?.['200'];
  const row = answer?.content?.['application/json']?.schema.properties?.items?.items;
  assert.ok(row?.properties, JSON.stringify(answer));
  for (const key of ['conversionId', 'amount', 'currency']) {
    assert.ok(row.required?.includes(key), `${key} not required`);
    assert.match(JSON.stringify(row.properties[key]), /"type":"string"/, key);
  }
  assert.match(JSON.stringify(row.properties.amount), /decimal/);

  // A source's answer, when it is added as when it is read, says its health.
  const sources = (doc.paths['/api/v1/campaigns/{id}/sources'] ?? {}) as Record<
    string,
    { responses?: Record<string, { content?: Record<string, { schema: Schema }> }> }
  >;
  const created = sources.post?.responses?.['201']?.content?.['application/json']?.schema;
  assert.ok(created?.properties?.health, JSON.stringify(sources.post?.responses));
  assert.ok(created.required?.includes('health'));
  // The workspace's failing sources: each with its health and its campaign's name.
  const failing = doc.paths['/api/v1/sources/failing']?.get?.responses?.['200'];
  const item = failing?.content?.['application/json']?.schema.properties?.items?.items;
  assert.ok(item?.properties?.health, JSON.stringify(failing));
  for (const key of ['health', 'campaignId', 'campaignName', 'name']) {
    assert.ok(item.required?.includes(key), `${key} not required`);
  }
});

test('GET /api/docs serves the HTML reference (directly or by a redirect that resolves)', async () => {
  let res = await t.app.inject({ method: 'GET', url: '/api/docs' });
  for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
    const location = res.headers.location as string;
    assert.ok(location, 'a redirect without Location');
    res = await t.app.inject({
      method: 'GET',
      url: new URL(location, 'http://x/api/docs').pathname,
    });
  }
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/html/);
  assert.match(res.body, /<html/i);
});

test('GET /healthz answers 200 {ok:true}', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { ok: true });
});

test('an unknown route answers 404 not_found in the error envelope', async () => {
  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/api/v1/nope'],
    ['POST', '/api/v1/campaigns/1/nope'],
    ['DELETE', '/healthz'],
  ] as const) {
    const res = await t.app.inject({ method, url });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    const body = res.json() as ErrorBody;
    assert.equal(body.error.code, 'not_found');
    assert.equal(typeof body.error.message, 'string');
  }
});

test('a JSON body that does not parse answers 400 with an error code, not a 5xx', async () => {
  const { auth } = await signup(t.app);
  for (const payload of ['{bad', '{"name": "x",}', '[', 'null']) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/campaigns',
      headers: { ...auth, 'content-type': 'application/json' },
      payload,
    });
    assert.equal(res.statusCode, 400, `${payload}: ${res.body}`);
    const body = res.json() as ErrorBody;
    assert.match(body.error.code, /^[a-z_]+$/);
    assert.equal(typeof body.error.message, 'string');
  }
  const bad = await t.app.inject({
    method: 'POST',
    url: '/api/v1/campaigns',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: '{bad',
  });
  assert.equal((bad.json() as ErrorBody).error.code, 'invalid_json');
  // The same on the unauthenticated signup route.
  const signupBad = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    headers: { 'content-type': 'application/json' },
    payload: '{"email":',
  });
  assert.equal(signupBad.statusCode, 400);
  assert.equal((signupBad.json() as ErrorBody).error.code, 'invalid_json');
});

test('an empty JSON body answers 400, not a 5xx', async () => {
  const { auth } = await signup(t.app);
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/campaigns',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: '',
  });
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(typeof (res.json() as ErrorBody).error.code, 'string');
});

test('a route without a body takes an empty one sent with a JSON content type (clients that always send the header)', async () => {
  const { auth } = await signup(t.app);
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/v1/campaigns',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: '{"name":"gone soon"}',
  });
  const { id } = created.json() as { id: string };
  const empty = { ...auth, 'content-type': 'application/json' };
  const deleted = await t.app.inject({
    method: 'DELETE',
    url: `/api/v1/campaigns/${id}`,
    headers: empty,
    payload: '',
  });
  assert.equal(deleted.statusCode, 204, deleted.body);
  const out = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/logout',
    headers: empty,
    payload: '',
  });
  assert.equal(out.statusCode, 204, out.body);
  // A body that is there must still parse.
  const { auth: other } = await signup(t.app);
  const broken = await t.app.inject({
    method: 'DELETE',
    url: `/api/v1/campaigns/${id}`,
    headers: { ...other, 'content-type': 'application/json' },
    payload: '{',
  });
  assert.equal((broken.json() as ErrorBody).error.code, 'invalid_json');
});
