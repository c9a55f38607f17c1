import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();
const store = openSqliteStore({ path: `${dir.path}/db.sqlite` });
let app: Awaited<ReturnType<typeof buildApp>>;

before(async () => {
  const web = `${dir.path}/web`;
  mkdirSync(`${web}/assets`, { recursive: true });
  writeFileSync(
    `${web}/index.html`,
    '<!doctype html><title>Clickback</title><div id="root"></div>',
  );
  writeFileSync(`${web}/assets/app-abc123.js`, 'console.log(1)');
  app = await buildApp({ config: loadConfig({ DATA_DIR: dir.path }), store, webRoot: web });
});
after(async () => {
  await app.close();
  await store.close();
  dir.remove();
});

const html = { accept: 'text/html,application/xhtml+xml' };

test('the app is served at / and its hashed assets are cached for good', async () => {
  const index = await app.inject({ url: '/', headers: html });
  assert.equal(index.statusCode, 200);
  assert.match(index.body, /<title>Clickback<\/title>/);
  const asset = await app.inject({ url: '/assets/app-abc123.js' });
  assert.equal(asset.statusCode, 200);
  assert.match(String(asset.headers['cache-control']), /immutable/);
});

test('deep links and reloads of client-side routes get index.html', async () => {
  const deep = await app.inject({ url: '/tracker/postbacks?x=1', headers: html });
  assert.equal(deep.statusCode, 200);
  assert.match(deep.body, /<div id="root">/);
  assert.equal(deep.headers['cache-control'], 'no-cache');
});

test('API, click and inbound paths never fall back to the app', async () => {
  for (const url of ['/api/v1/nope', '/api/postbacks', '/c', '/healthz/x']) {
    const res = await app.inject({ url, headers: html });
    assert.equal(res.statusCode, 404, url);
    assert.equal(res.json().error.code, 'not_found', url);
  }
  const json = await app.inject({
    url: '/tracker/postbacks',
    headers: { accept: 'application/json' },
  });
  assert.equal(json.statusCode, 404);
});
