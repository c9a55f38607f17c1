// Test harness: a real app on a real SQLite file in a temp directory, driven
// through app.inject(), with a clock the test can move.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/sqlite-store.js';

export const PUBLIC_URL = 'http://track.test';

export interface TestApp {
  app: FastifyInstance;
  store: SqliteStore;
  clock: { now: number; advance(ms: number): void };
  close(): Promise<void>;
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'clickback-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function testApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dir = tempDir();
  const config = loadConfig({ PUBLIC_URL, DATABASE_URL: `sqlite:${dir.path}/test.db`, ...env });
  const store = openSqliteStore({ path: `${dir.path}/test.db` });
  const clock = {
    now: Date.parse('2026-11-20T12:00:00Z'),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  const app = await buildApp({ config, store, now: () => clock.now });
  await app.ready();
  return {
    app,
    store,
    clock,
    async close() {
      await app.close();
      await store.close();
      dir.remove();
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
