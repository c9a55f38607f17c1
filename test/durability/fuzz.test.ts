// Property-based abuse of the inbound receiver (fast-check, fixed seed): random
// query strings, paths, bodies, content types and sizes. Never a 5xx; every
// request to a known token leaves exactly one row in the postback log, unless
// its path is no inbound route at all (a plain 404); the app still answers after.
// Reproduce a failure with the seed fast-check prints: FUZZ_SEED=<seed>.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { api, funnel, signup, type TestApp, testApp } from '../helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_120);
/** FUZZ_RUNS=10 runs ten times as many cases. */
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

let t: TestApp;
/** Tokens whose requests must be logged: active, disabled, deleted. */
let known: { active: string; disabled: string; deleted: string };
let clickid: string;
let auth: { authorization: string };

before(async () => {
  t = await testApp();
  ({ auth } = await signup(t.app));
  const f = await funnel(t.app, auth, '1win');
  clickid = f.clickid;
  const more = async (patch: 'disable' | 'delete') => {
    const p = await api<{ id: string; token: string }>(t.app, auth, 'POST', '/api/v1/postbacks', {
      name: patch,
      network: 'custom',
    });
    assert.equal(p.status, 201);
    const res =
      patch === 'disable'
        ? await api(t.app, auth, 'PATCH', `/api/v1/postbacks/${p.body.id}`, { enabled: false })
        : await api(t.app, auth, 'DELETE', `/api/v1/postbacks/${p.body.id}`);
    assert.ok(res.status < 300, `${patch}: ${res.status}`);
    return p.body.token;
  };
  known = {
    active: f.postback.token,
    disabled: await more('disable'),
    deleted: await more('delete'),
  };
});
after(() => t.close());

// --- generators -----------------------------------------------------------

/** Any code points, lone surrogates included. */
const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength,
  });
/** Percent-encoded random bytes: mostly invalid UTF-8. */
const encodedBytes = fc
  .uint8Array({ minLength: 1, maxLength: 8 })
  .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
const brokenPercent = fc.constantFrom(
  '%',
  '%%',
  '%G1',
  '%2',
  'a%',
  '%E2%82',
  '%C0%AF',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%FF',
  '%00',
  '%sub1%',
  '%25',
  '+',
  '%2B',
);
const junk = fc.oneof(text(24), encodedBytes, brokenPercent, printable(24));
/** A value as a network might send it: raw, encoded, or broken. */
const encoded = (value: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 4, arbitrary: value },
    { weight: 3, arbitrary: value.map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.tuple(value, junk).map(([a, b]) => a + b) },
  );

const NAMES = [
  'clickid',
  'sub1',
  'click_id',
  'subid',
  'tracker.clickid',
  'amount',
  'sum',
  'payout',
  'tracker.cost',
  'tid',
  'transaction_id',
  'event_id',
  'currency',
  'tracker.currency',
  'tracker.event',
  'event',
  'status',
  'reg',
  'dep',
  'ftd',
  'fields.x',
  'fields.trader_id',
  'trader_id',
];
const name = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: text(70).map((s) => `fields.${s}`) },
  { weight: 1, arbitrary: junk },
);
const value = fc.oneof(
  { weight: 4, arbitrary: fc.constant('CLICKID') }, // the real clickid, so some are recorded
  { weight: 1, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('deposit', 'first_deposit', 'registration', 'withdrawal'),
  },
  { weight: 2, arbitrary: fc.double().map(String) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '1,5',
      '-5',
      '1e3',
      '0x10',
      '١٢٣',
      '100.1234567',
      '9999999999999',
      'usd',
      'XXX',
      'USDT',
      '{sub1}',
      '{{clickid}}',
      'true',
      '1',
    ),
  },
  { weight: 2, arbitrary: text(40) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 1_100 }).map((n) => 'v'.repeat(n)) },
);
/** `name=value`, a bare name, or junk. */
const pair = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(encoded(name), encoded(value)).map(([n, v]) => `${n}=${v}`) },
  { weight: 1, arbitrary: encoded(name) },
  { weight: 1, arbitrary: junk },
);
const amount = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }).map(String),
  fc
    .tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 999_999 }))
    .map(([a, b]) => `${a}.${b}`),
  value,
);
/** A postback that could be counted, with a few random pairs mixed in. */
const plausible = fc
  .tuple(
    fc.constantFrom('clickid', 'sub1', 'click_id', 'subid'),
    amount,
    fc.oneof(fc.uuid(), text(20), fc.constant('')),
    fc.option(fc.constantFrom('deposit', 'first_deposit', 'registration', 'withdrawal')),
    fc.array(pair, { maxLength: 3 }),
    fc.boolean(),
  )
  .map(([clickidName, a, tid, event, extra, shuffle]) => {
    const list = [
      `${clickidName}=CLICKID`,
      `amount=${encodeURIComponent(a)}`,
      `tid=${encodeURIComponent(tid)}`,
      ...(event === null ? [] : [`tracker.event=${event}`]),
      ...extra,
    ];
    return (shuffle ? list.reverse() : list).join('&');
  });
const pairs = fc.oneof(
  { weight: 2, arbitrary: plausible },
  {
    weight: 3,
    arbitrary: fc
      .array(pair, { maxLength: 10 })
      .chain((list) => fc.constantFrom('&', '&', '&', '&&', ';').map((sep) => list.join(sep))),
  },
);

const EVENTS = ['deposit', 'first_deposit', 'registration', 'tracker-postback', 'withdrawal'];
const segment = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...EVENTS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('DEPOSIT', 'Deposit%20', 'dep%C3%B3sit', 'x.y', 'a-b_c'),
  },
  { weight: 2, arbitrary: text(30) },
  { weight: 2, arbitrary: text(30).map(encodeURIComponent) },
  { weight: 1, arbitrary: encodedBytes },
  { weight: 1, arbitrary: brokenPercent },
  { weight: 1, arbitrary: fc.constantFrom('', '.', '..', '%2e%2e', '%2F', 'a%2Fb', '%3F', '%23') },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 400 }).map((n) => 'e'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 70, max: 140 }).map((n) => '%C3%A9'.repeat(n)) },
);
/** The route part after `/api/postbacks/<token>`. */
const tail = fc.oneof(
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 10, arbitrary: segment.map((s) => `/${s}`) },
  { weight: 1, arbitrary: fc.tuple(segment, segment).map(([a, b]) => `/${a}/${b}`) },
  { weight: 1, arbitrary: fc.constant('/') },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'text/plain',
  'text/plain; charset=utf-16le',
  'multipart/form-data; boundary=----x',
  'application/xml',
  'application/vnd.api+json',
  'application/octet-stream',
  '*/*',
  'json',
  '',
  ';',
  'application/json;;;',
];
const contentType = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: printable(40) },
  ),
  { nil: undefined },
);

const jsonWithOurNames = fc
  .dictionary(
    fc.oneof(fc.constantFrom(...NAMES), text(10)),
    fc.oneof(
      fc.constant('CLICKID'),
      fc.jsonValue({ maxDepth: 3 }),
      fc.double(),
      fc.constantFrom('100', '1,5', 'deposit', 'tx-1'),
    ),
    { maxKeys: 8 },
  )
  .map((o) => JSON.stringify(o));
/** Bodies around the 64 KiB limit: some under, some over. */
const big = fc
  .tuple(fc.integer({ min: 60_000, max: 80_000 }), fc.constantFrom('form', 'json', 'junk'))
  .map(([n, kind]) =>
    kind === 'form'
      ? `clickid=CLICKID&event=registration&fields.x=${'x'.repeat(n)}`
      : kind === 'json'
        ? JSON.stringify({ clickid: 'CLICKID', event: 'registration', pad: 'é'.repeat(n / 2) })
        : '\u{1F600}'.repeat(n / 4),
  );
const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: pairs },
  { weight: 2, arbitrary: text(200) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 7 }).map((v) => JSON.stringify(v)) },
  { weight: 3, arbitrary: jsonWithOurNames },
  { weight: 1, arbitrary: big },
);

// --- the property -------------------------------------------------------------

interface Case {
  token: 'active' | 'disabled' | 'deleted';
  tail: string;
  query: string | null;
  method: 'GET' | 'POST';
  contentType: string | undefined;
  body: string | Buffer | undefined;
}

const withClickid = <T extends string | Buffer | undefined>(s: T): T =>
  (typeof s === 'string' ? s.replaceAll('CLICKID', clickid) : s) as T;

/** The path the server sees, normalised the way a client's URL parser does. */
function pathname(url: string): string {
  return new URL(url, 'http://localhost').pathname;
}

/** What the answers were, for the test's diagnostics. */
const tally = new Map<string, number>();

async function check(c: Case) {
  const token = known[c.token];
  const url = withClickid(
    `/api/postbacks/${token}${c.tail}${c.query === null ? '' : `?${c.query}`}`,
  );
  const before = await t.countRows('postback_logs');
  const res = await t.app.inject({
    method: c.method,
    url,
    headers: c.contentType === undefined ? {} : { 'content-type': c.contentType },
    ...(c.body === undefined ? {} : { payload: withClickid(c.body) }),
  });
  const added = (await t.countRows('postback_logs')) - before;
  const where = `${c.method} ${url.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  assert.ok(res.statusCode < 500, `no 5xx: ${where}`);
  let code: string | undefined;
  try {
    code = (res.json() as { error?: { code?: string } }).error?.code;
  } catch {
    assert.fail(`the answer is JSON: ${where}`);
  }
  const outcome = `${res.statusCode} ${code ?? (res.json() as { status?: string }).status}`;
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
  if (added === 1) return;
  assert.equal(added, 0, `at most one log row per request: ${where}`);
  // No log row: only for a path that is no inbound route, answered as such.
  const path = pathname(url);
  const inboundShape = new RegExp(`^/api/postbacks/${token}(/[^/]+)?$`).test(path);
  assert.ok(!inboundShape, `a request to a known token left no log row: ${where}`);
  // Outside the inbound routes the app's own rules apply: a 404, or a 415 for
  // a POST body that is not JSON (`/api/postbacks/` after a `..` is the token
  // route with an empty token: unknown_postback).
  assert.ok(
    (res.statusCode === 404 && (code === 'not_found' || code === 'unknown_postback')) ||
      (res.statusCode === 415 && code === 'unsupported_media_type') ||
      (res.statusCode === 413 && code === 'body_too_large') ||
      (res.statusCode === 400 && code === 'invalid_json'),
    `unlogged answers are the app's 4xx: ${where}`,
  );
}

const tokens = fc.oneof(
  { weight: 8, arbitrary: fc.constant('active' as const) },
  { weight: 1, arbitrary: fc.constantFrom('disabled' as const, 'deleted' as const) },
);

function report(ctx: { diagnostic(message: string): void }) {
  const sorted = [...tally].sort((a, b) => b[1] - a[1]);
  ctx.diagnostic(sorted.map(([k, n]) => `${k}: ${n}`).join(', '));
  tally.clear();
}

test('fuzz: random query strings and paths to a known token', async (ctx) => {
  const recordedBefore = await t.countRows('conversions');
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        token: tokens,
        tail,
        query: fc.option(pairs, { nil: null }),
        method: fc.constantFrom('GET' as const, 'POST' as const),
        contentType: fc.constant(undefined),
        body: fc.constant(undefined),
      }),
      check,
    ),
    { seed: SEED, numRuns: runs(4_000), includeErrorInReport: true },
  );
  report(ctx);
  // The generators do reach the counting path, not only the refusals.
  assert.ok((await t.countRows('conversions')) > recordedBefore, 'some postbacks were recorded');
});

test('fuzz: random bodies, content types and sizes', async (ctx) => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        token: tokens,
        tail: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...EVENTS.map((e) => `/${e}`)) },
          { weight: 1, arbitrary: tail },
        ),
        query: fc.option(pairs, { nil: null }),
        method: fc.constantFrom('GET' as const, 'POST' as const, 'POST' as const),
        contentType,
        body,
      }),
      check,
    ),
    { seed: SEED + 1, numRuns: runs(3_000), includeErrorInReport: true },
  );
  report(ctx);
});

test('after the fuzz the app answers normally: /healthz, and a clean postback is recorded', async () => {
  const health = await t.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
  const res = await t.app.inject({
    method: 'GET',
    url: `/api/postbacks/${known.active}/deposit?clickid=${clickid}&amount=12.5&tid=after-fuzz`,
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().status, 'recorded');
});

test('a malformed Content-Type on a POST with an empty body does not refuse a postback carried in the query', {}, async () => {
  let n = 0;
  for (const contentType of ['', 'json', ';']) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/postbacks/${known.active}/deposit?clickid=${clickid}&amount=5&tid=ct-${++n}`,
      headers: { 'content-type': contentType },
      payload: '',
    });
    assert.equal(res.statusCode, 200, `Content-Type "${contentType}": ${res.body}`);
    assert.equal(res.json().status, 'recorded');
  }
});
