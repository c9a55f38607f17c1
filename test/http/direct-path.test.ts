// The direct postback path (src/routes/inbound/direct-path.ts) answers what
// the Fastify route answers. Two servers on their own databases, the same
// data in both, one with the direct path and one without, take the same
// requests over real HTTP in the same order: every answer (status, headers
// but the date, body) and every postback-log row must be the same, and the
// requests the direct path is for must not have reached Fastify's handlers.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_PARAM_LENGTH, matchPostbackPath } from '../../src/routes/inbound/direct-path.js';
import { postbackAnswerJson } from '../../src/routes/inbound/receiver.js';
import { type TestApp, workspaceWithPostback } from '../helpers.js';
import { compareAnswers, type Sent, send, type Twin, twinPair, type Who } from './twins.js';

const TOKEN = 'twintoken0000000000';
const DISABLED = 'offtoken00000000000';

/** A workspace with an enabled and a disabled postback and two leads, the same in both twins. */
async function seed(t: TestApp): Promise<string> {
  const { workspaceId } = await workspaceWithPostback(t.store, 'twin');
  await t.store.createPostback(
    workspaceId,
    {
      name: 'off',
      network: 'custom',
      campaignId: null,
      clickidParam: 'clickid',
      currency: 'USD',
      macros: {},
      enabled: false,
    },
    DISABLED,
    0,
  );
  for (const clickid of ['lead-a', 'lead-b']) {
    await t.store.createLead(workspaceId, {
      campaignId: null,
      externalId: null,
      username: null,
      params: {},
      at: 0,
      newClickid: () => clickid,
    });
  }
  return workspaceId;
}

const base = `/api/postbacks/${TOKEN}`;
/**
 * Each request, and who answers it with the direct path on: the direct path,
 * a Fastify route, or Fastify before any route (a 404, a path the router refuses).
 */
const REQUESTS: Array<[Sent, Who]> = [
  [{ path: `${base}/deposit?clickid=lead-a&amount=10.50&tid=t1` }, 'direct'],
  [{ path: `${base}/deposit?clickid=lead-a&amount=10.50&tid=t1` }, 'direct'],
  [
    {
      path: `${base}/tracker-postback?clickid=lead-a&tracker.event=ftd&tracker.cost=20&tracker.tid=t2`,
    },
    'direct',
  ],
  [{ path: `${base}?clickid=lead-b&event=reg` }, 'direct'],
  [{ path: `${base}?clickid=lead-b&event=reg` }, 'direct'],
  [{ path: `${base}/deposit?clickid=nobody&amount=1&tid=t3` }, 'direct'],
  [{ path: `${base}/deposit?clickid={clickid}&amount=1` }, 'direct'],
  [{ path: `${base}/deposit?clickid=lead-a&amount=abc` }, 'direct'],
  [{ path: `${base}/deposit?clickid=lead-a&amount=1&amount=2` }, 'direct'],
  [{ path: `${base}/deposit?clickid=lead-a` }, 'direct'],
  [
    { path: `${base}/deposit?clickid=lead-a&amount=1&tid=t8&fields.country=BR&trader_id=42` },
    'direct',
  ],
  [{ path: `${base}/deposit?clickid=lead-a&amount=1%2C25&currency=eur&tid=t9` }, 'direct'],
  [{ path: `${base}/deposit?clickid=lead-a&amount=1&tid=%ZZ` }, 'direct'],
  [{ path: `${base}/no%20such?clickid=lead-a` }, 'route'],
  [{ path: `${base}/deposit?clickid=a%22b%5C%01%E2%80%A8%F0%9F%98%80c&amount=1` }, 'direct'],
  [{ path: `${base}/deposit?clickid=lead-a&amount=7&tid=t7#fragment` }, 'direct'],
  [{ path: `${base}/deposit#x?clickid=lead-a&amount=2&tid=t10` }, 'direct'],
  [{ path: '/api/postbacks/unknowntoken1/deposit?clickid=lead-a' }, 'direct'],
  [{ path: '/api/postbacks/bad!/deposit?clickid=lead-a' }, 'direct'],
  [{ path: `/api/postbacks/${DISABLED}/deposit?clickid=lead-a&amount=1&tid=t4` }, 'direct'],
  [
    {
      path: `${base}/deposit?clickid=lead-b&amount=3&tid=t11`,
      headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' },
    },
    'direct',
  ],
  [{ path: `${base}/deposit?clickid=lead-b&amount=3&tid=t12&pad=${'x'.repeat(8200)}` }, 'direct'],
  // The router's or Fastify's own: percent-encoded or odd paths, bodies, other methods.
  [{ path: `${base}/dep%6Fsit?clickid=lead-a&amount=3&tid=t5` }, 'route'],
  [{ path: `${base}/deposit/?clickid=lead-a&amount=3&tid=t13` }, 'route'],
  [{ path: `${base}/deposit/more?clickid=lead-a&amount=3&tid=t18` }, 'route'],
  // An empty token is the route's, which answers that no postback has it.
  [{ path: '/api/postbacks//deposit?clickid=lead-a' }, 'route'],
  [{ path: `${base}/${'e'.repeat(MAX_PARAM_LENGTH + 1)}?clickid=lead-a` }, 'route'],
  [
    {
      method: 'POST',
      path: `${base}/deposit`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'clickid=lead-b&amount=5&tid=t6',
    },
    'route',
  ],
  [
    {
      path: `${base}/deposit?clickid=lead-b&amount=5&tid=t14`,
      headers: { 'content-length': '3' },
      body: 'x=1',
    },
    'route',
  ],
  [
    {
      path: `${base}/deposit?clickid=lead-b&amount=5&tid=t17`,
      headers: { 'transfer-encoding': 'chunked' },
      body: 'x=1',
    },
    'route',
  ],
  [{ method: 'HEAD', path: `${base}/deposit?clickid=lead-b&amount=5&tid=t15` }, 'fastify'],
  [{ method: 'PUT', path: `${base}/deposit?clickid=lead-b&amount=5&tid=t16` }, 'fastify'],
];

const pair = twinPair('/api/postbacks', seed);

test('the direct path takes plain GETs of the two postback paths, and nothing else', () => {
  assert.deepEqual(matchPostbackPath('/api/postbacks/abc/deposit?x=1'), {
    token: 'abc',
    pathEvent: 'deposit',
  });
  assert.deepEqual(matchPostbackPath('/api/postbacks/abc'), { token: 'abc', pathEvent: null });
  assert.deepEqual(matchPostbackPath('/api/postbacks/abc/tracker-postback?x'), {
    token: 'abc',
    pathEvent: null,
  });
  assert.deepEqual(matchPostbackPath('/api/postbacks/abc/dep#x?y'), {
    token: 'abc',
    pathEvent: 'dep',
  });
  for (const url of [
    '/api/postbacks/',
    '/api/postbacks/?x',
    '/api/postbacks/abc/',
    '/api/postbacks/abc/dep/x',
    '/api/postbacks//dep',
    '/api/postbacks/a%62c/dep',
    '/api/postbacks/abc/d%65p',
    '/API/postbacks/abc/dep',
    '/api/postback/abc',
    'http://host/api/postbacks/abc/dep',
    `/api/postbacks/${'a'.repeat(MAX_PARAM_LENGTH + 1)}`,
    `/api/postbacks/abc/${'e'.repeat(MAX_PARAM_LENGTH + 1)}`,
  ]) {
    assert.equal(matchPostbackPath(url), null, url);
  }
});

test('the direct path reads a path as a regular expression of its rule does', () => {
  const rule = new RegExp(
    `^/api/postbacks/([^/?#%]{1,${MAX_PARAM_LENGTH}})(?:/([^/?#%]{1,${MAX_PARAM_LENGTH}}))?(?:[?#].*)?$`,
    's',
  );
  const piece = fc.constantFrom(
    '/',
    '?',
    '#',
    '%',
    '%41',
    'abc',
    'tracker-postback',
    'x'.repeat(250),
    '=',
    '&',
  );
  fc.assert(
    fc.property(
      fc.constantFrom('/api/postbacks/', '/api/postbacks', '/api/postback/', '/'),
      fc.array(piece, { maxLength: 8 }),
      (start, pieces) => {
        const url = start + pieces.join('');
        const match = rule.exec(url);
        const expected = match
          ? {
              token: match[1] as string,
              pathEvent:
                match[2] === undefined || match[2] === 'tracker-postback' ? null : match[2],
            }
          : null;
        assert.deepEqual(matchPostbackPath(url), expected, url);
      },
    ),
    { seed: 20_261_207, numRuns: 20_000 },
  );
});

test('every answer and every log row is the same with and without the direct path', async () => {
  const { direct, routed } = pair;
  const answers = await compareAnswers(pair, REQUESTS);
  for (const answer of answers) assert.ok(answer.status < 500, answer.body);

  const rows = async (twin: Twin) =>
    (await twin.t.store.listPostbackLogs(twin.workspaceId, { limit: 100 })).items;
  const [logA, logB] = [await rows(direct), await rows(routed)];
  assert.ok(logA.length >= 20, `${logA.length} log rows`);
  assert.deepEqual(logA, logB);
  assert.ok(logA.some((row) => row.ip === '203.0.113.7'));
});

test("the 200 answer's JSON is JSON.stringify's, whatever the strings hold", () => {
  const text = fc
    .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 24 })
    .map((codes) => String.fromCharCode(...codes));
  fc.assert(
    fc.property(
      fc.constantFrom('recorded', 'duplicate', 'unmatched') as fc.Arbitrary<
        'recorded' | 'duplicate' | 'unmatched'
      >,
      text,
      text,
      fc.option(text, { nil: undefined }),
      fc.option(text, { nil: undefined }),
      (status, event, clickid, conversionId, reason) => {
        const answer = { ok: true as const, status, event, clickid, conversionId, reason };
        assert.equal(postbackAnswerJson(answer), JSON.stringify(answer));
      },
    ),
    { seed: 20_261_207, numRuns: 5_000 },
  );
});

test('a network that hangs up before its answer still has its postback counted, and the server carries on', async () => {
  const path = `${base}/deposit?clickid=lead-b&amount=4.75&tid=gone-1`;
  await new Promise<void>((resolve, reject) => {
    const socket = connect(pair.direct.port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
  let row: { status: string; url: string } | undefined;
  for (let i = 0; i < 100 && row === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const logs = await pair.direct.t.store.listPostbackLogs(pair.direct.workspaceId, {
      limit: 100,
    });
    row = logs.items.find((item) => item.url === path);
  }
  assert.equal(row?.status, 'recorded');
  const again = await send(pair.direct.port, { path });
  assert.equal(again.status, 200);
  assert.match(again.body, /"status":"duplicate"/);
});
