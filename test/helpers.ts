// Test harness: a real app on a real SQLite file in a temp directory, driven
// through app.inject(), with a clock the test can move.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type AppDeps, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import { openTestPostgres, postgresAvailable } from './pg.js';

export const PUBLIC_URL = 'http://track.test';

/** Which engine the HTTP tests run on: `TEST_ENGINE=postgres npm test` runs them on PostgreSQL. */
export const ENGINE = process.env.TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  clock: { now: number; advance(ms: number): void };
  /** Rows in a table, across every workspace. */
  countRows(table: string): Promise<number>;
  close(): Promise<void>;
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'clickback-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function testApp(
  env: Record<string, string> = {},
  options: Pick<AppDeps, 'directPaths' | 'requestTimeoutMs'> = {},
): Promise<TestApp> {
  const clock = {
    now: Date.parse('2026-11-20T12:00:00Z'),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  let store: Store;
  let countRows: (table: string) => Promise<number>;
  let dispose: () => Promise<void>;
  if (ENGINE === 'postgres') {
    if (!(await postgresAvailable()))
      throw new Error('TEST_ENGINE=postgres but PostgreSQL is unreachable');
    const pg = await openTestPostgres();
    store = pg.store;
    countRows = (table) => pg.store.countRows(table);
    dispose = () => pg.dispose();
  } else {
    const dir = tempDir();
    const sqlite = openSqliteStore({ path: `${dir.path}/test.db` });
    store = sqlite;
    countRows = async (table) => sqlite.countRows(table);
    dispose = async () => {
      await sqlite.close();
      dir.remove();
    };
  }
  const keyDir = tempDir();
  const config = loadConfig({
    PUBLIC_URL,
    DATABASE_URL: 'sqlite:unused',
    DATA_DIR: keyDir.path,
    ...env,
  });
  const app = await buildApp({ config, store, now: () => clock.now, ...options });
  await app.ready();
  return {
    app,
    store,
    clock,
    countRows,
    async close() {
      await app.close();
      await dispose();
      keyDir.remove();
    },
  };
}

let emails = 0;

/** Signs up a fresh workspace; returns its Bearer header and ids. */
export async function signup(app: FastifyInstance, name = 'Team') {
  const email = `user${++emails}-${Date.now()}@example.com`;
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { email, password: 'correct horse battery', workspaceName: name },
  });
  if (res.statusCode !== 201) throw new Error(`signup failed: ${res.body}`);
  const body = res.json() as { token: string; workspace: { id: string } };
  return {
    email,
    token: body.token,
    workspaceId: body.workspace.id,
    auth: { authorization: `Bearer ${body.token}` },
  };
}

type Auth = { authorization: string };

export async function api<T = Record<string, unknown>>(
  app: FastifyInstance,
  auth: Auth,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  payload?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await app.inject({
    method,
    url,
    headers: auth,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  return { status: res.statusCode, body: (res.body ? res.json() : null) as T };
}

/** A campaign, a shared postback of `network`, and one lead that clicked. */
export async function funnel(
  app: FastifyInstance,
  auth: Auth,
  network = '1win',
  extra: Record<string, unknown> = {},
) {
  const campaign = await api<{ id: string; slug: string }>(app, auth, 'POST', '/api/v1/campaigns', {
    name: 'FB RU',
    destinationUrl: 'https://t.me/my_bot?start={{tracker.clickid}}',
  });
  const postback = await api<{ id: string; token: string; links: Record<string, string> }>(
    app,
    auth,
    'POST',
    '/api/v1/postbacks',
    { name: network, network, ...extra },
  );
  const click = await app.inject({
    method: 'GET',
    url: `/c/${campaign.body.slug}?fbclid=fb1&utm_campaign=test`,
  });
  const clickid = new URL(click.headers.location as string).searchParams.get('start') as string;
  return { campaign: campaign.body, postback: postback.body, clickid };
}

/** Fires a postback link as a network would: GET with the macros replaced. */
export async function fire(
  app: FastifyInstance,
  link: string,
  values: Record<string, string> = {},
) {
  let url = link.startsWith(PUBLIC_URL) ? link.slice(PUBLIC_URL.length) : link;
  for (const [macro, value] of Object.entries(values))
    url = url.replaceAll(macro, encodeURIComponent(value));
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** A workspace with one custom postback configuration, for tests that write log rows. */
export async function workspaceWithPostback(store: Store, name: string) {
  const account = await store.createAccount({
    email: `${name}@example.com`,
    passwordHash: 'x',
    workspaceName: name,
    at: 0,
  });
  if (account === 'email_taken') throw new Error(`${name}: email taken`);
  const postback = await store.createPostback(
    account.workspace.id,
    {
      name,
      network: 'custom',
      campaignId: null,
      clickidParam: 'clickid',
      currency: 'USD',
      macros: {},
      enabled: true,
    },
    `${name}token0000000000`,
    0,
  );
  return { workspaceId: account.workspace.id, postback };
}
