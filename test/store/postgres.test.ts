import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { countingPlan } from '../../src/domain/events.js';
import { newClickid } from '../../src/domain/random-id.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Lead, Store } from '../../src/store/store.js';
import { isStorageUnavailable } from '../../src/store/unavailable.js';
import { workspaceWithPostback } from '../helpers.js';
import { freshSchema, openTestPostgres, postgresAvailable, TEST_DATABASE_URL } from '../pg.js';
import { PgProxy } from '../pg-proxy.js';
import { storeContract } from './contract.js';
import { checkRenamed, saveUnderAliases } from './saved-events.js';
import { rollupLifecycle } from './stats-model.js';

const available = await postgresAvailable();

if (available) {
  storeContract('postgres', () => openTestPostgres());
} else {
  test('Store contract: postgres', {
    skip: `PostgreSQL unreachable at ${TEST_DATABASE_URL} (CI would fail)`,
  }, () => {});
}

test('postgres: migration 11 renames the events of destinations saved under aliases, and those events reach them', {
  skip: !available,
}, async () => {
  const before = await openTestPostgres();
  const saved = await saveUnderAliases(before.store, 'aliases');
  await before.store.close();
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DELETE FROM "${before.schema}".schema_migrations WHERE version = 11`);
  } finally {
    await client.end();
  }
  const after = await openTestPostgres(before.schema);
  try {
    await checkRenamed(after.store, saved);
  } finally {
    await after.dispose();
  }
});

test("postgres: migration 13 drops the foreign key of a conversion's lead; the conversions stay and still count once", {
  skip: !available,
}, async () => {
  const before = await openTestPostgres();
  const deposit = await depositsFor(before.store, 2);
  assert.equal((await deposit(0)).status, 'recorded');
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    options: `-c search_path=${before.schema}`,
  });
  await client.connect();
  const foreignKeys = async () =>
    (
      await client.query(
        "SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'conversions'::regclass AND contype = 'f'",
      )
    ).rows[0].n as number;
  try {
    // As a database made by migrations 1-12 has it.
    await client.query('ALTER TABLE conversions ADD FOREIGN KEY (lead_id) REFERENCES leads(id)');
    await client.query('DELETE FROM schema_migrations WHERE version = 13');
    assert.equal(await foreignKeys(), 1);
    const after = await openTestPostgres(before.schema);
    await after.store.close();
    assert.equal(await foreignKeys(), 0, 'the foreign key is gone');
    assert.equal((await deposit(0)).status, 'duplicate', 'the conversion from before still counts');
    assert.equal((await deposit(1)).status, 'recorded');
    assert.equal((await client.query('SELECT count(*)::int AS n FROM conversions')).rows[0].n, 2);
  } finally {
    await client.end();
    await before.dispose();
  }
});

test('postgres: nodes starting together migrate once, under the advisory lock', {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const stores = await Promise.all(
    Array.from({ length: 4 }, () =>
      openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 2, schema }),
    ),
  );
  const first = stores[0];
  assert.ok(first);
  await first.ping();
  for (const store of stores.slice(1)) await store.close();
  await first.dropSchema(schema);
  await first.close();
});

test("postgres: a node waiting longer than its statement timeout for another node's migrations still starts", {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await other.connect();
  // Another node migrating: it holds the migration lock for 600 ms.
  await other.query('SELECT pg_advisory_lock($1)', [0x636c6b62]);
  const release = setTimeout(() => {
    other.query('SELECT pg_advisory_unlock($1)', [0x636c6b62]).catch(() => {});
  }, 600);
  const started = performance.now();
  try {
    const store = await openPostgresStore({
      url: TEST_DATABASE_URL,
      poolSize: 2,
      schema,
      queryTimeoutMs: 100,
    });
    assert.ok(performance.now() - started >= 500, 'it waited for the lock');
    await store.ping();
    await store.dropSchema(schema);
    await store.close();
  } finally {
    clearTimeout(release);
    await other.end();
  }
});

test("postgres: the pool's sessions end a transaction of ours left idle as long as the statement timeout (its locks then go with it)", {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const timed = await openPostgresStore({
    url: TEST_DATABASE_URL,
    poolSize: 1,
    schema,
    queryTimeoutMs: 1_500,
  });
  const plain = await openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 1, schema });
  try {
    assert.equal(await timed.sessionSetting('idle_in_transaction_session_timeout'), '1500ms');
    assert.equal(await plain.sessionSetting('idle_in_transaction_session_timeout'), '0');
  } finally {
    await plain.close();
    await timed.dropSchema(schema);
    await timed.close();
  }
});

/** One group-committed write that needs no other rows: an unmatched call's log row. */
function logRow(store: Store, n: number): Promise<void> {
  return store.appendPostbackLog(
    {
      postbackId: '1',
      workspaceId: '1',
      at: Date.now(),
      method: 'GET',
      url: `/api/postbacks/x/deposit?n=${n}`,
      ip: null,
      userAgent: null,
      body: null,
    },
    {
      httpStatus: 200,
      status: 'unmatched',
      error: null,
      event: null,
      clickid: null,
      conversionId: null,
    },
  );
}

test('postgres: with the database unreachable, writes waiting for a group fail within the connect timeout, not one group after another', {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const proxy = await PgProxy.start(TEST_DATABASE_URL);
  const store = await openPostgresStore({
    url: proxy.url(TEST_DATABASE_URL),
    poolSize: 4,
    schema,
    connectTimeoutMs: 300,
  });
  try {
    await proxy.set('blackhole');
    // Eight groups' worth: two commit at once, the others wait for a slot.
    const started = performance.now();
    const settled = await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        logRow(store, i).then(
          () => ({ ok: true, ms: performance.now() - started }),
          (error: unknown) => {
            assert.ok(isStorageUnavailable(error), String(error));
            return { ok: false, ms: performance.now() - started };
          },
        ),
      ),
    );
    assert.ok(
      settled.every((s) => !s.ok),
      'no write went through an unreachable database',
    );
    const slowest = Math.max(...settled.map((s) => s.ms));
    // One group after another would take four connect timeouts (1.2 s).
    assert.ok(slowest < 900, `the last write failed after ${Math.round(slowest)} ms`);
  } finally {
    await proxy.set('pass');
    await store.dropSchema(schema);
    await store.close();
    await proxy.close();
  }
});

test('postgres: a connection that goes silent mid-transaction is dropped, not asked to roll back: the write fails after one statement timeout and the next gets a new connection', {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const proxy = await PgProxy.start(TEST_DATABASE_URL);
  // One connection, so a stalled one put back in the pool would be the next one used.
  const store = await openPostgresStore({
    url: proxy.url(TEST_DATABASE_URL),
    poolSize: 1,
    schema,
    queryTimeoutMs: 300,
  });
  const log = (n: number) => logRow(store, n);
  let n = 0;
  const account = () =>
    store.createAccount({
      email: `silent-${++n}@example.com`,
      passwordHash: 'x',
      workspaceName: 'S',
      at: 0,
    });
  try {
    // Both kinds of transaction: a group commit (a log row) and one of its own (an account).
    for (const write of [() => log(++n), account]) {
      await write();
      const connections = proxy.accepted;
      await proxy.set('stall');
      const started = performance.now();
      await assert.rejects(write(), (error) => isStorageUnavailable(error));
      const failedAfter = performance.now() - started;
      // A ROLLBACK sent down the silent connection would wait out a second timeout.
      assert.ok(failedAfter < 550, `the write failed after ${Math.round(failedAfter)} ms`);
      await proxy.set('pass');
      const again = performance.now();
      await write();
      const tookMs = performance.now() - again;
      assert.equal(proxy.accepted, connections + 1, 'the silent connection was used again');
      assert.ok(tookMs < 250, `the next write took ${Math.round(tookMs)} ms`);
    }
  } finally {
    await proxy.set('pass');
    await store.dropSchema(schema);
    await store.close();
    await proxy.close();
  }
});

test('postgres: statistics rollups are backfilled by migration 5 and follow deletes and updates', {
  skip: !available,
}, async () => {
  const schema = freshSchema();
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    await rollupLifecycle(
      {
        // Several connections write, so rows land in several shards.
        open: () => openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 4, schema }),
        async forgetRollups() {
          await client.query(`
            DROP TABLE conversion_rollups, click_rollups, lead_rollups;
            DROP FUNCTION conversion_rollups_apply, click_rollups_apply, lead_rollups_apply CASCADE;
            DELETE FROM schema_migrations WHERE version = 5;
          `);
        },
        exec: async (text) => {
          await client.query(text);
        },
      },
      assert,
    );
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
});

/**
 * A TCP proxy in front of PostgreSQL that, once a client sends `marker`, holds
 * the server's answer back until it is complete (ReadyForQuery: committed) and
 * then cuts the connection: the statement committed, the client never hears so.
 * With `reach: false` the statement never reaches the server: the connection
 * is cut as it is sent. It cuts once, and only from when `enabled` (default:
 * at once, or when `enable()` is called); later connections pass through.
 */
async function cuttingProxy(
  marker: string,
  options: { reach?: boolean; enabled?: boolean; refuseAfterCut?: boolean } = {},
) {
  const target = new URL(TEST_DATABASE_URL);
  const readyForQuery = Buffer.from([0x5a, 0, 0, 0, 5]);
  const sockets = new Set<net.Socket>();
  let cuts = 0;
  let enabled = options.enabled ?? true;
  let refusing = false;
  const server = net.createServer((client) => {
    // Out of reach after the cut, until pass(): a new connection is taken and
    // never answered.
    if (refusing) {
      sockets.add(client);
      client.on('error', () => {});
      return;
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let armed = false;
    let held: Buffer[] = [];
    client.on('data', (chunk) => {
      if (enabled && cuts === 0 && chunk.includes(marker)) {
        if (options.reach === false) {
          cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        armed = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!armed) return void client.write(chunk);
      held.push(chunk);
      if (!Buffer.concat(held).includes(readyForQuery)) return;
      cuts++;
      armed = false;
      held = [];
      if (options.refuseAfterCut) refusing = true;
      client.destroy();
      upstream.destroy();
    });
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(TEST_DATABASE_URL);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    cuts: () => cuts,
    enable: () => {
      enabled = true;
    },
    pass: () => {
      refusing = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Runs `body` against a store on a fresh schema behind cuttingProxy(marker,
 * cut), with a direct connection to that schema for checking what was kept;
 * drops the schema after.
 */
async function behindCuttingProxy(
  marker: string,
  cut: Parameters<typeof cuttingProxy>[1],
  options: { poolSize: number; connectTimeoutMs?: number },
  body: (
    store: PostgresStore,
    direct: pg.Client,
    proxy: Awaited<ReturnType<typeof cuttingProxy>>,
  ) => Promise<void>,
): Promise<void> {
  const proxy = await cuttingProxy(marker, cut);
  const schema = freshSchema();
  const store = await openPostgresStore({ url: proxy.url, schema, ...options });
  const direct = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    options: `-c search_path=${schema}`,
  });
  await direct.connect();
  try {
    await body(store, direct, proxy);
  } finally {
    await direct.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await direct.end();
    await store.close();
    await proxy.close();
  }
}

/** A workspace with a custom postback configuration and a campaign. */
async function workspaceWithCampaign(store: Store, name: string) {
  const { workspaceId, postback } = await workspaceWithPostback(store, name);
  const campaign = await store.createCampaign(
    workspaceId,
    { name: 'C', description: '', buyer: '', destinationUrl: '' },
    () => `${name}slug`,
    0,
  );
  return { workspaceId, postback, campaign };
}

test('postgres: clicks whose statement committed but whose answer was lost fail, and are written once', {
  skip: !available,
}, async () => {
  // The text of the clicks statement, sent when a connection prepares it.
  await behindCuttingProxy(
    'WITH input AS MATERIALIZED',
    {},
    { poolSize: 1 },
    async (store, direct, proxy) => {
      const { campaign } = await workspaceWithCampaign(store, 'lost');
      const click = (n: string) =>
        store.recordClick({
          campaign,
          params: { n },
          ip: null,
          userAgent: null,
          referrer: null,
          at: 0,
          newClickid,
        });
      const lost = await Promise.allSettled([click('a'), click('b'), click('c')]);
      assert.equal(proxy.cuts(), 1);
      assert.deepEqual(
        lost.map((o) => o.status),
        ['rejected', 'rejected', 'rejected'],
      );
      // The store goes on, on a new connection.
      assert.equal((await click('d')).params.n, 'd');
      // What committed is there once: no click was written again after the cut.
      const rows = await direct.query(
        `SELECT l.params->>'n' AS n, count(*)::int AS clicks
       FROM leads l JOIN clicks c ON c.id = l.click_id GROUP BY 1 ORDER BY 1`,
      );
      assert.deepEqual(
        rows.rows.map((r) => [r.n, r.clicks]),
        [
          ['a', 1],
          ['b', 1],
          ['c', 1],
          ['d', 1],
        ],
      );
      const total = await direct.query('SELECT count(*)::int AS n FROM clicks');
      assert.equal(total.rows[0].n, 4);
    },
  );
});

/** A workspace with `n` leads, and a deposit of 5 USD (transaction id `t<i>`) for lead i. */
async function depositsFor(store: Store, n: number) {
  const { workspaceId: ws, postback, campaign } = await workspaceWithCampaign(store, 'unanswered');
  const leads: Lead[] = [];
  for (let i = 0; i < n; i++) {
    const click = { campaign, params: {}, ip: null, userAgent: null, referrer: null, at: 0 };
    leads.push(await store.recordClick({ ...click, newClickid }));
  }
  return (i: number) => {
    const tid = `t${i}`;
    return store.recordEvent({
      workspaceId: ws,
      scopeCampaignId: null,
      clickid: (leads[i] as Lead).clickid,
      postbackId: postback.id,
      plan: countingPlan({ event: 'deposit', micros: 5_000_000n, currency: 'USD', tid }),
      micros: 5_000_000n,
      currency: 'USD',
      tid,
      fields: {},
      at: 1,
      windowMs: 0,
      log: {
        postbackId: postback.id,
        workspaceId: ws,
        at: 1,
        method: 'GET',
        url: `/api/postbacks/x/deposit?tid=${tid}`,
        ip: null,
        userAgent: null,
        body: null,
      },
      note: null,
    });
  };
}

/** Conversions, and log rows per call, in `schema`. */
async function counts(client: pg.Client) {
  const counted = await client.query('SELECT count(*)::int AS n FROM conversions');
  const logged = await client.query(
    'SELECT url, count(*)::int AS n FROM postback_logs GROUP BY url ORDER BY url',
  );
  return { conversions: counted.rows[0].n as number, logRows: logged.rows.map((r) => r.n) };
}

test('postgres: a group whose COMMIT went unanswered is answered as it was done: committed, each deposit recorded and logged once; rolled back, each written again', {
  skip: !available,
}, async () => {
  const N = 6;
  for (const reach of [true, false]) {
    await behindCuttingProxy(
      'COMMIT',
      { reach, enabled: false },
      { poolSize: 2 },
      async (store, direct, proxy) => {
        const deposit = await depositsFor(store, N);
        proxy.enable();
        // Sent in one turn: one group, one COMMIT, the one cut.
        const answers = await Promise.all(Array.from({ length: N }, (_, i) => deposit(i)));
        assert.equal(proxy.cuts(), 1, `reach ${reach}: the COMMIT was cut`);
        assert.deepEqual(
          answers.map((a) => a.status),
          Array(N).fill('recorded'),
          `reach ${reach}: each deposit is answered as recorded, never duplicate`,
        );
        assert.deepEqual(
          await counts(direct),
          { conversions: N, logRows: Array(N).fill(1) },
          `reach ${reach}: each deposit counted once, each call logged once`,
        );
      },
    );
  }
});

test('postgres: a group whose COMMIT went unanswered, with the database out of reach, is refused within a second; the retries are counted once', {
  skip: !available,
}, async () => {
  const N = 4;
  // Running the writes again would wait out the connect timeout.
  const cut = { enabled: false, refuseAfterCut: true };
  await behindCuttingProxy(
    'COMMIT',
    cut,
    { poolSize: 2, connectTimeoutMs: 3_000 },
    async (store, direct, proxy) => {
      const deposit = await depositsFor(store, N);
      proxy.enable();
      const started = performance.now();
      const answers = await Promise.allSettled(Array.from({ length: N }, (_, i) => deposit(i)));
      const tookMs = performance.now() - started;
      assert.equal(proxy.cuts(), 1);
      for (const a of answers) {
        assert.equal(a.status, 'rejected');
        assert.ok(isStorageUnavailable((a as PromiseRejectedResult).reason), String(a));
      }
      assert.ok(tookMs < 2_000, `refused after ${Math.round(tookMs)} ms`);
      // It had committed: the network's retries find each deposit counted.
      proxy.pass();
      const again = await Promise.all(Array.from({ length: N }, (_, i) => deposit(i)));
      assert.deepEqual(
        again.map((a) => a.status),
        Array(N).fill('duplicate'),
      );
      assert.deepEqual(await counts(direct), { conversions: N, logRows: Array(N).fill(2) });
    },
  );
});
