// migrate-data: a realistic single-machine install, built through the Store
// API on SQLite, carried into PostgreSQL and read back through the same API.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { countingPlan, signedAmount } from '../../src/domain/events.js';
import { formatMicros, parseAmount } from '../../src/domain/money.js';
import type { Network } from '../../src/domain/presets.js';
import { newClickid, randomAlphanumeric } from '../../src/domain/random-id.js';
import { dayBuckets } from '../../src/domain/time-range.js';
import { MigrateDataError, migrateData, TABLES } from '../../src/store/migrate-data.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type {
  Campaign,
  LogRequest,
  PostbackConfig,
  RecordEvent,
  StatsGroup,
  Store,
} from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { freshSchema, postgresAvailable, TEST_DATABASE_URL } from '../pg.js';

const available = await postgresAvailable();
const skip = available ? false : `PostgreSQL unreachable at ${TEST_DATABASE_URL} (CI would fail)`;

const T0 = Date.parse('2026-11-20T10:00:00Z');
const WINDOW = 60_000;
const CLICKS = 1_500;

const dir = tempDir();
const dbPath = `${dir.path}/clickback.db`;
const schemas: string[] = [];
let sqlite: SqliteStore;
let postgres: PostgresStore | undefined;
let report: Awaited<ReturnType<typeof migrateData>>;
let schema: string;

/** What the test recorded, to look up and to check the sums independently. */
const data = {
  workspaces: [] as string[],
  clickids: [] as { ws: string; clickid: string }[],
  tokens: [] as string[],
  sessionToken: 'session-hash-1',
  emails: ['owner@example.com', 'second@example.com'],
  sums: new Map<string, bigint>(),
};

function micros(text: string): bigint {
  const parsed = parseAmount(text);
  assert.ok(parsed.ok);
  return parsed.micros;
}

function schemaFor(): string {
  const name = freshSchema();
  schemas.push(name);
  return name;
}

async function buildInstall(s: Store): Promise<void> {
  const accounts = [];
  for (const [i, email] of data.emails.entries()) {
    const acc = await s.createAccount({
      email,
      passwordHash: `scrypt$hash${i}`,
      workspaceName: `Team ${i}`,
      at: T0,
    });
    assert.notEqual(acc, 'email_taken');
    if (acc === 'email_taken') return;
    accounts.push(acc);
    data.workspaces.push(acc.workspace.id);
  }
  const [a1, a2] = accounts;
  assert.ok(a1 && a2);
  const ws1 = a1.workspace.id;
  const ws2 = a2.workspace.id;
  await s.createSession({
    tokenHash: data.sessionToken,
    userId: a1.user.id,
    workspaceId: ws1,
    at: T0,
    expiresAt: T0 + 86_400_000,
  });
  await s.createApiKey({
    workspaceId: ws1,
    userId: a1.user.id,
    name: 'bot',
    keyHash: 'kh-live',
    prefix: 'cbk_live',
    at: T0,
  });
  const revoked = await s.createApiKey({
    workspaceId: ws1,
    userId: a1.user.id,
    name: 'old',
    keyHash: 'kh-old',
    prefix: 'cbk_old',
    at: T0,
  });
  await s.revokeApiKey(ws1, revoked.id, T0 + 1);

  const campaign = (ws: string, name: string, buyer: string) =>
    s.createCampaign(
      ws,
      { name, description: `${name} traffic`, buyer, destinationUrl: 'https://t.me/bot' },
      () => randomAlphanumeric(8),
      T0,
    );
  const c1 = await campaign(ws1, 'Telegram FB', 'ann');
  const c2 = await campaign(ws1, 'Search', 'bob');
  const gone = await campaign(ws1, 'Old', 'ann');
  await s.deleteCampaign(ws1, gone.id, T0 + 5);
  const c4 = await campaign(ws2, 'Other team', 'cy');

  const postback = async (
    ws: string,
    network: Network,
    currency: string,
    campaignId: string | null,
    macros: PostbackConfig['macros'],
  ) => {
    const p = await s.createPostback(
      ws,
      {
        name: `${network} ${currency}`,
        network,
        campaignId,
        clickidParam: 'sub1',
        currency,
        macros,
        enabled: true,
      },
      randomAlphanumeric(24),
      T0,
    );
    data.tokens.push(p.token);
    return p;
  };
  const p1 = await postback(ws1, '1win', 'USD', null, { amount: '{amount}', tid: '{event_id}' });
  const p2 = await postback(ws1, 'pocket_option', 'EUR', c2.id, { clickid: '{click_id}' });
  await s.updatePostback(ws1, p2.id, { enabled: false });
  const p3 = await postback(ws1, 'custom', 'USD', null, {});
  await s.deletePostback(ws1, p3.id, T0 + 9);
  const p4 = await postback(ws2, 'binomo', 'USD', null, {});

  const campaigns: Campaign[] = [c1, c2, c4];
  for (let i = 0; i < CLICKS; i++) {
    const c = campaigns[i % 3] as Campaign;
    const lead = await s.recordClick({
      campaign: c,
      params:
        i === 7
          ? { utm_source: 'fb', sub: 'nul\u0000inside' }
          : { utm_source: ['fb', 'tg', 'ads'][i % 3] as string, sub: `s${i}` },
      ip: `10.0.${i % 250}.${i % 7}`,
      userAgent: i === 7 ? 'Mozilla\u0000Bot' : 'Mozilla/5.0',
      referrer: i % 4 === 0 ? 'https://facebook.com/' : null,
      at: T0 + i * 60_000,
      newClickid,
    });
    data.clickids.push({ ws: c.workspaceId, clickid: lead.clickid });
  }
  for (let i = 0; i < 20; i++) {
    const lead = await s.createLead(ws1, {
      campaignId: null,
      externalId: `tg${i}`,
      username: `user${i}`,
      params: { source: 'bot' },
      at: T0 + i,
      newClickid,
    });
    data.clickids.push({ ws: ws1, clickid: lead.clickid });
  }
  for (let i = 0; i < 30; i += 3) {
    const c = data.clickids[i];
    assert.ok(c);
    await s.bindLead(c.ws, c.clickid, { externalId: `ext${i}`, username: `u${i}` });
  }

  let n = 0;
  const send = async (
    ws: string,
    clickid: string,
    e: { event: string; amount?: string; currency?: string; tid?: string },
    extra: Partial<RecordEvent> = {},
  ) => {
    const raw = e.amount === undefined ? null : micros(e.amount);
    const amount = raw === null ? null : signedAmount(e.event, raw);
    const currency = e.currency ?? 'USD';
    const tid = e.tid ?? null;
    const postbackId = ws === ws1 ? (currency === 'EUR' ? p2.id : p1.id) : p4.id;
    const at = T0 + 3_600_000 + n++ * 30_000;
    const log: LogRequest = {
      postbackId,
      workspaceId: ws,
      at,
      method: 'GET',
      url: `/api/postbacks/token/${e.event}?sub1=${clickid}&amount=${e.amount ?? ''}`,
      ip: '5.6.7.8',
      userAgent: 'network',
      body: null,
    };
    const outcome = await s.recordEvent({
      workspaceId: ws,
      scopeCampaignId: null,
      clickid,
      postbackId,
      plan: countingPlan({ event: e.event, micros: amount, currency, tid }),
      micros: amount,
      currency,
      tid,
      fields: {},
      at,
      windowMs: WINDOW,
      log,
      note: null,
      ...extra,
    });
    if (outcome.status === 'recorded' && amount !== null) {
      data.sums.set(currency, (data.sums.get(currency) ?? 0n) + amount);
    }
    return outcome;
  };

  for (const [i, { ws, clickid }] of data.clickids.entries()) {
    if (i % 2 === 0) await send(ws, clickid, { event: 'registration' });
    if (i % 10 === 0) await send(ws, clickid, { event: 'registration' }); // a duplicate
    if (i % 5 === 0)
      await send(ws, clickid, { event: 'first_deposit', amount: '0.1', tid: `f${i}` });
    if (i % 7 === 0) {
      await send(
        ws,
        clickid,
        { event: 'deposit', amount: '0.2', tid: `d${i}` },
        { fields: { phone: `+4917${i}`, country: 'de' } },
      );
    }
    if (i % 11 === 0)
      await send(ws, clickid, { event: 'deposit', amount: '12.34', currency: 'EUR', tid: `e${i}` });
    if (i % 13 === 0) await send(ws, clickid, { event: 'withdrawal', amount: '5.5', tid: `w${i}` });
    if (i % 9 === 0) await send(ws, clickid, { event: 'email_confirmation' });
  }
  // Far above 2^53 micro-units, twice: sums stay exact only as integers.
  const whale = data.clickids[3];
  assert.ok(whale);
  for (const tid of ['big1', 'big2']) {
    await send(whale.ws, whale.clickid, { event: 'deposit', amount: '999999999999.999999', tid });
  }
  await send(whale.ws, whale.clickid, {
    event: 'deposit',
    amount: '0.1',
    currency: 'EUR',
    tid: 'eur-small',
  });
  await s.appendPostbackLog(
    {
      postbackId: p1.id,
      workspaceId: ws1,
      at: T0 + 99,
      method: 'POST',
      url: `/api/postbacks/${p1.token}/deposit`,
      ip: '5.6.7.8',
      userAgent: 'network',
      body: 'amount=abc',
    },
    {
      httpStatus: 400,
      status: 'rejected',
      error: 'invalid_amount: amount "abc" is not a decimal number',
      event: 'deposit',
      clickid: null,
      conversionId: null,
    },
  );
}

/** The highest id of every table that has one, read straight from the file. */
function maxIds(): Record<string, bigint> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const out: Record<string, bigint> = {};
    for (const t of [
      'workspaces',
      'api_keys',
      'campaigns',
      'leads',
      'postbacks',
      'conversions',
      'postback_logs',
    ]) {
      const stmt = db.prepare(`SELECT max(id) FROM ${t}`).pluck();
      stmt.safeIntegers(true);
      out[t] = stmt.get() as bigint;
    }
    return out;
  } finally {
    db.close();
  }
}

/** PostgreSQL cannot store NUL: its store, and so the copy, write U+FFFD instead. */
function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)])) as T;
  }
  return value;
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/migrate-data.ts', ...args],
      { cwd: new URL('../..', import.meta.url).pathname, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

before(async () => {
  if (!available) return;
  sqlite = openSqliteStore({ path: dbPath });
  await buildInstall(sqlite);
  schema = schemaFor();
  report = await migrateData({ fromPath: dbPath, toUrl: TEST_DATABASE_URL, toSchema: schema });
  postgres = await openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 4, schema });
});

after(async () => {
  await postgres?.close();
  await sqlite?.close();
  if (schemas.length > 0) {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    for (const name of schemas) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await client.end();
  }
  dir.remove();
});

test('migrate-data: the report counts every row and sums money exactly', { skip }, (t) => {
  const rows = Object.values(report.tables).reduce((sum, n) => sum + n, 0);
  t.diagnostic(`${rows} rows (${report.tables.conversions} conversions) copied in ${report.ms} ms`);
  for (const table of TABLES) assert.equal(report.tables[table], sqlite.countRows(table), table);
  assert.equal(report.tables.clicks, CLICKS);
  assert.ok(
    (report.tables.postback_logs ?? 0) > (report.tables.conversions ?? 0),
    'duplicates are logged',
  );
  const expected = Object.fromEntries([...data.sums].map(([c, v]) => [c, String(v)]));
  assert.deepEqual(report.sums, expected);
  assert.ok(BigInt(report.sums.USD ?? 0) > 2n ** 53n);
  assert.equal(report.events.withdrawal, Math.ceil(data.clickids.length / 13));
  assert.equal(report.nulReplaced, 3, "click 7's user agent and params, and its lead's params");
});

test('migrate-data: PostgreSQL answers every read exactly as SQLite did', { skip }, async () => {
  const pgStore = postgres as PostgresStore;
  for (const { ws, clickid } of data.clickids) {
    const [a, b] = await Promise.all([sqlite.getLead(ws, clickid), pgStore.getLead(ws, clickid)]);
    assert.ok(a && b);
    assert.deepEqual(b, withoutNul(a), clickid);
  }
  for (const ws of data.workspaces) {
    for (let cursor: string | undefined, page = 0; page === 0 || cursor; page++) {
      const filter = { limit: 100, ...(cursor ? { cursor } : {}) };
      const [a, b] = await Promise.all([
        sqlite.listPostbackLogs(ws, filter),
        pgStore.listPostbackLogs(ws, filter),
      ]);
      assert.deepEqual(b, a);
      cursor = a.nextCursor ?? undefined;
    }
    const sorted = <T extends { key: string }>(rows: T[]) =>
      [...rows].sort((x, y) => x.key.localeCompare(y.key));
    for (const groupBy of [
      'campaign',
      'postback',
      'network',
      'buyer',
      'param.utm_source',
      'day',
    ] as StatsGroup[]) {
      for (const currency of ['USD', 'EUR']) {
        const query = {
          groupBy,
          currency,
          fromMs: Date.parse('2026-11-20T00:00:00Z'),
          toMs: Date.parse('2026-11-23T00:00:00Z'),
          buckets: groupBy === 'day' ? dayBuckets('2026-11-20', '2026-11-22', 'UTC') : [],
        };
        const [a, b] = await Promise.all([sqlite.stats(ws, query), pgStore.stats(ws, query)]);
        assert.deepEqual(sorted(b.rows), sorted(a.rows), `${groupBy} ${currency}`);
        assert.deepEqual([...b.currencies].sort(), [...a.currencies].sort());
      }
    }
    assert.deepEqual(await pgStore.listCampaigns(ws), await sqlite.listCampaigns(ws));
    assert.deepEqual(await pgStore.listPostbacks(ws), await sqlite.listPostbacks(ws));
    assert.deepEqual(await pgStore.listApiKeys(ws), await sqlite.listApiKeys(ws));
    assert.deepEqual(
      await pgStore.listLeads(ws, { limit: 50 }),
      await sqlite.listLeads(ws, { limit: 50 }),
    );
  }
  for (const token of data.tokens) {
    assert.deepEqual(
      await pgStore.findPostbackByToken(token),
      await sqlite.findPostbackByToken(token),
    );
  }
  const disabled = await pgStore.findPostbackByToken(data.tokens[1] as string);
  assert.equal(disabled?.enabled, false);
  assert.deepEqual(disabled?.macros, { clickid: '{click_id}' });
  assert.equal((await pgStore.findPostbackByToken(data.tokens[2] as string))?.deleted, true);
  assert.deepEqual(
    await pgStore.findSession(data.sessionToken, T0),
    await sqlite.findSession(data.sessionToken, T0),
  );
  for (const email of data.emails) {
    assert.deepEqual(await pgStore.findLogin(email), await sqlite.findLogin(email));
  }
});

test('migrate-data: new rows on PostgreSQL get ids after the copied ones', { skip }, async () => {
  const pgStore = postgres as PostgresStore;
  const max = maxIds();
  const above = (table: string, id: string | undefined) =>
    assert.ok(BigInt(id ?? 0) > (max[table] ?? 0n), `${table}: ${id} after ${max[table]}`);
  const acc = await pgStore.createAccount({
    email: 'after@example.com',
    passwordHash: 'h',
    workspaceName: 'After',
    at: T0,
  });
  assert.notEqual(acc, 'email_taken');
  if (acc === 'email_taken') return;
  above('workspaces', acc.workspace.id);
  const ws = acc.workspace.id;
  const key = await pgStore.createApiKey({
    workspaceId: ws,
    userId: acc.user.id,
    name: 'k',
    keyHash: 'kh-after',
    prefix: 'cbk_aft',
    at: T0,
  });
  above('api_keys', key.id);
  const c = await pgStore.createCampaign(
    ws,
    { name: 'New', description: '', buyer: '', destinationUrl: '' },
    () => randomAlphanumeric(8),
    T0,
  );
  above('campaigns', c.id);
  const p = await pgStore.createPostback(
    ws,
    {
      name: 'P',
      network: '1win',
      campaignId: null,
      clickidParam: 'sub1',
      currency: 'USD',
      macros: {},
      enabled: true,
    },
    randomAlphanumeric(24),
    T0,
  );
  above('postbacks', p.id);
  const lead = await pgStore.recordClick({
    campaign: c,
    params: {},
    ip: null,
    userAgent: null,
    referrer: null,
    at: T0,
    newClickid,
  });
  above('leads', lead.id);
  const amount = micros('0.1');
  const outcome = await pgStore.recordEvent({
    workspaceId: ws,
    scopeCampaignId: null,
    clickid: lead.clickid,
    postbackId: p.id,
    plan: countingPlan({ event: 'first_deposit', micros: amount, currency: 'USD', tid: 'n1' }),
    micros: amount,
    currency: 'USD',
    tid: 'n1',
    fields: {},
    at: T0,
    windowMs: WINDOW,
    log: {
      postbackId: p.id,
      workspaceId: ws,
      at: T0,
      method: 'GET',
      url: '/x',
      ip: null,
      userAgent: null,
      body: null,
    },
    note: null,
  });
  assert.equal(outcome.status, 'recorded');
  if (outcome.status !== 'recorded') return;
  above('conversions', outcome.conversionId);
  const logs = await pgStore.listPostbackLogs(ws, { limit: 1 });
  above('postback_logs', logs.items[0]?.id);
});

test('migrate-data: a target with rows is refused, and the table is named', { skip }, async () => {
  await assert.rejects(
    migrateData({ fromPath: dbPath, toUrl: TEST_DATABASE_URL, toSchema: schema }),
    (error: Error) =>
      error instanceof MigrateDataError && /not empty .*workspaces/.test(error.message),
  );
});

test('migrate-data: a failed copy or check commits nothing', { skip }, async () => {
  const target = schemaFor();
  const store = await openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 1, schema: target });
  const empty = async () => {
    for (const table of TABLES) assert.equal(await store.countRows(table), 0, table);
  };
  try {
    // A broken row mid-copy: clicks fail after workspaces..campaigns went in.
    const broken = `${dir.path}/broken.db`;
    copyFileSync(dbPath, broken);
    const db = new Database(broken);
    db.prepare("UPDATE clicks SET params = '{oops' WHERE id = 1000").run();
    db.close();
    await assert.rejects(
      migrateData({ fromPath: broken, toUrl: TEST_DATABASE_URL, toSchema: target, batchSize: 100 }),
      /copying clicks failed/,
    );
    await empty();

    // A target that changes what it is given: the checks catch it before COMMIT.
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      options: `-c search_path="${target}"`,
    });
    await client.connect();
    try {
      await client.query(`
        CREATE FUNCTION skew_amount() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.tid = 'eur-small' THEN NEW.amount_micros := NEW.amount_micros + 1; END IF;
          RETURN NEW;
        END $$;
        CREATE FUNCTION drop_field() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.lead_id = 1 AND NEW.key = 'phone' THEN RETURN NULL; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER skew BEFORE INSERT ON conversions FOR EACH ROW EXECUTE FUNCTION skew_amount();
        CREATE TRIGGER skew BEFORE INSERT ON lead_fields FOR EACH ROW EXECUTE FUNCTION drop_field();
      `);
      await assert.rejects(
        migrateData({ fromPath: dbPath, toUrl: TEST_DATABASE_URL, toSchema: target }),
        (error: Error) => {
          assert.match(error.message, /^verification failed, nothing was committed: /);
          assert.match(
            error.message,
            /lead_fields: (\d+) rows in the source, (?!\1)\d+ in the target/,
          );
          assert.match(
            error.message,
            /sum of amount_micros in EUR: \d+ in the source, \d+ in the target/,
          );
          return true;
        },
      );
      await empty();
      await client.query('DROP FUNCTION skew_amount, drop_field CASCADE');

      // Statistics come from rollups the target's triggers build during the
      // copy; without them the check sees every bucket missing.
      await client.query('ALTER TABLE conversions DISABLE TRIGGER conversions_rollup_insert');
      await assert.rejects(
        migrateData({ fromPath: dbPath, toUrl: TEST_DATABASE_URL, toSchema: target }),
        /verification failed, nothing was committed: conversion_rollups disagrees with its rows in [1-9]\d* buckets$/,
      );
      await empty();
      await client.query('ALTER TABLE conversions ENABLE TRIGGER conversions_rollup_insert');
    } finally {
      await client.end();
    }
    const again = await migrateData({
      fromPath: dbPath,
      toUrl: TEST_DATABASE_URL,
      toSchema: target,
    });
    assert.deepEqual(again.tables, report.tables);
  } finally {
    await store.close();
  }
});

test('migrate-data CLI: a summary and exit 0, then exit 1 for the non-empty target', {
  skip,
}, async () => {
  const target = schemaFor();
  const args = ['--from', `sqlite:${dbPath}`, '--to', TEST_DATABASE_URL, '--schema', target];
  const first = await cli(args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /counts and sums verified/);
  assert.match(first.stdout, new RegExp(`clicks\\s+${CLICKS}\\n`));
  assert.ok(first.stdout.includes(`USD ${formatMicros(data.sums.get('USD') ?? 0n)}`), first.stdout);
  const second = await cli(args);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /^clickback: migrate-data failed: .*not empty .*workspaces/);
  const bad = await cli(['--from', `sqlite:${dbPath}`, '--to', 'mysql://x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--to must be postgres/);
});
