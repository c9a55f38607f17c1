// Three app nodes on one PostgreSQL: postbacks sprayed across all of them,
// duplicates fired on different nodes at the same moment, and exact counts after.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { formatMicros, parseAmount } from '../../src/domain/money.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { freshSchema, postgresAvailable, TEST_DATABASE_URL } from '../pg.js';
import { call, killAll, type Server, startServer } from './server.js';

const available = await postgresAvailable();
const LEADS = 250;
const DEPOSITS_PER_LEAD = 12;
const TOTAL = 5_000;
const CONCURRENCY = 48;

const schema = freshSchema();
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
let nodes: Server[] = [];

function schemaUrl(): string {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

before(async () => {
  if (!available) return;
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  // Started together: the advisory lock lets exactly one of them migrate.
  nodes = await Promise.all(
    [1, 2, 3].map(() =>
      startServer(null, {
        DATABASE_URL: schemaUrl(),
        // Nodes of one database share the key that seals access tokens.
        SECRET_KEY: 'bXVsdGktbm9kZSB0ZXN0IGtleSwgMzIgYnl0ZXMgbG8=',
        LOG_LEVEL: 'warn',
        DATABASE_POOL_SIZE: '6',
      }),
    ),
  );
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  await killAll();
  if (available) {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

test('5,000 postbacks with 30% duplicates across three nodes: each counted exactly once', {
  skip: !available && 'PostgreSQL unreachable',
}, async () => {
  const [a, b, c] = nodes as [Server, Server, Server];
  const signup = await call<{ token: string }>(a, 'POST', '/api/v1/auth/signup', {
    email: 'nodes@example.com',
    password: 'correct horse battery',
  });
  const token = signup.body.token;
  const postback = await call<{ links: Record<string, string> }>(
    b,
    'POST',
    '/api/v1/postbacks',
    { name: '1Win', network: '1win' },
    token,
  );
  const clickids: string[] = [];
  for (let i = 0; i < LEADS; i++) {
    const node = nodes[i % 3] as Server;
    const lead = await call<{ clickid: string }>(
      node,
      'POST',
      '/api/v1/leads',
      { externalId: `chat-${i}` },
      token,
    );
    clickids.push(lead.body.clickid);
  }

  // The unique postbacks: per lead a registration, a first deposit and 12 deposits.
  const base = (link: string) => new URL(link).pathname;
  const paths = {
    registration: base(postback.body.links.registration as string),
    firstDeposit: base(postback.body.links.firstDeposit as string),
    deposit: base(postback.body.links.deposit as string),
  };
  const unique: string[] = [];
  let expectedMicros = 0n;
  clickids.forEach((clickid, i) => {
    unique.push(`${paths.registration}?clickid=${clickid}`);
    for (let j = 0; j <= DEPOSITS_PER_LEAD; j++) {
      const amount = `${(i * 7 + j * 3) % 500}.${String((i + j * 11) % 100).padStart(2, '0')}`;
      const parsed = parseAmount(amount);
      assert.ok(parsed.ok);
      expectedMicros += parsed.micros;
      const path = j === 0 ? paths.firstDeposit : paths.deposit;
      unique.push(`${path}?clickid=${clickid}&amount=${amount}&tid=tx-${i}-${j}`);
    }
  });
  const duplicates = TOTAL - unique.length;
  assert.equal(unique.length, 3_500);
  // Duplicates: copies of random unique postbacks, each fired at once on another node too.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const jobs: Array<{ path: string; copies: number }> = unique.map((path) => ({ path, copies: 1 }));
  for (let d = 0; d < duplicates; d++) {
    const job = jobs[Math.floor(random() * jobs.length)] as { copies: number };
    job.copies++;
  }
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [jobs[i], jobs[j]] = [jobs[j] as (typeof jobs)[number], jobs[i] as (typeof jobs)[number]];
  }

  const statuses = new Map<string, number>();
  let next = 0;
  let sent = 0;
  const worker = async (w: number) => {
    while (next < jobs.length) {
      const job = jobs[next++] as (typeof jobs)[number];
      // All copies of one postback at the same moment, each on a different node.
      const answers = await Promise.all(
        Array.from({ length: job.copies }, (_, k) =>
          fetch(`${(nodes[(w + k) % 3] as Server).base}${job.path}`).then(async (r) => {
            assert.equal(r.status, 200, `${job.path}: ${r.status}`);
            return ((await r.json()) as { status: string }).status;
          }),
        ),
      );
      sent += answers.length;
      for (const s of answers) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));

  assert.equal(sent, TOTAL);
  assert.equal(statuses.get('recorded'), unique.length);
  assert.equal(statuses.get('duplicate'), duplicates);

  const counts = await admin.query(
    `SELECT (SELECT count(*) FROM "${schema}".conversions) AS conversions,
            (SELECT coalesce(sum(amount_micros), 0) FROM "${schema}".conversions) AS micros,
            (SELECT count(*) FROM "${schema}".postback_logs) AS logs,
            (SELECT count(*) FROM "${schema}".schema_migrations) AS migrations`,
  );
  const row = counts.rows[0] as Record<string, string>;
  assert.equal(Number(row.conversions), unique.length);
  assert.equal(BigInt(row.micros as string), expectedMicros);
  assert.equal(Number(row.logs), TOTAL, 'every request, duplicate or not, is in the postback log');
  assert.equal(Number(row.migrations), MIGRATIONS.length, 'migrated once');

  const today = new Date().toISOString().slice(0, 10);
  const totals = (
    await call<{ totals: Record<string, unknown> }>(
      c,
      'GET',
      `/api/v1/stats?from=${today}&to=${today}`,
      undefined,
      token,
    )
  ).body.totals;
  assert.equal(totals.registrations, LEADS);
  assert.equal(totals.firstDeposits, LEADS);
  assert.equal(totals.deposits, LEADS * DEPOSITS_PER_LEAD);
  assert.equal(totals.totalDepositAmount, formatMicros(expectedMicros));
});
