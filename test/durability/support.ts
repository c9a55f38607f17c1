// Shared by the durability tests: a workspace with a 1Win postback and leads on
// a running server, postbacks fired with known amounts and transaction ids, the
// outcome of each request as the client saw it, and the server's memory.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAmount } from '../../src/domain/money.js';
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
