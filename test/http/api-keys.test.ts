import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, signup, type TestApp, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

test('an API key works like a session for a bot, is shown once, and stops when revoked', async () => {
  const owner = await signup(t.app);
  const created = await api<{ id: string; key: string; prefix: string }>(
    t.app,
    owner.auth,
    'POST',
    '/api/v1/api-keys',
    {
      name: 'telegram bot',
    },
  );
  assert.equal(created.status, 201);
  assert.match(created.body.key, /^cbk_[A-Za-z0-9_-]{43}$/);
  assert.ok(created.body.key.startsWith(created.body.prefix));
  const bot = { authorization: `Bearer ${created.body.key}` };

  const me = await api<{ workspace: { id: string } }>(t.app, bot, 'GET', '/api/v1/me');
  assert.equal(me.body.workspace.id, owner.workspaceId);
  const lead = await api<{ clickid: string }>(t.app, bot, 'POST', '/api/v1/leads', {
    externalId: 'chat-42',
  });
  assert.equal(lead.status, 201);

  const listKeys = () =>
    api<{ items: Array<Record<string, unknown>> }>(t.app, owner.auth, 'GET', '/api/v1/api-keys');
  let list = await listKeys();
  assert.equal(list.body.items.length, 1);
  assert.equal(list.body.items[0]?.key, undefined, 'the key is never listed');
  // Its use is noted without the request waiting for it.
  for (let i = 0; i < 200 && !list.body.items[0]?.lastUsedAt; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    list = await listKeys();
  }
  assert.ok(list.body.items[0]?.lastUsedAt);

  const stranger = await signup(t.app);
  assert.equal(
    (await api(t.app, stranger.auth, 'DELETE', `/api/v1/api-keys/${created.body.id}`)).status,
    404,
  );
  assert.equal(
    (await api(t.app, owner.auth, 'DELETE', `/api/v1/api-keys/${created.body.id}`)).status,
    204,
  );
  assert.equal((await api(t.app, bot, 'GET', '/api/v1/me')).status, 401);
});

test('a made-up key is refused', async () => {
  const res = await api(
    t.app,
    { authorization: `Bearer cbk_${'A'.repeat(43)}` },
    'GET',
    '/api/v1/me',
  );
  assert.equal(res.status, 401);
});
