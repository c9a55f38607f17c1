// A database that cannot take writes (here, a full disk: the embedded file is
// capped so any growth fails with SQLITE_FULL, as on ENOSPC) gets 503 with
// Retry-After, never a redirect or a `recorded` it could not keep; once the
// space is back, the network's retry counts once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ENGINE, funnel, signup, type TestApp, testApp } from '../helpers.js';

describe('a full disk', {
  skip: ENGINE !== 'sqlite' ? 'the full disk is simulated on the embedded engine' : false,
}, () => {
  let t: TestApp;
  let store: SqliteStore;
  let setup: Awaited<ReturnType<typeof funnel>> & { token: string };
  const NO_LIMIT = 1_073_741_823;

  before(async () => {
    t = await testApp();
    store = t.store as SqliteStore;
    const account = await signup(t.app);
    const f = await funnel(t.app, account.auth, '1win');
    setup = { ...f, token: (f.postback as { token: string }).token };
  });
  after(() => t.close());

  /** Writes that fit in the file's free space succeed; the next that grows it fails. */
  function fillDisk() {
    store.capPages(store.pageCount());
  }

  test('a postback: 503 with Retry-After until there is room, then the retry counts once', async () => {
    fillDisk();
    const url = (i: number) =>
      `/api/postbacks/${setup.token}/deposit?clickid=${setup.clickid}&amount=25.50&tid=full-${i}&pad=${'x'.repeat(4000)}`;
    // Log rows of a few KB each: the free space runs out within a few.
    let refused = null;
    for (let i = 0; i < 20 && !refused; i++) {
      const res = await t.app.inject({ method: 'GET', url: url(i) });
      if (res.statusCode !== 200) refused = { res, url: url(i) };
      else assert.equal(res.json().status, 'recorded');
    }
    assert.ok(refused, 'the capped file took every postback');
    assert.equal(refused.res.statusCode, 503);
    assert.equal(refused.res.headers['retry-after'], '1');
    assert.equal(refused.res.json().error.code, 'storage_unavailable');
    const before = await t.countRows('conversions');

    store.capPages(NO_LIMIT);
    const retried = await t.app.inject({ method: 'GET', url: refused.url });
    assert.equal(retried.statusCode, 200);
    assert.equal(retried.json().status, 'recorded');
    const again = await t.app.inject({ method: 'GET', url: refused.url });
    assert.equal(again.json().status, 'duplicate');
    assert.equal(await t.countRows('conversions'), before + 1);
  });

  test('a click: 503 and no redirect while nothing can be written, then a redirect', async () => {
    fillDisk();
    const url = `/c/${setup.campaign.slug}?fbclid=full&sub1=${'y'.repeat(900)}`;
    let refused = null;
    for (let i = 0; i < 50 && !refused; i++) {
      const before = await t.countRows('clicks');
      const res = await t.app.inject({ method: 'GET', url });
      if (res.statusCode === 302) {
        assert.equal(await t.countRows('clicks'), before + 1, 'a redirect without its click');
      } else {
        refused = res;
        assert.equal(await t.countRows('clicks'), before);
      }
    }
    assert.ok(refused, 'the capped file took every click');
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.headers.location, undefined);

    store.capPages(NO_LIMIT);
    const res = await t.app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 302);
  });

  test('a malformed postback URL, refused by the framework: 503 too, not 500', async () => {
    fillDisk();
    // Its refusal is logged, and the log row needs room: fill the free pages first.
    let res = null;
    for (let i = 0; i < 50 && (res === null || res.statusCode === 400); i++) {
      res = await t.app.inject({
        method: 'GET',
        url: `/api/postbacks/${setup.token}/dep%ZZ?pad=${'z'.repeat(4000)}${i}`,
      });
    }
    assert.equal(res?.statusCode, 503);
    assert.equal(res?.headers['retry-after'], '1');
    assert.equal(res?.json().error.code, 'storage_unavailable');
    store.capPages(NO_LIMIT);
  });

  test('the store still closes on a full disk', async () => {
    fillDisk();
    // Closing writes planner statistics, which fails here; the close must not.
    await t.close();
    t = await testApp(); // for after()
  });
});
