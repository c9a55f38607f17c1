// Two servers on their own databases, one with the direct paths and one
// without, for the tests that compare their answers over real HTTP
// (direct-path.test.ts, direct-click.test.ts). A twin also records which of
// its requests reached a Fastify route handler, from Fastify's tracing channel.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request } from 'node:http';
import { after, before } from 'node:test';
import { type TestApp, testApp } from '../helpers.js';

export interface Twin {
  t: TestApp;
  port: number;
  workspaceId: string;
  /** Requests under the twin's prefix that reached a Fastify route handler. */
  routed: string[];
}

const HANDLER_START = 'tracing:fastify.request.handler:start';
const live = new Map<Twin, string>();
const onHandler = (message: unknown) => {
  const { request: req } = message as {
    request: { url: string; raw: { socket: { localPort?: number } } };
  };
  for (const [twin, prefix] of live) {
    if (req.raw.socket.localPort === twin.port && req.url.startsWith(prefix)) {
      twin.routed.push(req.url);
    }
  }
};

/**
 * A listening server with or without the direct paths, X-Forwarded-For
 * honoured (so client addresses are compared too), seeded by `seed`, which
 * returns the workspace it made.
 */
export async function twin(
  direct: boolean,
  prefix: string,
  seed: (t: TestApp) => Promise<string>,
): Promise<Twin> {
  const t = await testApp({ TRUST_PROXY: 'true' }, { directPaths: direct });
  const workspaceId = await seed(t);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  assert.ok(address && typeof address === 'object');
  const created: Twin = { t, port: address.port, workspaceId, routed: [] };
  if (live.size === 0) subscribe(HANDLER_START, onHandler);
  live.set(created, prefix);
  return created;
}

export async function closeTwin(twin: Twin): Promise<void> {
  live.delete(twin);
  if (live.size === 0) unsubscribe(HANDLER_START, onHandler);
  await twin.t.close();
}

export interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** An answer: status, headers but the date, body. */
export interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function send(port: number, sent: Sent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: sent.method ?? 'GET',
        path: sent.path,
        headers: { 'user-agent': 'parity-test', ...sent.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const { date: _date, ...headers } = res.headers;
          resolve({
            status: res.statusCode ?? 0,
            headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    if (sent.body !== undefined) req.write(sent.body);
    req.end();
  });
}

/** Who answers a request on the server with the direct paths. */
export type Who = 'direct' | 'route' | 'fastify';

/** A twin with the direct paths and one without, started before the file's tests and closed after. */
export function twinPair(
  prefix: string,
  seed: (t: TestApp) => Promise<string>,
): { direct: Twin; routed: Twin } {
  const pair = {} as { direct: Twin; routed: Twin };
  before(async () => {
    pair.direct = await twin(true, prefix, seed);
    pair.routed = await twin(false, prefix, seed);
  });
  after(async () => {
    await closeTwin(pair.direct);
    await closeTwin(pair.routed);
  });
  return pair;
}

/**
 * Sends each request to both twins in turn. The answers, after `normalise`
 * (per side), must be the same, and on the direct twin the request must be
 * answered by whom the list says. Returns the direct twin's answers.
 */
export async function compareAnswers(
  pair: { direct: Twin; routed: Twin },
  requests: Array<[Sent, Who]>,
  normalise: (got: Got, side: 'direct' | 'routed') => Got = (got) => got,
): Promise<Got[]> {
  const { direct, routed } = pair;
  const answers: Got[] = [];
  for (const [sent, who] of requests) {
    const before = direct.routed.length;
    const a = normalise(await send(direct.port, sent), 'direct');
    const b = normalise(await send(routed.port, sent), 'routed');
    const what = `${sent.method ?? 'GET'} ${sent.path.slice(0, 120)}`;
    if (process.env.SHOW) console.log(what, a.status, a.headers.location ?? a.body.slice(0, 200));
    assert.deepEqual(a, b, what);
    if (who !== 'fastify') {
      assert.equal(
        direct.routed.length === before,
        who === 'direct',
        `${what}: answered by ${who}`,
      );
    }
    answers.push(a);
  }
  // On the server without the direct paths, all but Fastify's own reached a route.
  assert.equal(routed.routed.length, requests.filter(([, who]) => who !== 'fastify').length);
  return answers;
}
