import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify from 'fastify';
import { LazyValidators, lazySerializers } from '../../src/http/lazy-compilers.js';
import { api, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

test('request schemas are not compiled at start-up; compileRest compiles every one', async () => {
  const pendingAtStart = t.app.validators.pending;
  assert.ok(pendingAtStart >= 30, `${pendingAtStart} schemas waiting after ready`);

  // A request compiles its route's schemas, and validation is what it was.
  const { auth } = await signup(t.app);
  assert.ok(t.app.validators.pending < pendingAtStart, 'signup compiled its body schema');
  const refused = await api<{ error: { code: string; message: string } }>(
    t.app,
    auth,
    'POST',
    '/api/v1/campaigns',
    { name: '' },
  );
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.code, 'invalid_request');
  assert.match(refused.body.error.message, /name/);
  // Defaults and coercion, as Fastify's own compiler does them.
  const page = await api<{ items: unknown[] }>(t.app, auth, 'GET', '/api/v1/leads?limit=2');
  assert.equal(page.status, 200);
  assert.equal((await api(t.app, auth, 'GET', '/api/v1/leads?limit=0')).status, 400);

  await t.app.validators.compileRest();
  assert.equal(t.app.validators.pending, 0);
  const created = await api(t.app, auth, 'POST', '/api/v1/campaigns', { name: 'After' });
  assert.equal(created.status, 201);
});

test('a broken schema is reported by compileRest, before any request needs it', async () => {
  const validators = new LazyValidators();
  const app = Fastify();
  app.setValidatorCompiler(validators.compiler);
  app.post('/ok', { schema: { body: { type: 'object' } } }, async () => ({ ok: true }));
  app.post('/broken', { schema: { body: { type: 'no-such-type' } } }, async () => ({}));
  await app.ready();
  try {
    assert.equal(validators.pending, 2);
    await assert.rejects(validators.compileRest(), /type/);
    assert.equal((await app.inject({ method: 'POST', url: '/ok', payload: {} })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('a response schema is still serialized by fast-json-stringify, loaded when needed', async () => {
  const app = Fastify({
    schemaController: { compilersFactory: { buildSerializer: lazySerializers } },
  });
  app.get(
    '/',
    {
      schema: { response: { 200: { type: 'object', properties: { shown: { type: 'string' } } } } },
    },
    async () => ({ shown: 'yes', hidden: 'no' }),
  );
  try {
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.deepEqual(res.json(), { shown: 'yes' });
  } finally {
    await app.close();
  }
});
