// Shared by the durability tests: a workspace with a 1Win postback and leads on
// a running server, postbacks fired with known amounts and transaction ids, the
// outcome of each request as the client saw it, the server's memory, and a
// PostgreSQL schema of the test's own.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parseAmount } from '../../src/domain/money.js';
import { freshSchema, TEST_DATABASE_URL } from '../pg.js';
import { call, type Server } from '../process/server.js';

export const PASSWORD = 'correct horse battery';

export interface Tracker {
  token: string;
  postbackToken: string;
  clickids: string[];
}

/** Signs up, creates a 1Win postback and `leads` leads over the API. */
export async function setUpTracker(server: Server, leads: number): Promise<Tracker> {
  const signup = await call<{ token: string }>(server, 'POST', '/api/v1/auth/signup', {
    email: `durability-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`,
    password: PASSWORD,
  });
  assert.equal(signup.status, 201, JSON.stringify(signup.body));
  const token = signup.body.token;
  const postback = await call<{ token: string }>(
    server,
    'POST',
    '/api/v1/postbacks',
    { name: '1Win', network: '1win' },
    token,
  );
  assert.equal(postback.status, 201, JSON.stringify(postback.body));
  const clickids: string[] = [];
  for (let i = 0; i < leads; i++) {
    const lead = await call<{ clickid: string }>(
      server,
      'POST',
      '/api/v1/leads',
      { externalId: `chat-${i}` },
      token,
    );
    assert.equal(lead.status, 201, JSON.stringify(lead.body));
    clickids.push(lead.body.clickid);
  }
  return { token, postbackToken: postback.body.token, clickids };
}

/** The deposit number `i`: its own tid, a known amount (1.00..1000.99), a lead by turn. */
export function deposit(tracker: Tracker, i: number) {
  const cents = 100 + ((i * 7_919) % 100_000);
  const amount = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
  const clickid = tracker.clickids[i % tracker.clickids.length] as string;
  const tid = `tx-${i}`;
  return {
    tid,
    clickid,
    micros: BigInt(cents) * 10_000n,
    path: `/api/postbacks/${tracker.postbackToken}/deposit?clickid=${clickid}&amount=${amount}&tid=${tid}`,
  };
}

export type Outcome =
  | { kind: 'answer'; status: number; headers: Headers; body: Record<string, unknown> }
  /** No answer: refused, reset, or cut off — sent or not, its fate is unknown. */
  | { kind: 'failed'; code: string }
  | { kind: 'hang' };

/** One request; never throws. */
export async function attempt(url: string, ms = 10_000): Promise<Outcome> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { kind: 'answer', status: res.status, headers: res.headers, body };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return { kind: 'hang' };
    return { kind: 'failed', code: e.cause?.code ?? e.cause?.message ?? `${e.name}: ${e.message}` };
  }
}

export interface StoredEvent {
  id: string;
  clickid: string;
  event: string;
  tid: string | null;
  micros: bigint;
}

/** Every event of the tracker's leads, read through the API (GET /api/v1/leads/:clickid). */
export async function storedEvents(server: Server, tracker: Tracker): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (const clickid of tracker.clickids) {
    const lead = await call<{
      events: { id: string; event: string; amount: string | null; tid: string | null }[];
    }>(server, 'GET', `/api/v1/leads/${clickid}`, undefined, tracker.token);
    assert.equal(lead.status, 200, JSON.stringify(lead.body));
    for (const e of lead.body.events) {
      const parsed = parseAmount(e.amount ?? '0');
      assert.ok(parsed.ok, `stored amount ${e.amount}`);
      events.push({ id: String(e.id), clickid, event: e.event, tid: e.tid, micros: parsed.micros });
    }
  }
  return events;
}

/** Resident memory of a process in bytes (Linux), or null where /proc is missing. */
export function rssBytes(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const sum = (values: Iterable<bigint>) => {
  let total = 0n;
  for (const v of values) total += v;
  return total;
};

/**
 * A fresh PostgreSQL schema and an admin connection to inspect it; both go
 * with `cleanups`. `url(base)` is `base` (by default the test database) with
 * the schema as search path, for a server's DATABASE_URL.
 */
export async function postgresSchema(cleanups: Array<() => Promise<void> | void>) {
  const schema = freshSchema();
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  cleanups.push(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const url = (base = TEST_DATABASE_URL) => {
    const u = new URL(base);
    u.searchParams.set('options', `-c search_path=${schema}`);
    return u;
  };
  return { schema, admin, url };
}

/**
 * The network's side after a database outage: every deposit refused with 503
 * is sent again and must be counted (`duplicate` when its COMMIT went through
 * with the answer lost). Then every deposit sent is stored exactly once, with
 * its amount and under the conversion id it was answered with (`answered`),
 * and the schema's conversions sum to what was sent.
 */
export async function retryRefusedThenCheckStored(options: {
  server: Server;
  tracker: Tracker;
  admin: pg.Client;
  schema: string;
  sent: Map<string, ReturnType<typeof deposit>>;
  refused: string[];
  answered: Map<string, string>;
}): Promise<void> {
  const { server, tracker, admin, schema, sent } = options;
  for (const tid of options.refused) {
    const d = sent.get(tid) as ReturnType<typeof deposit>;
    const o = await attempt(`${server.base}${d.path}`);
    assert.ok(
      o.kind === 'answer' &&
        o.status === 200 &&
        (o.body.status === 'recorded' || o.body.status === 'duplicate'),
      `${tid}: the retry is counted: ${JSON.stringify(o)}`,
    );
  }
  const stored = new Map<string, StoredEvent>();
  for (const e of await storedEvents(server, tracker)) {
    assert.ok(e.tid !== null && !stored.has(e.tid), `tid ${e.tid} stored once`);
    stored.set(e.tid, e);
  }
  assert.equal(stored.size, sent.size, 'every deposit sent is stored, once');
  for (const [tid, d] of sent) assert.equal(stored.get(tid)?.micros, d.micros, `${tid}: amount`);
  for (const [tid, conversionId] of options.answered) {
    assert.equal(stored.get(tid)?.id, conversionId, `${tid}: the answered conversionId`);
  }
  const micros = await admin.query<{ micros: string }>(
    `SELECT coalesce(sum(amount_micros), 0)::text AS micros FROM "${schema}".conversions`,
  );
  assert.equal(BigInt(micros.rows[0]?.micros ?? '0'), sum([...sent.values()].map((d) => d.micros)));
}
