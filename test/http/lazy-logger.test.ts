import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { PUBLIC_URL, tempDir } from '../helpers.js';

test("a request's logger is built on its first line, with the request's id", async () => {
  const dir = tempDir();
  const store = openSqliteStore({ path: `${dir.path}/test.db` });
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let built = 0;
  const config = loadConfig({ PUBLIC_URL, DATABASE_URL: 'sqlite:unused', DATA_DIR: dir.path });
  const app = await buildApp({
    config,
    store,
    logger: { level: 'info', stream, onChild: () => built++ },
  });
  try {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal(built, 0, 'a request that logs nothing builds no child logger');

    for (let i = 0; i < 2; i++) {
      const res = await app.inject({ method: 'GET', url: '/api/v1/campaigns' });
      assert.equal(res.statusCode, 401);
    }
    assert.equal(built, 2, 'one child per request that logs');
    const refused = lines.filter((l) => l.msg === 'request refused');
    assert.equal(refused.length, 2);
    assert.ok(refused.every((l) => typeof l.reqId === 'string' && l.code === 'unauthorized'));
    assert.notEqual(refused[0]?.reqId, refused[1]?.reqId);
  } finally {
    await app.close();
    await store.close();
    dir.remove();
  }
});
