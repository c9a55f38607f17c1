// Accounts and sessions through HTTP: signup, login, logout, the session
// cookie, the 401 envelope, closed sign-up, and tokens stored only as hashes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { api, PUBLIC_URL, signup, type TestApp, tempDir, testApp } from '../helpers.js';

let t: TestApp;
before(async () => {
  t = await testApp();
});
after(() => t.close());

const PASSWORD = 'correct horse battery';
let n = 0;
const freshEmail = () => `acc${++n}-${Date.now()}@example.com`;

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url,
    headers,
    payload: payload as Record<string, unknown>,
  });
  return res;
}

function expectError(res: { statusCode: number; json(): unknown }, status: number, code?: string) {
  assert.equal(res.statusCode, status);
  const body = res.json() as { error: { code: string; message: string } };
  assert.equal(typeof body.error.code, 'string');
  assert.match(body.error.code, /^[a-z0-9_]+$/);
  assert.equal(typeof body.error.message, 'string');
  if (code) assert.equal(body.error.code, code);
}

test('signup answers 201 {user, workspace, token} and sets an HttpOnly cb_session cookie', async () => {
  const email = freshEmail();
  const res = await post('/api/v1/auth/signup', {
    email,
    password: PASSWORD,
    workspaceName: 'Acme',
  });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json() as {
    user: { id: string; email: string };
    workspace: { id: string; name: string };
    token: string;
  };
  assert.equal(typeof body.user.id, 'string');
  assert.equal(body.user.email, email);
  assert.equal(typeof body.workspace.id, 'string');
  assert.equal(body.workspace.name, 'Acme');
  assert.equal(typeof body.token, 'string');
  // 22 base64url characters carry 132 bits: at least 128 bits of token.
  assert.match(body.token, /^[A-Za-z0-9_-]{22,}$/);

  const cookie = res.cookies.find((c) => c.name === 'cb_session');
  assert.ok(cookie, `no cb_session cookie: ${JSON.stringify(res.headers['set-cookie'])}`);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.value, body.token);
  assert.match(String(res.headers['set-cookie']), /HttpOnly/i);
});

test('the session cookie alone authenticates GET /api/v1/me', async () => {
  const email = freshEmail();
  const res = await post('/api/v1/auth/signup', { email, password: PASSWORD });
  const cookie = res.cookies.find((c) => c.name === 'cb_session');
  assert.ok(cookie);
  const me = await t.app.inject({
    method: 'GET',
    url: '/api/v1/me',
    cookies: { cb_session: cookie.value },
  });
  assert.equal(me.statusCode, 200, me.body);
  const body = me.json() as { user: { email: string }; workspace: { id: string; name: string } };
  assert.equal(body.user.email, email);
  assert.equal(body.workspace.id, (res.json() as { workspace: { id: string } }).workspace.id);
});

test('GET /api/v1/me with the Bearer token answers {user, workspace}', async () => {
  const account = await signup(t.app, 'Bearer Team');
  const me = await api<{ user: { email: string }; workspace: { id: string; name: string } }>(
    t.app,
    account.auth,
    'GET',
    '/api/v1/me',
  );
  assert.equal(me.status, 200);
  assert.equal(me.body.user.email, account.email);
  assert.deepEqual(me.body.workspace, { id: account.workspaceId, name: 'Bearer Team' });
});

test('a duplicate email, in any case, answers 409 email_taken', async () => {
  const email = freshEmail();
  assert.equal((await post('/api/v1/auth/signup', { email, password: PASSWORD })).statusCode, 201);
  expectError(await post('/api/v1/auth/signup', { email, password: PASSWORD }), 409, 'email_taken');
  expectError(
    await post('/api/v1/auth/signup', { email: email.toUpperCase(), password: PASSWORD }),
    409,
    'email_taken',
  );
});

test('a weak or missing password answers 400', async () => {
  expectError(
    await post('/api/v1/auth/signup', { email: freshEmail(), password: 'short' }),
    400,
    'weak_password',
  );
  expectError(
    await post('/api/v1/auth/signup', { email: freshEmail(), password: 'aaaaaaaaaaaa' }),
    400,
    'weak_password',
  );
  expectError(await post('/api/v1/auth/signup', { email: freshEmail() }), 400);
  expectError(await post('/api/v1/auth/signup', { email: freshEmail(), password: '' }), 400);
});

test('a bad email answers 400', async () => {
  expectError(
    await post('/api/v1/auth/signup', { email: 'not-an-email', password: PASSWORD }),
    400,
    'invalid_email',
  );
  expectError(
    await post('/api/v1/auth/signup', { email: 'a b@example.com', password: PASSWORD }),
    400,
  );
  expectError(await post('/api/v1/auth/signup', { password: PASSWORD }), 400);
});

test('login: 200 with the signup shape; wrong password and unknown email 401', async () => {
  const email = freshEmail();
  const created = (
    await post('/api/v1/auth/signup', { email, password: PASSWORD, workspaceName: 'Login' })
  ).json() as { user: { id: string }; workspace: { id: string }; token: string };

  const ok = await post('/api/v1/auth/login', { email: email.toUpperCase(), password: PASSWORD });
  assert.equal(ok.statusCode, 200, ok.body);
  const body = ok.json() as {
    user: { id: string; email: string };
    workspace: { id: string; name: string };
    token: string;
  };
  assert.deepEqual(body.user, { id: created.user.id, email });
  assert.deepEqual(body.workspace, { id: created.workspace.id, name: 'Login' });
  assert.match(body.token, /^[A-Za-z0-9_-]{22,}$/);
  assert.notEqual(body.token, created.token, 'each login is a new session');
  assert.ok(ok.cookies.some((c) => c.name === 'cb_session' && c.httpOnly));
  const me = await api(t.app, { authorization: `Bearer ${body.token}` }, 'GET', '/api/v1/me');
  assert.equal(me.status, 200);

  expectError(
    await post('/api/v1/auth/login', { email, password: 'wrong password!' }),
    401,
    'invalid_credentials',
  );
  expectError(
    await post('/api/v1/auth/login', { email: freshEmail(), password: PASSWORD }),
    401,
    'invalid_credentials',
  );
});

test('logout answers 204 and the token is refused after', async () => {
  const account = await signup(t.app);
  assert.equal((await api(t.app, account.auth, 'GET', '/api/v1/me')).status, 200);
  const out = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/logout',
    headers: account.auth,
  });
  assert.equal(out.statusCode, 204);
  assert.equal(out.body, '');
  const me = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: account.auth });
  expectError(me, 401, 'unauthorized');
  // The cookie carrying the same token is refused as well.
  const byCookie = await t.app.inject({
    method: 'GET',
    url: '/api/v1/me',
    cookies: { cb_session: account.token },
  });
  expectError(byCookie, 401);
});

test('logout by the cookie alone ends that session and clears the cookie', async () => {
  const account = await signup(t.app);
  const out = await t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/logout',
    cookies: { cb_session: account.token },
  });
  assert.equal(out.statusCode, 204);
  const cleared = out.cookies.find((c) => c.name === 'cb_session');
  assert.ok(cleared, 'logout does not clear the cookie');
  assert.equal(cleared.value, '');
  expectError(await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: account.auth }), 401);
});

test('a session expires after SESSION_DAYS', async () => {
  const short = await testApp({ SESSION_DAYS: '1' });
  try {
    const account = await signup(short.app);
    short.clock.advance(86_400_000 - 1000);
    assert.equal((await api(short.app, account.auth, 'GET', '/api/v1/me')).status, 200);
    short.clock.advance(2000);
    expectError(
      await short.app.inject({ method: 'GET', url: '/api/v1/me', headers: account.auth }),
      401,
    );
  } finally {
    await short.close();
  }
});

test('logout leaves the other sessions of the user alone', async () => {
  const email = freshEmail();
  const first = (await post('/api/v1/auth/signup', { email, password: PASSWORD })).json() as {
    token: string;
  };
  const second = (await post('/api/v1/auth/login', { email, password: PASSWORD })).json() as {
    token: string;
  };
  await post('/api/v1/auth/logout', undefined, { authorization: `Bearer ${first.token}` });
  assert.equal(
    (await api(t.app, { authorization: `Bearer ${second.token}` }, 'GET', '/api/v1/me')).status,
    200,
  );
});

test('no token answers 401 with the error envelope on every management route', async () => {
  for (const url of [
    '/api/v1/me',
    '/api/v1/campaigns',
    '/api/v1/postbacks',
    '/api/v1/leads',
    '/api/v1/stats',
    '/api/v1/postback-logs',
  ]) {
    const res = await t.app.inject({ method: 'GET', url });
    expectError(res, 401, 'unauthorized');
  }
  const create = await t.app.inject({
    method: 'POST',
    url: '/api/v1/campaigns',
    payload: { name: 'x' },
  });
  expectError(create, 401);
});

test('a garbage or malformed Bearer answers 401', async () => {
  for (const authorization of [
    'Bearer garbage',
    `Bearer ${'A'.repeat(43)}`,
    'Bearer !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    'Basic dXNlcjpwYXNz',
    'Bearer',
  ]) {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: { authorization },
    });
    expectError(res, 401);
  }
  const cookie = await t.app.inject({
    method: 'GET',
    url: '/api/v1/me',
    cookies: { cb_session: 'A'.repeat(43) },
  });
  expectError(cookie, 401);
});

test('ALLOW_SIGNUP=false answers 403 signup_closed without a session cookie', async () => {
  const closed = await testApp({ ALLOW_SIGNUP: 'false' });
  try {
    const res = await closed.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: freshEmail(), password: PASSWORD },
    });
    expectError(res, 403, 'signup_closed');
    assert.equal(res.cookies.length, 0);
  } finally {
    await closed.close();
  }
});

test('the database keeps only a hash of the session token', async () => {
  // The harness does not expose its file, so this builds the same app on a known path.
  const dir = tempDir();
  const path = `${dir.path}/test.db`;
  const store = openSqliteStore({ path });
  const app = await buildApp({
    config: loadConfig({ PUBLIC_URL, DATABASE_URL: `sqlite:${path}`, DATA_DIR: dir.path }),
    store,
  });
  try {
    await app.ready();
    const { token } = await signup(app);
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT token_hash FROM sessions').all() as { token_hash: string }[];
      assert.equal(rows.length, 1);
      assert.notEqual(rows[0]?.token_hash, token);
      assert.ok(!rows[0]?.token_hash.includes(token));
      const dump = JSON.stringify(db.prepare('SELECT * FROM sessions').all(), (_k, v: unknown) =>
        typeof v === 'bigint' ? String(v) : v,
      );
      assert.ok(!dump.includes(token), 'the raw token is in the sessions table');
    } finally {
      db.close();
    }
  } finally {
    await app.close();
    await store.close();
    dir.remove();
  }
});
