// The direct click path (src/routes/clicks/direct-click.ts) answers what the
// Fastify route answers. As for postbacks (direct-path.test.ts): two servers
// on their own databases with the same campaigns, one with the direct paths
// and one without, take the same requests over HTTP in the same order. Each
// click gets a fresh random clickid, so clickids are compared by position:
// the n-th clickid one server hands out stands for the n-th of the other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_SLUG } from '../../src/routes/clicks/click.js';
import { matchClickPath } from '../../src/routes/clicks/direct-click.js';
import { type TestApp, workspaceWithPostback } from '../helpers.js';
import { compareAnswers, type Got, type Sent, type Twin, twinPair, type Who } from './twins.js';

const CAMPAIGNS = [
  [
    'redirect',
    'https://t.me/my_bot?start={{tracker.clickid}}&u={{tracker.utm}}&x={{tracker.nope}}',
  ],
  ['nodest00', ''],
  ['unicode0', 'https://t.me/бот?start={{tracker.clickid}}'],
] as const;

/** The same campaigns, with the same slugs, in both twins. */
async function seed(t: TestApp): Promise<string> {
  const { workspaceId } = await workspaceWithPostback(t.store, 'clicktwin');
  for (const [slug, destinationUrl] of CAMPAIGNS) {
    await t.store.createCampaign(
      workspaceId,
      { name: slug, description: '', buyer: '', destinationUrl },
      () => slug,
      0,
    );
  }
  return workspaceId;
}

const REQUESTS: Array<[Sent, Who]> = [
  [{ path: '/c/redirect?fbclid=abc&utm=spring' }, 'direct'],
  [{ path: '/c/redirect?utm=a&utm=b&empty=&=novalue&flag' }, 'direct'],
  [{ path: '/c/redirect?utm=%E2%9C%93+x&q=a%2Bb&bad=%E0%A4%A' }, 'direct'],
  [{ path: '/c/redirect' }, 'direct'],
  [{ path: '/c/redirect?' }, 'direct'],
  [{ path: '/c/redirect#frag?utm=1' }, 'direct'],
  [{ path: '/c/redirect?utm=1#frag' }, 'direct'],
  [
    { path: `/c/redirect?${Array.from({ length: 60 }, (_, i) => `p${i}=${i}`).join('&')}` },
    'direct',
  ],
  [{ path: `/c/redirect?long=${'v'.repeat(1500)}&${'k'.repeat(70)}=1` }, 'direct'],
  [
    {
      path: '/c/redirect?utm=xff',
      headers: { 'x-forwarded-for': '198.51.100.4', referer: 'https://facebook.com/' },
    },
    'direct',
  ],
  [{ path: '/c/nodest00?utm=json' }, 'direct'],
  [{ path: '/c/unicode0?utm=u' }, 'direct'],
  [{ path: '/c/nosuch00?utm=1' }, 'direct'],
  [{ path: '/c/%72edirect?utm=encoded' }, 'route'],
  [{ path: '/c/redirect/extra' }, 'fastify'],
  [{ path: '/c/' }, 'fastify'],
  [{ path: `/c/${'s'.repeat(MAX_SLUG + 1)}` }, 'fastify'],
  [{ method: 'HEAD', path: '/c/redirect?utm=head' }, 'route'],
  [{ method: 'POST', path: '/c/redirect?utm=post' }, 'fastify'],
  [
    {
      path: '/c/redirect?utm=body',
      headers: { 'content-type': 'text/plain', 'content-length': '3' },
      body: 'x=1',
    },
    'route',
  ],
];

/** The answer with each clickid replaced by its place among the clickids this server handed out. */
function normalise(got: Got, seen: string[]): Got {
  const place = (id: string) => {
    if (!seen.includes(id)) seen.push(id);
    return `<clickid ${seen.indexOf(id)}>`;
  };
  const headers = { ...got.headers };
  if (typeof headers.location === 'string') {
    headers.location = headers.location.replace(/start=([^&]+)/, (_, id) => `start=${place(id)}`);
  }
  const body = got.body.replace(/"clickid":"([^"]+)"/, (_, id) => `"clickid":"${place(id)}"`);
  return { ...got, headers, body };
}

const pair = twinPair('/c/', seed);

test('the direct click path takes /c/<slug> with a plain path, and nothing else', () => {
  assert.deepEqual(matchClickPath('/c/abc?x=1'), { slug: 'abc', query: 'x=1' });
  assert.deepEqual(matchClickPath('/c/abc'), { slug: 'abc', query: '' });
  assert.deepEqual(matchClickPath('/c/abc#f?x=1'), { slug: 'abc', query: 'f?x=1' });
  assert.deepEqual(matchClickPath('/c/abc?x=1#f'), { slug: 'abc', query: 'x=1#f' });
  assert.deepEqual(matchClickPath('/c/abc?x=%2F/y'), { slug: 'abc', query: 'x=%2F/y' });
  for (const url of [
    '/c/',
    '/c/?x',
    '/c/abc/',
    '/c/abc/def',
    '/c/a%62c',
    '/C/abc',
    '/c',
    'http://host/c/abc',
    `/c/${'s'.repeat(MAX_SLUG + 1)}`,
  ]) {
    assert.equal(matchClickPath(url), null, url);
  }
});

test('the direct click path reads a path as a regular expression of its rule does', () => {
  const rule = new RegExp(`^/c/([^/?#%]{1,${MAX_SLUG}})(?:[?#](.*))?$`, 's');
  const piece = fc.constantFrom('/', '?', '#', '%', '%41', 'abc', 's'.repeat(60), '=', '&');
  fc.assert(
    fc.property(
      fc.constantFrom('/c/', '/c', '/C/', '/'),
      fc.array(piece, { maxLength: 6 }),
      (start, pieces) => {
        const url = start + pieces.join('');
        const match = rule.exec(url);
        const expected = match ? { slug: match[1] as string, query: match[2] ?? '' } : null;
        assert.deepEqual(matchClickPath(url), expected, url);
      },
    ),
    { seed: 20_261_207, numRuns: 20_000 },
  );
});

test('every answer and every recorded click is the same with and without the direct path', async () => {
  const { direct, routed } = pair;
  const seen = { direct: [] as string[], routed: [] as string[] };
  await compareAnswers(pair, REQUESTS, (got, side) => normalise(got, seen[side]));
  assert.ok(seen.direct.length >= 10, `${seen.direct.length} clickids handed out`);

  const leads = async (twin: Twin) =>
    (await twin.t.store.listLeads(twin.workspaceId, { limit: 100 })).items.map(
      ({ id: _id, clickid: _clickid, ...lead }) => lead,
    );
  assert.deepEqual(await leads(direct), await leads(routed));
});
