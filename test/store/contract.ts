// The Store contract: one suite, run unchanged against every engine's adapter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { countingPlan } from '../../src/domain/events.js';
import { type DestinationSettings, routeEvents } from '../../src/domain/forwarding.js';
import { newClickid, randomAlphanumeric } from '../../src/domain/random-id.js';
import { dayBuckets, startOfDay } from '../../src/domain/time-range.js';
import type {
  Campaign,
  DeliveryAttempt,
  DeliveryJob,
  DestinationInput,
  Lead,
  LogRequest,
  NewClick,
  RecordEvent,
  Store,
} from '../../src/store/store.js';
import { StoreRefusal } from '../../src/store/store.js';
import { expectedStats, record, scenario, sortRows, toQuery } from './stats-model.js';

/** A key's lastUsedAt once it reads `expected`, or what it read after 2 s. */
async function noted(
  list: () => Promise<Array<{ lastUsedAt: number | null }>>,
  expected: number,
): Promise<number | null | undefined> {
  const until = Date.now() + 2000;
  for (;;) {
    const lastUsedAt = (await list())[0]?.lastUsedAt;
    if (lastUsedAt === expected || Date.now() > until) return lastUsedAt;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface StoreHarness {
  store: Store;
  /** Drops the engine's data (temp file or schema). */
  dispose(): Promise<void>;
  /** PostgreSQL: the store's schema, so a second node can open on the same data. */
  schema?: string;
}

const T0 = Date.parse('2026-11-20T10:00:00Z');
const WINDOW = 60_000;
/** FUZZ_SEED=<seed> reproduces a failed property; FUZZ_RUNS=10 runs ten times as many cases. */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_124);
const runs = (n: number) => Math.max(1, Math.round(n * Number(process.env.FUZZ_RUNS ?? 1)));

export function storeContract(engine: string, open: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${engine}`, () => {
    let h: StoreHarness;
    let s: Store;
    let seq = 0;
    before(async () => {
      h = await open();
      s = h.store;
    });
    after(() => h.dispose());

    /** A second store on the same data (another node), when the engine has such a thing. */
    async function openPeer(): Promise<Store | null> {
      if (s.engine !== 'postgres' || h.schema === undefined) return null;
      const { openPostgresStore } = await import('../../src/store/postgres/postgres-store.js');
      const { TEST_DATABASE_URL } = await import('../pg.js');
      return openPostgresStore({ url: TEST_DATABASE_URL, poolSize: 4, schema: h.schema });
    }

    async function workspace() {
      const acc = await s.createAccount({
        email: `c${++seq}-${Date.now()}@example.com`,
        passwordHash: 'x',
        workspaceName: `W${seq}`,
        at: T0,
      });
      assert.notEqual(acc, 'email_taken');
      return acc === 'email_taken' ? assert.fail() : acc.workspace.id;
    }

    async function campaign(ws: string, name = 'C', buyer = '') {
      return s.createCampaign(
        ws,
        { name, description: '', buyer, destinationUrl: '' },
        () => randomAlphanumeric(8),
        T0,
      );
    }

    async function postback(ws: string, campaignId: string | null = null) {
      return s.createPostback(
        ws,
        {
          name: 'P',
          network: '1win',
          campaignId,
          clickidParam: 'sub1',
          currency: 'USD',
          macros: {},
          enabled: true,
        },
        randomAlphanumeric(24),
        T0,
      );
    }

    async function lead(ws: string, campaignId: string | null = null) {
      return s.createLead(ws, {
        campaignId,
        externalId: null,
        username: null,
        params: { utm_source: 'fb' },
        at: T0,
        newClickid,
      });
    }

    /** Statistics by campaign over the two days around T0. */
    function statsByCampaign(ws: string) {
      return s.stats(ws, {
        groupBy: 'campaign',
        fromMs: T0 - 86_400_000,
        toMs: T0 + 86_400_000,
        buckets: [],
        currency: 'USD',
      });
    }

    /** An anonymous click at T0 on `c`; `over` changes any of it. */
    function adClick(c: Campaign, over: Partial<NewClick> = {}) {
      return s.recordClick({
        campaign: c,
        params: {},
        ip: null,
        userAgent: null,
        referrer: null,
        at: T0,
        newClickid,
        ...over,
      });
    }

    /** A log row the store cannot write (it names no postback): its transaction rolls back. */
    function unwritableLog(ws: string): LogRequest {
      return {
        postbackId: 'not-an-id',
        workspaceId: ws,
        at: T0,
        method: 'GET',
        url: '/x',
        ip: null,
        userAgent: null,
        body: null,
      };
    }

    function event(
      ws: string,
      clickid: string,
      e: Partial<RecordEvent> & { event: string },
    ): RecordEvent {
      const micros = e.micros ?? null;
      const currency = e.currency ?? 'USD';
      const tid = e.tid ?? null;
      return {
        workspaceId: ws,
        scopeCampaignId: null,
        clickid,
        postbackId: null,
        micros,
        currency,
        tid,
        fields: {},
        at: T0,
        windowMs: WINDOW,
        log: null,
        note: null,
        plan: countingPlan({ event: e.event, micros, currency, tid }),
        ...e,
      };
    }

    test('accounts: unique email, login lookup, sessions expire and end', async () => {
      const email = `dup-${Date.now()}@example.com`;
      const first = await s.createAccount({ email, passwordHash: 'h', workspaceName: 'A', at: T0 });
      assert.notEqual(first, 'email_taken');
      assert.equal(
        await s.createAccount({ email, passwordHash: 'h', workspaceName: 'B', at: T0 }),
        'email_taken',
      );
      const login = await s.findLogin(email);
      assert.equal(login?.passwordHash, 'h');
      if (first === 'email_taken') return;
      await s.createSession({
        tokenHash: `t-${email}`,
        userId: first.user.id,
        workspaceId: first.workspace.id,
        at: T0,
        expiresAt: T0 + 1000,
      });
      assert.equal((await s.findSession(`t-${email}`, T0 + 10))?.workspace.id, first.workspace.id);
      assert.equal(await s.findSession(`t-${email}`, T0 + 1000), null, 'expired');
      await s.deleteSession(`t-${email}`);
      assert.equal(await s.findSession(`t-${email}`, T0), null);
    });

    test('API keys: found by hash until revoked, revoked only by their workspace', async () => {
      const acc = await s.createAccount({
        email: `k${++seq}-${Date.now()}@example.com`,
        passwordHash: 'h',
        workspaceName: 'K',
        at: T0,
      });
      if (acc === 'email_taken') return assert.fail();
      const key = await s.createApiKey({
        workspaceId: acc.workspace.id,
        userId: acc.user.id,
        name: 'bot',
        keyHash: `kh-${seq}`,
        prefix: 'cbk_abc',
        at: T0,
      });
      assert.equal((await s.findApiKey(`kh-${seq}`, T0 + 1))?.workspace.id, acc.workspace.id);
      // The use is noted without the lookup waiting for it.
      assert.equal(await noted(() => s.listApiKeys(acc.workspace.id), T0 + 1), T0 + 1);
      assert.equal(await s.revokeApiKey(await workspace(), key.id, T0), false);
      assert.equal(await s.revokeApiKey(acc.workspace.id, key.id, T0), true);
      assert.equal(await s.findApiKey(`kh-${seq}`, T0), null);
      assert.deepEqual(await s.listApiKeys(acc.workspace.id), []);
    });

    test('campaigns: CRUD scoped to the workspace, soft delete hides from clicks', async () => {
      const a = await workspace();
      const b = await workspace();
      const c = await campaign(a, 'Alpha', 'buyer1');
      assert.equal((await s.getCampaign(a, c.id))?.name, 'Alpha');
      assert.equal(await s.getCampaign(b, c.id), null);
      assert.equal(await s.updateCampaign(b, c.id, { name: 'Hijack' }), null);
      assert.equal((await s.updateCampaign(a, c.id, { name: 'Beta' }))?.name, 'Beta');
      assert.equal((await s.findCampaignForClick(c.slug))?.id, c.id);
      assert.equal(await s.deleteCampaign(b, c.id, T0), false);
      assert.equal(await s.deleteCampaign(a, c.id, T0), true);
      assert.equal(await s.findCampaignForClick(c.slug), null);
      assert.deepEqual(await s.listCampaigns(a), []);
    });

    test('clicks create leads with unique clickids; a colliding clickid is redrawn', async () => {
      const ws = await workspace();
      const c = await campaign(ws);
      const first = await s.recordClick({
        campaign: c,
        params: { fbclid: 'x' },
        ip: '1.2.3.4',
        userAgent: 'UA',
        referrer: null,
        at: T0,
        newClickid,
      });
      const draws = [first.clickid, 'Zz0000000001'];
      const second = await adClick(c, { newClickid: () => draws.shift() ?? newClickid() });
      assert.equal(second.clickid, 'Zz0000000001');
      assert.deepEqual((await s.getLead(ws, first.clickid))?.params, { fbclid: 'x' });
      // The attempt that collided leaves no click behind.
      const byCampaign = await statsByCampaign(ws);
      assert.deepEqual(
        byCampaign.rows.map((r) => [r.key, r.clicks, r.leads]),
        [[c.id, 2, 2]],
      );
    });

    test('clicks started together each get their own lead, past one batch; a bad one fails alone', async () => {
      const ws = await workspace();
      const c = await campaign(ws);
      // More than one statement takes on PostgreSQL (64); one group on SQLite.
      const n = 150;
      const bad = 70;
      const broken: Campaign = { ...c, workspaceId: 'not-an-id' };
      const outcomes = await Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          adClick(i === bad ? broken : c, { params: { n: String(i) } }),
        ),
      );
      assert.equal(outcomes[bad]?.status, 'rejected');
      const clickids = new Set<string>();
      for (const [i, o] of outcomes.entries()) {
        if (i === bad) continue;
        const lead = o.status === 'fulfilled' ? o.value : assert.fail(String(o.reason));
        assert.equal(lead.params.n, String(i));
        assert.equal((await s.getLead(ws, lead.clickid))?.params.n, String(i));
        clickids.add(lead.clickid);
      }
      assert.equal(clickids.size, n - 1);
      const byCampaign = await statsByCampaign(ws);
      assert.deepEqual(
        byCampaign.rows.map((r) => [r.key, r.clicks, r.leads]),
        [[c.id, n - 1, n - 1]],
      );
    });

    test('clicks of one batch that draw the same clickid, or a taken one, draw again; one that never finds a free clickid fails alone', async () => {
      const ws = await workspace();
      const c = await campaign(ws);
      const taken = (await adClick(c, { params: { n: 'first' } })).clickid;
      const shared = 'Zz0000000002';
      const drawsOf = (first: string) => {
        let n = 0;
        return () => (n++ === 0 ? first : newClickid());
      };
      // Three clicks of one batch draw the same clickid first, one draws a
      // clickid committed already.
      const leads = await Promise.all([
        adClick(c, { params: { n: '0' }, newClickid: drawsOf(shared) }),
        adClick(c, { params: { n: '1' }, newClickid: drawsOf(shared) }),
        adClick(c, { params: { n: '2' }, newClickid: drawsOf(shared) }),
        adClick(c, { params: { n: '3' }, newClickid: drawsOf(taken) }),
        adClick(c, { params: { n: '4' } }),
      ]);
      const clickids = new Set([taken]);
      for (const [i, lead] of leads.entries()) {
        assert.equal(lead.params.n, String(i));
        assert.equal((await s.getLead(ws, lead.clickid))?.params.n, String(i));
        clickids.add(lead.clickid);
      }
      assert.equal(leads.filter((l) => l.clickid === shared).length, 1);
      assert.equal(clickids.size, 6);
      assert.equal((await s.getLead(ws, taken))?.params.n, 'first');
      // A click that can only draw a taken clickid fails; the one beside it does not.
      const [never, beside] = await Promise.allSettled([
        adClick(c, { params: { n: 'never' }, newClickid: () => taken }),
        adClick(c, { params: { n: 'beside' } }),
      ]);
      assert.equal(never?.status, 'rejected');
      assert.equal(beside?.status === 'fulfilled' && beside.value.params.n, 'beside');
      // No click row is left behind by a draw that clashed, nor by the click that failed.
      const byCampaign = await statsByCampaign(ws);
      assert.deepEqual(
        byCampaign.rows.map((r) => [r.key, r.clicks, r.leads]),
        [[c.id, 7, 7]],
      );
    });

    test('binding a chat to a clickid is idempotent and refuses another chat', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      const bound = await s.bindLead(ws, l.clickid, { externalId: 'chat1', username: 'bob' });
      assert.equal(typeof bound === 'object' && bound.externalId, 'chat1');
      const again = await s.bindLead(ws, l.clickid, { externalId: 'chat1', username: null });
      assert.equal(typeof again === 'object' && again.username, 'bob');
      assert.equal(
        await s.bindLead(ws, l.clickid, { externalId: 'chat2', username: null }),
        'bound_elsewhere',
      );
      assert.equal(
        await s.bindLead(await workspace(), l.clickid, { externalId: 'chat1', username: null }),
        'not_found',
      );
    });

    test('registration counts once per lead', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      const first = await s.recordEvent(event(ws, l.clickid, { event: 'registration' }));
      const second = await s.recordEvent(event(ws, l.clickid, { event: 'registration' }));
      if (first.status === 'unmatched' || second.status === 'unmatched') return assert.fail();
      assert.deepEqual([first.status, second.status], ['recorded', 'duplicate']);
      assert.equal(second.conversionId, first.conversionId);
    });

    test('first deposit: same tid duplicate, new tid becomes a deposit, no tid duplicate', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      const ftd = await s.recordEvent(
        event(ws, l.clickid, { event: 'first_deposit', micros: 100_000_000n, tid: 'a' }),
      );
      assert.equal(ftd.status, 'recorded');
      const same = await s.recordEvent(
        event(ws, l.clickid, { event: 'first_deposit', micros: 100_000_000n, tid: 'a' }),
      );
      assert.deepEqual(
        [same.status, same.status !== 'unmatched' && same.event],
        ['duplicate', 'first_deposit'],
      );
      const next = await s.recordEvent(
        event(ws, l.clickid, { event: 'first_deposit', micros: 50_000_000n, tid: 'b' }),
      );
      assert.deepEqual(
        [next.status, next.status !== 'unmatched' && next.event],
        ['recorded', 'deposit'],
      );
      const noTid = await s.recordEvent(
        event(ws, l.clickid, { event: 'first_deposit', micros: 1_000_000n }),
      );
      assert.equal(noTid.status, 'duplicate');
      const detail = await s.getLead(ws, l.clickid);
      assert.deepEqual(
        detail?.events.map((e) => [e.event, e.micros]),
        [
          ['first_deposit', 100_000_000n],
          ['deposit', 50_000_000n],
        ],
      );
      assert.equal(detail?.totals[0]?.depositMicros, 150_000_000n);
    });

    test('sums past a 64-bit integer stay exact; a write a sum cannot take is refused, never counted inexactly', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      // The largest amount a postback may carry, 999,999,999,999.999999.
      const BIG = 999_999_999_999_999_999n;
      const QUARTER = 900_000;
      let recorded = 0n;
      let refused = 0;
      const record = async (tid: string, at: number, withdrawal = false) => {
        try {
          const outcome = await s.recordEvent(
            event(ws, l.clickid, {
              event: withdrawal ? 'withdrawal' : 'deposit',
              micros: withdrawal ? -BIG : BIG,
              tid,
              at,
            }),
          );
          assert.equal(outcome.status, 'recorded');
          if (!withdrawal) recorded += BIG;
        } catch (error) {
          // The embedded engine keeps each 15 minutes' sums in a 64-bit integer.
          assert.equal((error as { code?: string }).code, 'amount_out_of_range', String(error));
          refused++;
        }
      };
      // Twelve deposits, each in its own 15 minutes: 1.2 × 10^19 micro-units in all.
      for (let i = 0; i < 12; i++) await record(`spread-${i}`, T0 + i * QUARTER);
      assert.equal(refused, 0, 'no 15 minutes holds more than one of them');
      // Twelve more in one 15 minutes, and a withdrawal as large.
      for (let i = 0; i < 12; i++) await record(`packed-${i}`, T0 + 12 * QUARTER);
      await record('out', T0 + 12 * QUARTER, true);
      if (s.engine === 'sqlite') assert.ok(refused >= 3, `${refused} refused`);

      const detail = await s.getLead(ws, l.clickid);
      assert.equal(detail?.totals[0]?.depositMicros, recorded);
      const counted = (detail?.events ?? []).filter((e) => e.event === 'deposit').length;
      assert.equal(BigInt(counted) * BIG, recorded, 'refused writes left no conversion');
      const stats = await s.stats(ws, {
        groupBy: 'campaign',
        fromMs: T0 - 86_400_000,
        toMs: T0 + 86_400_000,
        buckets: [],
        currency: 'USD',
      });
      assert.equal(stats.rows.length, 1);
      assert.equal(stats.rows[0]?.depositMicros, recorded);
      assert.equal(stats.rows[0]?.deposits, counted);
    });

    test("a deposit carrying the first deposit's tid is the same money: duplicate", async () => {
      const ws = await workspace();
      const l = await lead(ws);
      await s.recordEvent(
        event(ws, l.clickid, { event: 'first_deposit', micros: 5_000_000n, tid: 'x1' }),
      );
      const dep = await s.recordEvent(
        event(ws, l.clickid, { event: 'deposit', micros: 5_000_000n, tid: 'x1' }),
      );
      assert.equal(dep.status, 'duplicate');
    });

    test('custom events count once per tid, in their own tid space', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      await s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: 'same' }));
      const wd = await s.recordEvent(
        event(ws, l.clickid, { event: 'withdrawal', micros: -10_000_000n, tid: 'same' }),
      );
      assert.equal(wd.status, 'recorded');
      const again = await s.recordEvent(
        event(ws, l.clickid, { event: 'withdrawal', micros: -10_000_000n, tid: 'same' }),
      );
      assert.equal(again.status, 'duplicate');
      const detail = await s.getLead(ws, l.clickid);
      assert.equal(detail?.totals[0]?.withdrawalMicros, 10_000_000n);
    });

    test('without a tid, the fingerprint window decides', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      const base = { event: 'deposit', micros: 7_000_000n };
      const a = await s.recordEvent(event(ws, l.clickid, { ...base, at: T0 }));
      const b = await s.recordEvent(event(ws, l.clickid, { ...base, at: T0 + WINDOW - 1 }));
      const other = await s.recordEvent(
        event(ws, l.clickid, { ...base, micros: 8_000_000n, at: T0 + 10 }),
      );
      const eur = await s.recordEvent(
        event(ws, l.clickid, { ...base, currency: 'EUR', at: T0 + 10 }),
      );
      const c = await s.recordEvent(event(ws, l.clickid, { ...base, at: T0 + WINDOW }));
      assert.deepEqual(
        [a.status, b.status, other.status, eur.status, c.status],
        ['recorded', 'duplicate', 'recorded', 'recorded', 'recorded'],
      );
      assert.ok(a.status !== 'unmatched' && b.status !== 'unmatched');
      assert.equal(b.conversionId, a.conversionId);
    });

    test('unmatched: unknown clickid, another workspace, campaign scope', async () => {
      const ws = await workspace();
      const other = await workspace();
      const ca = await campaign(ws);
      const cb = await campaign(ws);
      const l = await lead(ws, cb.id);
      assert.deepEqual(await s.recordEvent(event(ws, 'nosuchclick1', { event: 'registration' })), {
        status: 'unmatched',
        reason: 'unknown_clickid',
      });
      assert.equal(
        (await s.recordEvent(event(other, l.clickid, { event: 'registration' }))).status,
        'unmatched',
      );
      const scoped = await s.recordEvent(
        event(ws, l.clickid, { event: 'registration', scopeCampaignId: ca.id }),
      );
      assert.deepEqual(scoped, { status: 'unmatched', reason: 'campaign_mismatch' });
      assert.equal((await s.getLead(ws, l.clickid))?.events.length, 0);
      const inScope = await s.recordEvent(
        event(ws, l.clickid, { event: 'registration', scopeCampaignId: cb.id }),
      );
      assert.equal(inScope.status, 'recorded');
    });

    test('a postback matches exactly the leads that committed, after a group that rolled back', async () => {
      const ws = await workspace();
      const c = await campaign(ws);
      // Each call draws the next clickid; a click that is rolled back and run
      // again draws a second one, and only that one may ever be matched.
      const first = `grp0x${randomAlphanumeric(6)}`;
      const drawn: string[] = [];
      const draw = () => {
        const next = drawn.length === 0 ? first : `grp${drawn.length}x${randomAlphanumeric(6)}`;
        drawn.push(next);
        return next;
      };
      const clicked = adClick(c, { newClickid: draw });
      // In the same group: a postback for the first clickid, which sees the
      // click's uncommitted lead, and a write that throws (a log row naming no
      // postback).
      const early = s.recordEvent(event(ws, first, { event: 'registration' }));
      const failing = s.appendPostbackLog(unwritableLog(ws), {
        httpStatus: 200,
        status: 'recorded',
        error: null,
        event: null,
        clickid: null,
        conversionId: null,
      });
      const [kept, earlyOutcome, lost] = await Promise.allSettled([clicked, early, failing]);
      assert.equal(kept.status, 'fulfilled');
      assert.equal(lost.status, 'rejected');
      assert.equal(earlyOutcome.status, 'fulfilled');
      const firstKept = (await s.getLead(ws, first)) !== null;
      const earlyStatus = earlyOutcome.status === 'fulfilled' ? earlyOutcome.value.status : '';
      const earlyCounted: boolean = earlyStatus === 'recorded';
      // Counted only against a lead that was kept. An engine that writes
      // clicks apart from the group (PostgreSQL) may also answer before the
      // click commits: unmatched, as a postback that outruns its click is.
      assert.ok(earlyStatus === 'unmatched' || (earlyCounted && firstKept), earlyStatus);
      // The embedded engine commits the click in the same group: the postback sees it.
      if (s.engine === 'sqlite') assert.equal(earlyCounted, firstKept);
      for (const clickid of drawn) {
        const exists = (await s.getLead(ws, clickid)) !== null;
        const counted = clickid === first && earlyCounted;
        const outcome = await s.recordEvent(event(ws, clickid, { event: 'registration' }));
        assert.equal(
          outcome.status,
          exists ? (counted ? 'duplicate' : 'recorded') : 'unmatched',
          clickid,
        );
        // Asked twice: the second answer may come from a cache, and must agree.
        const again = await s.recordEvent(event(ws, clickid, { event: 'registration' }));
        assert.equal(again.status, exists ? 'duplicate' : 'unmatched', clickid);
      }
      const lead = kept.status === 'fulfilled' ? kept.value : assert.fail();
      assert.equal(lead.clickid, drawn[drawn.length - 1]);
    });

    test('statistics count exactly the writes that committed, after a group that rolled back', async () => {
      const ws = await workspace();
      const c = await campaign(ws);
      const [a, b] = [await lead(ws, c.id), await lead(ws, c.id)];
      const click = () => adClick(c, { at: T0 + 60_000 });
      const deposit = (clickid: string, micros: bigint, tid: string) =>
        s.recordEvent({
          ...event(ws, clickid, { event: 'deposit', micros, tid }),
          at: T0 + 60_000,
        });
      // One group: two clicks, two deposits, and a write that throws. The
      // group runs again write by write; only the kept writes may be counted.
      const outcomes = await Promise.allSettled([
        click(),
        deposit(a.clickid, 10_500_000n, 't1'),
        s.recordEvent({
          ...event(ws, b.clickid, { event: 'deposit', micros: 7_000_000n, tid: 't2' }),
          log: unwritableLog(ws),
        }),
        click(),
        deposit(b.clickid, 2_000_000n, 't3'),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      );
      // And a group in which nothing fails.
      await Promise.all([click(), deposit(a.clickid, 1_000_000n, 't4')]);
      const { rows } = await statsByCampaign(ws);
      assert.deepEqual(
        rows.map((r) => [r.key, r.clicks, r.leads, r.deposits, r.depositMicros]),
        [[c.id, 3, 5, 3, 13_500_000n]],
      );
    });

    test('fields are written to the lead, last value wins', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      await s.recordEvent(
        event(ws, l.clickid, { event: 'registration', fields: { user_id: '1', geo: 'RU' } }),
      );
      await s.recordEvent(
        event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: 't', fields: { user_id: '2' } }),
      );
      assert.deepEqual((await s.getLead(ws, l.clickid))?.fields, { geo: 'RU', user_id: '2' });
    });

    test('postbacks of one lead counted at once: outcomes, fields and conversion order agree on one order', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      const other = await lead(ws);
      await s.recordEvent(event(ws, l.clickid, { event: 'first_deposit', micros: 1n, tid: 'f' }));
      // A first deposit that becomes a deposit, and a deposit of the same money.
      const [first, second, third] = await Promise.all([
        s.recordEvent(
          event(ws, l.clickid, {
            event: 'first_deposit',
            micros: 1n,
            tid: 'x',
            fields: { k: 'A' },
          }),
        ),
        s.recordEvent(
          event(ws, l.clickid, { event: 'deposit', micros: 2n, tid: 'x', fields: { k: 'B' } }),
        ),
        s.recordEvent(event(ws, other.clickid, { event: 'deposit', micros: 1n, tid: 'y' })),
      ]);
      assert.deepEqual(
        [first, second, third].map((o) => o?.status),
        ['recorded', 'duplicate', 'recorded'],
      );
      assert.equal(first?.status === 'recorded' && first.event, 'deposit');
      // Run one by one in that order, the deposit's field is written last.
      assert.deepEqual((await s.getLead(ws, l.clickid))?.fields, { k: 'B' });
      assert.deepEqual(
        (await s.getLead(ws, l.clickid))?.events.map((e) => `${e.event} ${e.micros}`),
        ['first_deposit 1', 'deposit 1'],
      );
    });

    test('the postback log: written with the outcome, filtered, searched, paginated', async () => {
      const ws = await workspace();
      const p = await postback(ws);
      const l = await lead(ws);
      const req = (n: number) => ({
        postbackId: p.id,
        workspaceId: ws,
        at: T0 + n,
        method: 'GET',
        url: `/api/postbacks/${p.token}/registration?clickid=${l.clickid}&n=${n}`,
        ip: '1.1.1.1',
        userAgent: 'net',
        body: null,
      });
      for (let n = 0; n < 3; n++) {
        await s.recordEvent({
          ...event(ws, l.clickid, { event: 'registration' }),
          postbackId: p.id,
          log: req(n),
        });
      }
      await s.appendPostbackLog(req(9), {
        httpStatus: 400,
        status: 'rejected',
        error: 'invalid_amount: amount "abc" is not a decimal number',
        event: 'deposit',
        clickid: null,
        conversionId: null,
      });
      const all = await s.listPostbackLogs(ws, { limit: 10 });
      assert.deepEqual(
        all.items.map((i) => i.status),
        ['rejected', 'duplicate', 'duplicate', 'recorded'],
      );
      assert.equal(all.items[3]?.conversionId, all.items[2]?.conversionId);
      assert.equal(
        (await s.listPostbackLogs(ws, { limit: 10, status: 'duplicate' })).items.length,
        2,
      );
      assert.equal(
        (await s.listPostbackLogs(ws, { limit: 10, q: l.clickid })).items.length,
        4,
        'the rejected row carries it in its URL',
      );
      assert.equal((await s.listPostbackLogs(ws, { limit: 10, q: 'abc' })).items.length, 1);
      const page1 = await s.listPostbackLogs(ws, { limit: 3 });
      assert.ok(page1.nextCursor);
      const page2 = await s.listPostbackLogs(ws, { limit: 3, cursor: page1.nextCursor ?? '' });
      assert.equal(page2.items.length, 1);
      assert.equal(page2.nextCursor, null);
      assert.equal((await s.listPostbackLogs(await workspace(), { limit: 10 })).items.length, 0);
    });

    test("the postback log: each row carries its conversion's amount and currency, exactly", async () => {
      const ws = await workspace();
      const p = await postback(ws);
      const l = await lead(ws);
      let n = 0;
      const req = () => ({
        postbackId: p.id,
        workspaceId: ws,
        at: T0 + n++,
        method: 'GET',
        url: `/api/postbacks/${p.token}/deposit?n=${n}`,
        ip: null,
        userAgent: null,
        body: null,
      });
      const logged = (e: Partial<RecordEvent> & { event: string }, clickid = l.clickid) =>
        s.recordEvent({ ...event(ws, clickid, e), postbackId: p.id, log: req() });
      // The largest amount there is: 10^18 - 1 micro-units, past a double's exact integers.
      const big = await logged({ event: 'deposit', micros: 123_456_789_012_123_456n, tid: 't1' });
      assert.equal(big.status, 'recorded');
      // The network resends t1 with another amount: the row shows what was counted.
      const again = await logged({ event: 'deposit', micros: 5_000_000n, tid: 't1' });
      assert.equal(again.status, 'duplicate');
      await logged({ event: 'registration' });
      await logged({ event: 'deposit', micros: 150_000_000n, currency: 'EUR', tid: 't2' });
      await logged({ event: 'withdrawal', micros: -10_500_000n, tid: 't3' });
      const unmatched = await logged({ event: 'deposit', micros: 7_000_000n, tid: 't4' }, 'nope');
      assert.equal(unmatched.status, 'unmatched');
      await s.appendPostbackLog(req(), {
        httpStatus: 400,
        status: 'rejected',
        error: 'invalid_amount: amount "abc" is not a decimal number',
        event: 'deposit',
        clickid: l.clickid,
        conversionId: null,
      });
      // A conversion of another workspace is never shown, whatever a row names.
      const other = await workspace();
      const foreign = await s.recordEvent(
        event(other, (await lead(other)).clickid, {
          event: 'deposit',
          micros: 1_000_000n,
          tid: 'f',
        }),
      );
      assert.equal(foreign.status, 'recorded');
      await s.appendPostbackLog(req(), {
        httpStatus: 200,
        status: 'recorded',
        error: null,
        event: 'deposit',
        clickid: l.clickid,
        conversionId: foreign.status === 'recorded' ? foreign.conversionId : null,
      });

      const expected = [
        ['recorded', null, null],
        ['rejected', null, null],
        ['unmatched', null, null],
        ['recorded', -10_500_000n, 'USD'],
        ['recorded', 150_000_000n, 'EUR'],
        ['recorded', null, null],
        ['duplicate', 123_456_789_012_123_456n, 'USD'],
        ['recorded', 123_456_789_012_123_456n, 'USD'],
      ];
      const all = await s.listPostbackLogs(ws, { limit: 10 });
      assert.deepEqual(
        all.items.map((i) => [i.status, i.micros, i.currency]),
        expected,
      );
      assert.equal(all.items[6]?.conversionId, all.items[7]?.conversionId);
      // The same on pages, filtered and searched.
      const pages = [];
      let cursor: string | undefined;
      do {
        const page = await s.listPostbackLogs(ws, { limit: 3, cursor });
        pages.push(...page.items.map((i) => [i.status, i.micros, i.currency]));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(pages, expected);
      assert.deepEqual(
        (await s.listPostbackLogs(ws, { limit: 10, status: 'duplicate' })).items.map((i) => [
          i.micros,
          i.currency,
        ]),
        [[123_456_789_012_123_456n, 'USD']],
      );
      assert.deepEqual(
        (await s.listPostbackLogs(ws, { limit: 10, q: 'n=4' })).items.map((i) => [
          i.micros,
          i.currency,
        ]),
        [[150_000_000n, 'EUR']],
      );
    });

    test('lead list: newest first, search, cursor, summary columns', async () => {
      const ws = await workspace();
      const leads = [];
      for (let i = 0; i < 5; i++) leads.push(await lead(ws));
      const target = leads[1];
      assert.ok(target);
      await s.recordEvent(event(ws, target.clickid, { event: 'registration' }));
      await s.recordEvent(
        event(ws, target.clickid, { event: 'first_deposit', micros: 100_000_000n, tid: 'f' }),
      );
      await s.recordEvent(
        event(ws, target.clickid, { event: 'deposit', micros: 1_000_000n, tid: 'd' }),
      );
      const page = await s.listLeads(ws, { limit: 3 });
      assert.equal(page.items.length, 3);
      assert.equal(page.items[0]?.clickid, leads[4]?.clickid);
      const rest = await s.listLeads(ws, { limit: 3, cursor: page.nextCursor ?? '' });
      assert.equal(rest.items.length, 2);
      // A cursor this store did not give out is refused, on every list.
      const refused = (error: unknown) =>
        error instanceof StoreRefusal && error.code === 'invalid_cursor';
      for (const cursor of ['garbage', 'MTIz!', Buffer.from('-1').toString('base64url')]) {
        await assert.rejects(s.listLeads(ws, { limit: 3, cursor }), refused, cursor);
        await assert.rejects(s.listPostbackLogs(ws, { limit: 3, cursor }), refused, cursor);
        await assert.rejects(s.listDeliveries(ws, { limit: 3, cursor }), refused, cursor);
      }
      const found = await s.listLeads(ws, { limit: 10, q: target.clickid });
      assert.equal(found.items.length, 1);
      assert.equal(found.items[0]?.registered, true);
      assert.equal(found.items[0]?.firstDepositMicros, 100_000_000n);
      assert.equal(found.items[0]?.depositCount, 2);
    });

    test('lead search: a clickid that starts with q (case-sensitive), newest first, in its workspace only', async () => {
      const ws = await workspace();
      const other = await workspace();
      // Clickids are unique across workspaces: this run's own prefix.
      const base = `Qp${randomAlphanumeric(6)}x`;
      const withClickid = (w: string, clickid: string, username: string | null = null) =>
        s.createLead(w, {
          campaignId: null,
          externalId: null,
          username,
          params: {},
          at: T0,
          newClickid: () => clickid,
        });
      const exact = await withClickid(ws, `${base}A`);
      const aa = await withClickid(ws, `${base}AA1`);
      const ab = await withClickid(ws, `${base}AB2`);
      const b = await withClickid(ws, `${base}B3`);
      await withClickid(ws, `${base.slice(0, -1)}XA5`); // another case: not a match
      await withClickid(other, `${base}A7`); // another workspace's
      const fan = await withClickid(ws, `fan${randomAlphanumeric(9)}`, `fan_${base}AB_bot`);
      const found = async (q: string, limit = 50, cursor?: string) => {
        const page = await s.listLeads(ws, { q, limit, ...(cursor ? { cursor } : {}) });
        return { clickids: page.items.map((l) => l.clickid), nextCursor: page.nextCursor };
      };
      const clickids = (...leads: Lead[]) => leads.map((l) => l.clickid);

      assert.deepEqual((await found(base)).clickids, clickids(fan, b, ab, aa, exact));
      // The exact clickid is a prefix of itself; the username still matches in part.
      assert.deepEqual((await found(`${base}A`)).clickids, clickids(fan, ab, aa, exact));
      assert.deepEqual((await found(`${base}AA`)).clickids, clickids(aa));
      assert.deepEqual((await found(b.clickid)).clickids, clickids(b));
      assert.deepEqual((await found(`${base}C`)).clickids, []);
      assert.deepEqual((await found(`${base}b`)).clickids, [], 'case-sensitive');
      // LIKE's wildcards are plain characters here.
      assert.deepEqual((await found(`${base}%`)).clickids, []);
      assert.deepEqual((await found(`${base}_`)).clickids, []);
      // Pages of a prefix search go on where the last stopped.
      const first = await found(`${base}A`, 2);
      assert.deepEqual(first.clickids, clickids(fan, ab));
      assert.ok(first.nextCursor);
      const rest = await found(`${base}A`, 2, first.nextCursor);
      assert.deepEqual(rest.clickids, clickids(aa, exact));
      assert.equal(rest.nextCursor, null);
      assert.deepEqual(
        (await s.listLeads(other, { q: base, limit: 50 })).items.map((l) => l.clickid),
        [`${base}A7`],
      );
    });

    test('stats: by day in a time zone, by campaign, buyer, postback, network and click parameter', async () => {
      const ws = await workspace();
      const c1 = await campaign(ws, 'One', 'ann');
      const c2 = await campaign(ws, 'Two', 'bob');
      const p = await postback(ws);
      // 22:30 UTC on the 20th is already the 21st in Moscow (UTC+3).
      const late = Date.parse('2026-11-20T22:30:00Z');
      const l1 = await adClick(c1, { params: { utm_source: 'fb' }, at: late });
      const l2 = await adClick(c2, { params: { utm_source: 'tg' } });
      await s.recordEvent({
        ...event(ws, l1.clickid, { event: 'registration', at: late }),
        postbackId: p.id,
      });
      await s.recordEvent({
        ...event(ws, l1.clickid, {
          event: 'first_deposit',
          micros: 100_100_000n,
          tid: 'a',
          at: late,
        }),
        postbackId: p.id,
      });
      await s.recordEvent(
        event(ws, l2.clickid, { event: 'deposit', micros: 200_000n, tid: 'b', at: T0 }),
      );
      await s.recordEvent(
        event(ws, l2.clickid, { event: 'deposit', micros: 300_000n, tid: 'c', at: T0 }),
      );
      await s.recordEvent(
        event(ws, l2.clickid, {
          event: 'deposit',
          micros: 9_000_000n,
          tid: 'e',
          currency: 'EUR',
          at: T0,
        }),
      );
      await s.recordEvent(
        event(ws, l2.clickid, { event: 'withdrawal', micros: -1_000_000n, tid: 'w', at: T0 }),
      );
      const tz = 'Europe/Moscow';
      const fromMs = startOfDay('2026-11-20', tz);
      const toMs = startOfDay('2026-11-22', tz);
      const q = { fromMs, toMs, buckets: [], currency: 'USD' };
      const byDay = await s.stats(ws, {
        ...q,
        groupBy: 'day',
        buckets: dayBuckets('2026-11-20', '2026-11-21', tz),
      });
      const day = (k: string) => byDay.rows.find((r) => r.key === k);
      assert.equal(day('2026-11-20')?.clicks, 1);
      assert.equal(day('2026-11-21')?.clicks, 1);
      assert.equal(day('2026-11-21')?.firstDepositMicros, 100_100_000n);
      assert.equal(day('2026-11-20')?.deposits, 3, 'counts every currency');
      assert.equal(day('2026-11-20')?.depositMicros, 500_000n, 'sums only USD: 0.2 + 0.3 exactly');
      assert.equal(day('2026-11-20')?.withdrawalMicros, 1_000_000n);
      assert.deepEqual(byDay.currencies.sort(), ['EUR', 'USD']);

      const byCampaign = await s.stats(ws, { ...q, groupBy: 'campaign' });
      const one = byCampaign.rows.find((r) => r.key === c1.id);
      assert.equal(one?.label, 'One');
      assert.deepEqual(
        [one?.clicks, one?.leads, one?.registrations, one?.firstDeposits],
        [1, 1, 1, 1],
      );
      const byBuyer = await s.stats(ws, { ...q, groupBy: 'buyer' });
      assert.deepEqual(byBuyer.rows.map((r) => r.key).sort(), ['ann', 'bob']);
      const byPostback = await s.stats(ws, { ...q, groupBy: 'postback' });
      assert.equal(byPostback.rows.find((r) => r.key === p.id)?.registrations, 1);
      const byNetwork = await s.stats(ws, { ...q, groupBy: 'network' });
      assert.equal(byNetwork.rows.find((r) => r.key === '1win')?.firstDeposits, 1);
      assert.equal(byNetwork.rows.find((r) => r.key === 'manual')?.deposits, 3);
      const byParam = await s.stats(ws, { ...q, groupBy: 'param.utm_source' });
      assert.equal(byParam.rows.find((r) => r.key === 'fb')?.clicks, 1);
      assert.equal(byParam.rows.find((r) => r.key === 'tg')?.deposits, 3);
      const filtered = await s.stats(ws, { ...q, groupBy: 'campaign', campaignId: c2.id });
      assert.deepEqual(
        filtered.rows.map((r) => r.key),
        [c2.id],
      );
      const eur = await s.stats(ws, { ...q, groupBy: 'campaign', currency: 'EUR' });
      assert.equal(eur.rows.find((r) => r.key === c2.id)?.depositMicros, 9_000_000n);
    });

    test('stats without a currency sum the one the workspace uses most, not USD', async () => {
      const ws = await workspace();
      const l = await lead(ws);
      await s.recordEvent(
        event(ws, l.clickid, {
          event: 'first_deposit',
          micros: 70_000_000n,
          tid: 'a',
          currency: 'EUR',
        }),
      );
      await s.recordEvent(
        event(ws, l.clickid, { event: 'deposit', micros: 5_000_000n, tid: 'b', currency: 'EUR' }),
      );
      await s.recordEvent(
        event(ws, l.clickid, { event: 'deposit', micros: 1_000_000n, tid: 'c', currency: 'USD' }),
      );
      const q = { fromMs: T0 - 1, toMs: T0 + 1, buckets: [], groupBy: 'campaign' as const };
      const chosen = await s.stats(ws, { ...q, currency: null });
      assert.equal(chosen.currency, 'EUR');
      assert.equal(chosen.rows[0]?.firstDepositMicros, 70_000_000n);
      assert.equal(chosen.rows[0]?.depositMicros, 5_000_000n);
      const usd = await s.stats(ws, { ...q, currency: 'USD' });
      assert.equal(usd.currency, 'USD');
      assert.equal(usd.rows[0]?.depositMicros, 1_000_000n);
      const empty = await s.stats(await workspace(), { ...q, currency: null });
      assert.equal(empty.currency, 'USD');
    });

    test('stats: what reading every row gives, for random data, zones, DST days and ranges off the quarter hours', async () => {
      // The engine answers whole 15-minute buckets from its rollups and the
      // rest from raw rows; the model (stats-model.ts) reads every row.
      await fc.assert(
        fc.asyncProperty(scenario, async ({ data, specs }) => {
          const recorded = await record(s, data);
          for (const spec of specs) {
            const q = toQuery(spec, recorded, data.anchor);
            const got = await s.stats(recorded.workspaceId, q);
            assert.deepEqual(
              { ...got, rows: sortRows(got.rows) },
              expectedStats(recorded, q),
              JSON.stringify(q),
            );
          }
        }),
        // Shrinking a failure re-records its data each step: give it two minutes.
        { seed: SEED, numRuns: runs(25), plugins: [fc.interruptAfterTimeLimit(120_000)] },
      );
    });

    test('stats: local days with :30 and :45 offsets and a DST switch, edges to the millisecond', async () => {
      const anchor = Date.UTC(2026, 2, 29, 1);
      // Midnights in Kolkata (18:30Z), Kathmandu (18:15Z) and Berlin on both
      // sides of its switch (23:00Z, then 22:00Z), each a millisecond early,
      // on time and a millisecond late.
      const edges = [
        Date.UTC(2026, 2, 27, 18, 30),
        Date.UTC(2026, 2, 28, 18, 15),
        Date.UTC(2026, 2, 28, 23),
        Date.UTC(2026, 2, 29, 22),
      ];
      const recorded = await record(s, {
        anchor,
        clicks: [],
        leads: [{ campaign: 0, at: 0, source: 'fb' }],
        conversions: edges.flatMap((edge) =>
          [-1, 0, 1].map((d) => ({
            lead: 0,
            event: 'deposit',
            amount: 1_000_000n + BigInt(d),
            currency: 'USD',
            postback: null,
            at: edge + d - anchor,
            repeat: false,
          })),
        ),
      });
      assert.equal(recorded.conversions.length, 12);
      for (const tz of ['Asia/Kolkata', 'Asia/Kathmandu', 'Europe/Berlin']) {
        const buckets = dayBuckets('2026-03-27', '2026-03-30', tz);
        const q = {
          groupBy: 'day' as const,
          fromMs: startOfDay('2026-03-27', tz),
          toMs: startOfDay('2026-03-31', tz),
          buckets,
          currency: null,
        };
        const got = await s.stats(recorded.workspaceId, q);
        assert.deepEqual({ ...got, rows: sortRows(got.rows) }, expectedStats(recorded, q), tz);
        assert.equal(
          got.rows.reduce((n, r) => n + r.deposits, 0),
          12,
          `${tz}: every deposit in exactly one day`,
        );
      }
    });

    test('postback configurations: two changes made at once both keep their fields', async () => {
      const ws = await workspace();
      const p = await postback(ws);
      await Promise.all([
        s.updatePostback(ws, p.id, { name: 'renamed' }),
        s.updatePostback(ws, p.id, { enabled: false }),
        s.updatePostback(ws, p.id, { currency: 'EUR' }),
      ]);
      const now = await s.getPostback(ws, p.id);
      assert.deepEqual(
        { name: now?.name, enabled: now?.enabled, currency: now?.currency },
        { name: 'renamed', enabled: false, currency: 'EUR' },
      );
    });

    test('postback configurations: token lookup sees deleted ones, lists do not', async () => {
      const ws = await workspace();
      const p = await postback(ws);
      assert.equal((await s.updatePostback(ws, p.id, { enabled: false }))?.enabled, false);
      assert.equal(await s.updatePostback(await workspace(), p.id, { enabled: true }), null);
      assert.equal(await s.deletePostback(ws, p.id, T0), true);
      assert.equal((await s.findPostbackByToken(p.token))?.deleted, true);
      assert.equal(await s.getPostback(ws, p.id), null);
      assert.deepEqual(await s.listPostbacks(ws), []);
    });

    // --- forwarding -------------------------------------------------------
    //
    // The outbox is one table for every workspace and claims take any due row,
    // so each test starts by taking (and closing) whatever earlier tests left.

    describe('forwarding', () => {
      const FAR = T0 + 10 * 365 * 86_400_000;
      const LEASE = 60_000;
      let notified = 0;

      before(() => {
        s.onOutbox(() => {
          notified++;
        });
      });
      after(() => s.onOutbox(() => {}));

      function destination(
        name: string,
        settings: DestinationSettings,
        patch: Partial<DestinationInput> = {},
      ): DestinationInput {
        return {
          name,
          enabled: true,
          settings,
          secret: null,
          routes: routeEvents(settings),
          ...patch,
        };
      }

      /** updateDestination from `revision`, which no other change has passed. */
      async function change(
        ws: string,
        destinationId: string,
        input: DestinationInput,
        at: number,
        revision: number,
      ) {
        const changed = await s.updateDestination(ws, destinationId, input, at, revision);
        assert.notEqual(changed, 'stale');
        return changed === 'stale' ? assert.fail() : changed;
      }

      const pixel = (mapping: Record<string, string>): DestinationSettings => ({
        kind: 'facebook',
        facebook: { pixelId: '1234567890', testEventCode: null, mapping, actionSource: 'website' },
      });
      const hook = (events: string[] = []): DestinationSettings => ({
        kind: 'webhook',
        webhook: { url: 'https://tracker.example/pb?c={clickid}', method: 'GET', events },
      });
      const action = (event: string): DestinationSettings => ({
        kind: 'auto_action',
        autoAction: { event, url: 'https://bot.example/hook', payload: { text: 'hi' } },
      });

      async function click(c: Campaign, params: Record<string, string> = {}, at = T0) {
        return s.recordClick({
          campaign: c,
          params,
          ip: '203.0.113.9',
          userAgent: 'UA/1',
          referrer: null,
          at,
          newClickid,
        });
      }

      /** A row as `<destination> <subject> <event>#<occurrence>`, to compare sets. */
      const label = (j: DeliveryJob) =>
        `${j.destination.name} ${j.subject} ${j.event}#${j.occurrence}`;
      const labels = (jobs: DeliveryJob[]) => jobs.map(label).sort();

      function claim(now: number, patch: Partial<Parameters<Store['claimDeliveries']>[0]> = {}) {
        return s.claimDeliveries({
          now,
          leaseUntil: now + LEASE,
          owner: 'here:1:worker',
          limit: 1_000,
          perDestination: 1_000,
          perBatchedDestination: 1_000,
          busy: [],
          ...patch,
        });
      }

      /**
       * Claims every due row of every workspace and closes it; answers the ones
       * of `ws` queued since the last call. Leaves an empty outbox behind.
       */
      async function take(ws?: string): Promise<DeliveryJob[]> {
        const mine: DeliveryJob[] = [];
        for (;;) {
          const jobs = await claim(FAR, { leaseUntil: FAR + 1, limit: 500 });
          if (jobs.length === 0) break;
          for (const j of jobs) {
            await s.finishDelivery(j.outboxId, j.lease, null, { state: 'done', status: 'skipped' });
            if (j.workspaceId === ws) mine.push(j);
          }
        }
        return mine;
      }

      function attempt(
        status: DeliveryAttempt['status'],
        at: number,
        patch: Partial<DeliveryAttempt> = {},
      ): DeliveryAttempt {
        return {
          at,
          durationMs: 15,
          destinationEvent: null,
          eventId: 'cb-cv-1',
          httpStatus: status === 'delivered' ? 200 : 500,
          status,
          error: status === 'delivered' ? null : 'HTTP 500',
          request: 'POST https://tracker.example/pb',
          response: status === 'delivered' ? 'ok' : 'busy',
          ...patch,
        };
      }

      test('destinations: created, listed, read, updated and deleted within their workspace', async () => {
        const ws = await workspace();
        const other = await workspace();
        const c = await campaign(ws);
        const d = await s.createDestination(
          ws,
          c.id,
          destination('Pixel', pixel({ registration: 'Lead' }), { secret: 'v1:sealed' }),
          T0,
        );
        assert.equal(d.campaignId, c.id);
        assert.equal(d.workspaceId, ws);
        assert.equal(d.enabled, true);
        assert.equal(d.deleted, false);
        assert.equal(d.secret, 'v1:sealed');
        assert.deepEqual(d.settings, pixel({ registration: 'Lead' }));
        assert.deepEqual(await s.getDestination(ws, d.id), d);
        assert.deepEqual(
          (await s.listDestinations(ws, c.id)).map((x) => x.id),
          [d.id],
        );
        assert.equal(await s.getDestination(other, d.id), null);
        assert.deepEqual(await s.listDestinations(other, c.id), []);
        assert.equal(
          await s.updateDestination(other, d.id, destination('Hijack', hook()), T0 + 1, 0),
          null,
        );
        assert.equal(await s.deleteDestination(other, d.id, T0 + 1), false);

        const updated = await change(
          ws,
          d.id,
          destination('Pixel 2', pixel({ deposit: 'Purchase' }), { secret: null }),
          T0 + 5,
          d.revision,
        );
        assert.equal(updated?.name, 'Pixel 2');
        assert.equal(updated?.secret, null);
        assert.equal(updated?.updatedAt, T0 + 5);
        assert.equal(updated?.createdAt, T0);
        assert.equal(await s.deleteDestination(ws, d.id, T0 + 6), true);
        assert.equal(await s.deleteDestination(ws, d.id, T0 + 7), false);
        assert.equal(await s.getDestination(ws, d.id), null);
        assert.deepEqual(await s.listDestinations(ws, c.id), []);
        assert.equal(await s.getDestination(ws, 'nope'), null);
        // An id is its exact decimal text: nothing that merely parses to it.
        const kept = await s.createDestination(ws, c.id, destination('Kept', hook()), T0 + 8);
        assert.equal((await s.getDestination(ws, kept.id))?.name, 'Kept');
        for (const text of ['', '0', `0${kept.id}`, ` ${kept.id}`, `${kept.id} `, `+${kept.id}`]) {
          assert.equal(await s.getDestination(ws, text), null, JSON.stringify(text));
        }
        for (const text of [
          `-${kept.id}`,
          `${kept.id}.0`,
          `${kept.id}e0`,
          `${kept.id}x`,
          '1'.repeat(20),
        ]) {
          assert.equal(await s.getDestination(ws, text), null, JSON.stringify(text));
        }
      });

      test('destinations: a change made against a revision another change has passed is refused', async () => {
        const ws = await workspace();
        const c = await campaign(ws);
        const d = await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        assert.equal(d.revision, 0);
        const answers = await Promise.all(
          ['first', 'second'].map((name, i) =>
            s.updateDestination(ws, d.id, destination(name, hook()), T0 + 1 + i, d.revision),
          ),
        );
        // Either may win (PostgreSQL runs them on two connections); one only.
        const won = answers.filter((a) => a !== 'stale');
        assert.equal(won.length, 1);
        assert.equal(answers.filter((a) => a === 'stale').length, 1);
        const winner = won[0];
        assert.ok(winner);
        assert.equal(winner.revision, 1);
        assert.equal((await s.getDestination(ws, d.id))?.name, winner.name);
        const third = await s.updateDestination(ws, d.id, destination('third', hook()), T0 + 3, 1);
        assert.equal(third !== 'stale' && third?.name, 'third');
        assert.equal(third !== 'stale' && third?.revision, 2);
        // Another workspace's, or a deleted one, is not found rather than stale.
        assert.equal(
          await s.updateDestination(await workspace(), d.id, destination('x', hook()), T0 + 5, 2),
          null,
        );
        assert.equal(await s.deleteDestination(ws, d.id, T0 + 6), true);
        assert.equal(
          await s.updateDestination(ws, d.id, destination('x', hook()), T0 + 7, 2),
          null,
        );
      });

      test('a recorded conversion is queued once per routed destination, with what a forwarder needs', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const fb = await s.createDestination(
          ws,
          c.id,
          destination(
            'pixel',
            pixel({
              registration: 'CompleteRegistration',
              first_deposit: 'Purchase',
              deposit: 'Purchase',
              'deposit#2': 'Subscribe',
            }),
            { secret: 'v1:token' },
          ),
          T0,
        );
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        await s.createDestination(ws, c.id, destination('bot', action('deposit#2')), T0);
        await s.createDestination(ws, c.id, destination('regs', hook(['registration'])), T0);
        const l = await click(c, { fbclid: 'IwAR_Case', utm_source: 'fb' });
        assert.deepEqual(labels(await take(ws)), [], "no destination listens on 'click'");

        const reg = await s.recordEvent(
          event(ws, l.clickid, { event: 'registration', fields: { geo: 'RU' }, at: T0 + 10 }),
        );
        assert.equal(reg.status, 'recorded');
        // Read before any claim: the rows were committed with the conversion.
        assert.deepEqual(await s.outboxCounts(ws), { pending: 3 });
        const regJobs = await take(ws);
        assert.deepEqual(labels(regJobs), [
          'hook conversion registration#1',
          'pixel conversion registration#1',
          'regs conversion registration#1',
        ]);
        const job = regJobs.find((j) => j.destination.id === fb.id);
        assert.ok(job && reg.status === 'recorded');
        assert.equal(job.subjectId, reg.conversionId);
        assert.equal(job.workspaceId, ws);
        assert.equal(job.campaignId, c.id);
        assert.equal(job.campaignSlug, c.slug);
        assert.equal(job.eventAt, T0 + 10);
        assert.equal(job.queuedAt, T0 + 10);
        assert.equal(job.attempts, 0);
        assert.equal(job.budgetAttempts, 0);
        assert.equal(job.destination.secret, 'v1:token');
        assert.deepEqual(job.destination.settings, fb.settings);
        assert.deepEqual(job.conversion, { micros: null, currency: 'USD', tid: null });
        assert.equal(job.lead.clickid, l.clickid);
        assert.deepEqual(job.lead.params, { fbclid: 'IwAR_Case', utm_source: 'fb' });
        assert.deepEqual(job.click, {
          at: T0,
          ip: '203.0.113.9',
          userAgent: 'UA/1',
          referrer: null,
          params: { fbclid: 'IwAR_Case', utm_source: 'fb' },
        });
        assert.deepEqual(job.fields, { geo: 'RU' });

        await s.recordEvent(event(ws, l.clickid, { event: 'registration' }));
        assert.deepEqual(labels(await take(ws)), [], 'a duplicate queues nothing');

        const money = (micros: bigint, tid: string) =>
          s.recordEvent(event(ws, l.clickid, { event: 'first_deposit', micros, tid }));
        await money(123_456_789_012_500_000n, 'a');
        const ftd = await take(ws);
        assert.deepEqual(labels(ftd), [
          'hook conversion first_deposit#1',
          'pixel conversion first_deposit#1',
        ]);
        assert.deepEqual(ftd[0]?.conversion, {
          micros: 123_456_789_012_500_000n,
          currency: 'USD',
          tid: 'a',
        });
        await money(1n, 'b');
        assert.deepEqual(labels(await take(ws)), [
          'hook conversion deposit#1',
          'pixel conversion deposit#1',
        ]);
        await money(2n, 'c');
        assert.deepEqual(
          labels(await take(ws)),
          ['bot conversion deposit#2', 'hook conversion deposit#2', 'pixel conversion deposit#2'],
          "one row for the pixel though both 'deposit' and 'deposit#2' route to it",
        );
        await money(2n, 'c');
        await s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 2n, tid: 'c' }));
        assert.deepEqual(labels(await take(ws)), [], 'duplicates queue nothing');
        await s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 3n, tid: 'd' }));
        assert.deepEqual(labels(await take(ws)), [
          'hook conversion deposit#3',
          'pixel conversion deposit#3',
        ]);
        await s.recordEvent(event(ws, l.clickid, { event: 'withdrawal', micros: -5n, tid: 'w' }));
        await s.recordEvent(event(ws, l.clickid, { event: 'email_confirmation' }));
        assert.deepEqual(labels(await take(ws)), [
          'hook conversion email_confirmation#1',
          'hook conversion withdrawal#1',
        ]);
        assert.deepEqual(await s.outboxCounts(ws), { skipped: 14 });
      });

      test('nothing is queued for a lead without a campaign or a campaign without routes', async () => {
        await take();
        const ws = await workspace();
        const routed = await campaign(ws);
        const quiet = await campaign(ws);
        await s.createDestination(ws, routed.id, destination('hook', hook()), T0);
        await s.createDestination(
          ws,
          routed.id,
          destination('pixel', pixel({ click: 'Lead' })),
          T0,
        );
        const woken = notified;
        const loose = await lead(ws);
        const inQuiet = await click(quiet);
        const bound = await s.bindLead(ws, inQuiet.clickid, {
          externalId: 'chat-q',
          username: null,
        });
        assert.notEqual(bound, 'not_found');
        for (const l of [loose, inQuiet]) {
          assert.equal(
            (await s.recordEvent(event(ws, l.clickid, { event: 'registration' }))).status,
            'recorded',
          );
          await s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: 'x' }));
        }
        await s.createLead(ws, {
          campaignId: null,
          externalId: 'chat-loose',
          username: null,
          params: {},
          at: T0,
          newClickid,
        });
        assert.deepEqual(await s.outboxCounts(ws), {});
        assert.deepEqual(await take(ws), []);
        assert.equal(notified, woken, 'the worker is not woken for nothing');
      });

      test('a conversion whose transaction fails leaves no outbox row', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        // The log row is written after the conversion and its outbox rows, in the
        // same transaction; one it cannot write (no postback) rolls them back.
        await assert.rejects(
          s.recordEvent({
            ...event(ws, l.clickid, { event: 'registration' }),
            log: unwritableLog(ws),
          }),
        );
        assert.equal((await s.getLead(ws, l.clickid))?.events.length, 0);
        assert.deepEqual(await s.outboxCounts(ws), {});
        assert.deepEqual(await take(ws), []);
        // The same event, written properly, is queued.
        await s.recordEvent(event(ws, l.clickid, { event: 'registration' }));
        assert.deepEqual(labels(await take(ws)), ['hook conversion registration#1']);
      });

      test('a write that fails among concurrent ones fails alone', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const leads = await Promise.all([click(c), click(c), click(c)]);
        await take(ws);
        const [a, b, bad] = leads as [Lead, Lead, Lead];
        // Started together, so the embedded engine commits them as one group.
        const outcomes = await Promise.allSettled([
          s.recordEvent(event(ws, a.clickid, { event: 'registration' })),
          s.recordEvent({
            ...event(ws, bad.clickid, { event: 'registration' }),
            log: unwritableLog(ws),
          }),
          s.recordEvent(event(ws, b.clickid, { event: 'registration' })),
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.equal((await s.getLead(ws, a.clickid))?.events.length, 1);
        assert.equal((await s.getLead(ws, b.clickid))?.events.length, 1);
        assert.equal((await s.getLead(ws, bad.clickid))?.events.length, 0);
        assert.equal((await take(ws)).length, 2, 'only the committed writes are queued');
      });

      test('a write that throws while counting, among logged ones: one log row per committed postback', async () => {
        const ws = await workspace();
        const p = await postback(ws);
        const c = await campaign(ws);
        const [a, b, bad] = (await Promise.all([click(c), click(c), click(c)])) as [
          Lead,
          Lead,
          Lead,
        ];
        const logged = (l: Lead, n: number): RecordEvent => ({
          ...event(ws, l.clickid, { event: 'registration' }),
          postbackId: p.id,
          log: {
            postbackId: p.id,
            workspaceId: ws,
            at: T0 + n,
            method: 'GET',
            url: `/api/postbacks/${p.token}/registration?clickid=${l.clickid}`,
            ip: null,
            userAgent: null,
            body: null,
          },
        });
        // Started together, so the embedded engine commits them as one group;
        // an amount no database can bind throws inside the counting, before
        // its own log row, after the first one's.
        const outcomes = await Promise.allSettled([
          s.recordEvent(logged(a, 1)),
          s.recordEvent({ ...logged(bad, 2), micros: {} as unknown as bigint }),
          s.recordEvent(logged(b, 3)),
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        const rows = (await s.listPostbackLogs(ws, { limit: 10 })).items;
        assert.deepEqual(rows.map((r) => r.clickid).sort(), [a.clickid, b.clickid].sort());
      });

      test('postbacks counted at once, each logged: one log row each, with its own outcome', async () => {
        const ws = await workspace();
        const p = await postback(ws);
        const c = await campaign(ws);
        const other = await campaign(ws, 'Other');
        const [a, b, e] = [await click(c), await click(c), await click(other)];
        let n = 0;
        const logged = (clickid: string, e: Partial<RecordEvent> & { event: string }) => {
          n++;
          return {
            ...event(ws, clickid, e),
            postbackId: p.id,
            log: {
              postbackId: p.id,
              workspaceId: ws,
              at: T0 + n,
              method: 'GET',
              url: `/api/postbacks/${p.token}/${e.event}?n=${n}`,
              ip: '10.0.0.1',
              userAgent: 'net',
              body: null,
            },
          };
        };
        // Counted before: a's deposit d0 and registration.
        await s.recordEvent(logged(a.clickid, { event: 'deposit', micros: 1n, tid: 'd0' }));
        await s.recordEvent(logged(a.clickid, { event: 'registration' }));
        const outcomes = await Promise.all(
          [
            logged(a.clickid, { event: 'deposit', micros: 2n, tid: 'd1', note: 'a note' }),
            logged(a.clickid, { event: 'deposit', micros: 1n, tid: 'd0' }),
            logged(b.clickid, { event: 'deposit', micros: 3n, tid: 'b1' }),
            logged(b.clickid, { event: 'deposit', micros: 3n, tid: 'b1' }),
            logged('NoSuchClickid', { event: 'deposit', micros: 1n, tid: 'x1' }),
            {
              ...logged(e.clickid, { event: 'deposit', micros: 1n, tid: 'e1' }),
              scopeCampaignId: c.id,
            },
            logged(a.clickid, { event: 'registration', note: 'again' }),
            logged(b.clickid, { event: 'first_deposit', micros: 4n, tid: 'b2' }),
          ].map((input) => s.recordEvent(input)),
        );
        const expected = outcomes.map((o, i) => ({
          url: `/api/postbacks/${p.token}/${i === 6 ? 'registration' : i === 7 ? 'first_deposit' : 'deposit'}?n=${i + 3}`,
          status: o.status,
          error:
            o.status === 'unmatched' ? o.reason : i === 0 ? 'a note' : i === 6 ? 'again' : null,
          event: o.status === 'unmatched' ? 'deposit' : o.event,
          conversionId: o.status === 'unmatched' ? null : o.conversionId,
          ip: '10.0.0.1',
          userAgent: 'net',
          httpStatus: 200,
        }));
        assert.deepEqual(
          outcomes.map((o) => o.status),
          [
            'recorded',
            'duplicate',
            'recorded',
            'duplicate',
            'unmatched',
            'unmatched',
            'duplicate',
            'recorded',
          ],
        );
        const rows = (await s.listPostbackLogs(ws, { limit: 20 })).items.filter((r) =>
          expected.some((x) => x.url === r.url),
        );
        assert.deepEqual(
          rows
            .map((r) => ({
              url: r.url,
              status: r.status,
              error: r.error,
              event: r.event,
              conversionId: r.conversionId,
              ip: r.ip,
              userAgent: r.userAgent,
              httpStatus: r.httpStatus,
            }))
            .sort((x, y) => (x.url < y.url ? -1 : 1)),
          [...expected].sort((x, y) => (x.url < y.url ? -1 : 1)),
        );
      });

      test("clicks queue 'click', a first chat binding queues 'contact' once; '*' takes neither", async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('all', hook()), T0);
        await s.createDestination(
          ws,
          c.id,
          destination('pixel', pixel({ click: 'Lead', contact: 'Contact' })),
          T0,
        );
        await s.createDestination(ws, c.id, destination('bot', action('contact')), T0);

        const l = await click(c, { fbclid: 'X' }, T0 + 1);
        const clicks = await take(ws);
        assert.deepEqual(labels(clicks), ['pixel click click#1']);
        assert.equal(clicks[0]?.subjectId, l.id);
        assert.equal(clicks[0]?.conversion, null);
        assert.equal(clicks[0]?.eventAt, T0 + 1);

        assert.equal(
          (await s.bindLead(ws, l.clickid, { externalId: null, username: 'bob', at: T0 + 2 })) !==
            'not_found',
          true,
        );
        assert.deepEqual(labels(await take(ws)), [], 'a username alone is no contact');
        await s.bindLead(ws, l.clickid, { externalId: 'chat1', username: null, at: T0 + 3 });
        const contacts = await take(ws);
        assert.deepEqual(labels(contacts), ['bot contact contact#1', 'pixel contact contact#1']);
        assert.equal(contacts[0]?.eventAt, T0 + 3);
        assert.equal(contacts[0]?.lead.externalId, 'chat1');
        await s.bindLead(ws, l.clickid, { externalId: 'chat1', username: 'bob2', at: T0 + 4 });
        assert.equal(
          await s.bindLead(ws, l.clickid, { externalId: 'chat2', username: null, at: T0 + 5 }),
          'bound_elsewhere',
        );
        assert.deepEqual(labels(await take(ws)), [], 'bound once, contacted once');

        // A lead created already bound (the bot saw it first) is a contact at once.
        await s.createLead(ws, {
          campaignId: c.id,
          externalId: 'chat3',
          username: null,
          params: {},
          at: T0 + 6,
          newClickid,
        });
        const direct = await take(ws);
        assert.deepEqual(labels(direct), ['bot contact contact#1', 'pixel contact contact#1']);
        assert.equal(direct[0]?.click, null);
      });

      test('clicks written together each queue one delivery of their own, a redrawn clickid included', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('pixel', pixel({ click: 'Lead' })), T0);
        const taken = (await click(c, { n: 'first' })).clickid;
        assert.equal((await take(ws)).length, 1);
        let draws = 0;
        const leads = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            s.recordClick({
              campaign: c,
              params: { n: String(i) },
              ip: null,
              userAgent: null,
              referrer: null,
              at: T0 + i,
              // The fourth click first draws a clickid that is taken.
              newClickid: () => (i === 3 && draws++ === 0 ? taken : newClickid()),
            }),
          ),
        );
        const jobs = await take(ws);
        assert.deepEqual(labels(jobs), Array(6).fill('pixel click click#1'));
        const byLead = new Map(jobs.map((j) => [j.subjectId, j]));
        for (const [i, l] of leads.entries()) {
          const job = byLead.get(l.id);
          assert.equal(job?.lead.clickid, l.clickid);
          assert.equal(job?.lead.params.n, String(i));
          assert.equal(job?.click?.params.n, String(i));
          assert.equal(job?.eventAt, T0 + i);
        }
      });

      test('disabling a destination removes its routes; enabling, remapping and deleting apply to the next event', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const input = destination('pixel', pixel({ registration: 'Lead' }));
        const d = await s.createDestination(ws, c.id, input, T0);
        await s.createDestination(ws, c.id, destination('hook', hook(['registration'])), T0);
        const next = async () => {
          const l = await click(c);
          await s.recordEvent(event(ws, l.clickid, { event: 'registration' }));
          await s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: 't' }));
          return labels(await take(ws));
        };
        assert.deepEqual(await next(), [
          'hook conversion registration#1',
          'pixel conversion registration#1',
        ]);
        const off = await change(ws, d.id, { ...input, enabled: false }, T0 + 1, d.revision);
        assert.equal(off?.enabled, false);
        assert.deepEqual(await next(), ['hook conversion registration#1']);
        await change(ws, d.id, input, T0 + 2, off.revision);
        assert.deepEqual(await next(), [
          'hook conversion registration#1',
          'pixel conversion registration#1',
        ]);
        await change(
          ws,
          d.id,
          destination('pixel', pixel({ deposit: 'Purchase' })),
          T0 + 3,
          off.revision + 1,
        );
        assert.deepEqual(await next(), [
          'hook conversion registration#1',
          'pixel conversion deposit#1',
        ]);
        await s.deleteDestination(ws, d.id, T0 + 4);
        assert.deepEqual(await next(), ['hook conversion registration#1']);
      });

      test('two leads in one campaign keep their own occurrence counts', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('second', hook(['deposit#2'])), T0);
        const a = await click(c);
        const b = await click(c);
        for (const [l, tid] of [
          [a, 'a1'],
          [b, 'b1'],
          [a, 'a2'],
        ] as const) {
          await s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 1n, tid }));
        }
        const jobs = await take(ws);
        assert.deepEqual(labels(jobs), ['second conversion deposit#2']);
        assert.equal(jobs[0]?.lead.clickid, a.clickid);
        assert.equal(jobs[0]?.conversion?.tid, 'a2');
      });

      test('conversions of one lead counted at once get distinct occurrences', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook(['deposit'])), T0);
        await s.createDestination(ws, c.id, destination('third', action('deposit#3')), T0);
        const l = await click(c);
        const outcomes = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            s.recordEvent(event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: `t${i}` })),
          ),
        );
        assert.ok(outcomes.every((o) => o.status === 'recorded'));
        const jobs = await take(ws);
        assert.deepEqual(
          jobs
            .filter((j) => j.destination.name === 'hook')
            .map((j) => j.occurrence)
            .sort(),
          [1, 2, 3, 4, 5, 6],
        );
        assert.deepEqual(labels(jobs.filter((j) => j.destination.name === 'third')), [
          'third conversion deposit#3',
        ]);
      });

      test('deposits of one lead counted at once in several transactions and nodes get distinct occurrences', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook(['deposit'])), T0);
        const l = await click(c);
        const peer = await openPeer();
        try {
          const stores = peer ? [s, peer] : [s];
          // More than one group commit's worth per store: the counts run in
          // concurrent transactions, which only the lead's lock orders.
          const n = 48;
          const outcomes = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              (stores[i % stores.length] as Store).recordEvent(
                event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: `t${i}` }),
              ),
            ),
          );
          assert.ok(outcomes.every((o) => o.status === 'recorded'));
          const occurrences = (await take(ws)).map((j) => j.occurrence).sort((a, b) => a - b);
          assert.deepEqual(
            occurrences,
            Array.from({ length: n }, (_, i) => i + 1),
          );
        } finally {
          await peer?.close();
        }
      });

      test('postbacks counted at once: every outcome as if one by one, in the order they came', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const other = await campaign(ws, 'Other');
        await s.createDestination(ws, c.id, destination('hook', hook(['deposit', 'custom'])), T0);
        const [a, b, d, e] = [await click(c), await click(c), await click(c), await click(other)];
        if (!a || !b || !d || !e) return assert.fail();
        // d has its first deposit already, a its registration and a custom event.
        await s.recordEvent(
          event(ws, d.clickid, { event: 'first_deposit', micros: 1n, tid: 'd0' }),
        );
        await s.recordEvent(event(ws, a.clickid, { event: 'custom', tid: 'k0' }));
        const registered = await s.recordEvent(event(ws, a.clickid, { event: 'registration' }));
        await take(ws);
        const money = (clickid: string, name: string, tid: string | null, micros = 1n) =>
          event(ws, clickid, { event: name, micros, tid });
        const outcomes = await Promise.all(
          [
            money(a.clickid, 'first_deposit', 'a1'),
            money(a.clickid, 'first_deposit', 'a2'),
            money(a.clickid, 'deposit', 'a1'),
            money(b.clickid, 'deposit', 'b1'),
            money(b.clickid, 'deposit', 'b1', 2n),
            money('NoSuchClickid', 'deposit', 'x1'),
            { ...money(e.clickid, 'deposit', 'e1'), scopeCampaignId: c.id },
            money(b.clickid, 'registration', null),
            event(ws, b.clickid, { event: 'custom' }),
            money(d.clickid, 'first_deposit', 'd1'),
            money(d.clickid, 'deposit', 'd2'),
            money(d.clickid, 'first_deposit', 'd0'),
            money(b.clickid, 'custom', 'c1'),
            event(ws, a.clickid, { event: 'registration' }),
          ].map((input) => s.recordEvent(input)),
        );
        const summary = outcomes.map((o) =>
          o.status === 'unmatched' ? `unmatched ${o.reason}` : `${o.status} ${o.event}`,
        );
        assert.deepEqual(summary, [
          'recorded first_deposit',
          'recorded deposit',
          'duplicate first_deposit',
          'recorded deposit',
          'duplicate deposit',
          'unmatched unknown_clickid',
          'unmatched campaign_mismatch',
          'recorded registration',
          'recorded custom',
          'recorded deposit',
          'recorded deposit',
          'duplicate first_deposit',
          'recorded custom',
          'duplicate registration',
        ]);
        const id = (i: number) => {
          const o = outcomes[i];
          return o && o.status !== 'unmatched' ? o.conversionId : assert.fail();
        };
        assert.equal(id(2), id(0));
        assert.equal(id(4), id(3));
        assert.equal(id(13), registered.status === 'recorded' ? registered.conversionId : null);
        // Deliveries: one per recorded deposit and custom event; d's two
        // deposits and b's two custom events are the lead's first and second,
        // in the order the postbacks came.
        const jobs = await take(ws);
        const occurrence = (i: number) => jobs.find((j) => j.subjectId === id(i))?.occurrence;
        assert.equal(jobs.length, 6);
        assert.equal(occurrence(1), 1);
        assert.equal(occurrence(3), 1);
        assert.equal(occurrence(9), 1);
        assert.equal(occurrence(10), 2);
        assert.equal(occurrence(8), 1);
        assert.equal(occurrence(12), 2);
        // Each lead holds exactly what was recorded against it.
        const events = async (clickid: string) =>
          (await s.getLead(ws, clickid))?.events.map((v) => `${v.event} ${v.tid ?? ''}`).sort();
        assert.deepEqual(await events(a.clickid), [
          'custom k0',
          'deposit a2',
          'first_deposit a1',
          'registration ',
        ]);
        assert.deepEqual(await events(b.clickid), [
          'custom ',
          'custom c1',
          'deposit b1',
          'registration ',
        ]);
        assert.deepEqual(await events(d.clickid), ['deposit d1', 'deposit d2', 'first_deposit d0']);
        assert.deepEqual(await events(e.clickid), []);
        assert.equal((await s.getLead(ws, b.clickid))?.totals[0]?.depositMicros, 1n);
      });

      test('claims honour next_at, busy, perDestination and limit, oldest first', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const a = await s.createDestination(ws, c.id, destination('a', hook()), T0);
        const b = await s.createDestination(ws, c.id, destination('b', hook()), T0);
        const l = await click(c);
        for (let i = 1; i <= 4; i++) {
          await s.recordEvent(
            event(ws, l.clickid, { event: 'custom', tid: `e${i}`, at: T0 + 1000 * i }),
          );
        }
        // A lease that ends at `now` leaves the rows free for the next look.
        const peek = (now: number, patch: Partial<Parameters<Store['claimDeliveries']>[0]> = {}) =>
          claim(now, { leaseUntil: now, ...patch });
        const at = (jobs: DeliveryJob[]) => jobs.map((j) => j.eventAt - T0);

        assert.deepEqual(await peek(T0 + 999), []);
        assert.deepEqual(at(await peek(T0 + 2000)), [1000, 1000, 2000, 2000], 'next_at <= now');
        assert.deepEqual(at(await peek(T0 + 2500)), [1000, 1000, 2000, 2000]);

        const one = await peek(T0 + 9000, { perDestination: 1 });
        assert.deepEqual(at(one), [1000, 1000]);
        assert.deepEqual(one.map((j) => j.destination.id).sort(), [a.id, b.id].sort());
        const two = await peek(T0 + 9000, { perDestination: 2, limit: 3 });
        assert.deepEqual(at(two), [1000, 1000, 2000]);

        const notA = await peek(T0 + 9000, { busy: [a.id] });
        assert.deepEqual(at(notA), [1000, 2000, 3000, 4000]);
        assert.ok(notA.every((j) => j.destination.id === b.id));
        assert.deepEqual(await peek(T0 + 9000, { busy: [a.id, b.id] }), []);

        const limited = await peek(T0 + 9000, { limit: 3 });
        assert.deepEqual(at(limited), [1000, 1000, 2000]);
        assert.equal((await peek(T0 + 9000)).length, 8);
        assert.deepEqual(await s.outboxCounts(ws), { pending: 8 });
      });

      test('a claimed row is leased: not claimable again until leaseUntil', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        await s.recordEvent(event(ws, l.clickid, { event: 'registration', at: T0 }));
        const first = await claim(T0 + 10, { leaseUntil: T0 + 10 + LEASE });
        assert.equal(first.length, 1);
        assert.deepEqual(await claim(T0 + 11), []);
        assert.deepEqual(await claim(T0 + 9 + LEASE), [], 'still leased');
        const again = await claim(T0 + 10 + LEASE);
        assert.deepEqual(
          again.map((j) => j.outboxId),
          first.map((j) => j.outboxId),
          'the lease ran out',
        );
        assert.equal(again[0]?.attempts, 0, 'a lost lease is no attempt');
      });

      test('a claim whose lease ran out logs its attempt but leaves the row to the claim that holds it now', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        for (const tid of ['one', 'two', 'three']) {
          await s.recordEvent(event(ws, l.clickid, { event: 'custom', tid, at: T0 }));
        }
        const stale = await claim(T0 + 10, { owner: 'here:7:slow', limit: 3 });
        assert.equal(stale.length, 3);
        const [one, two, three] = stale as [DeliveryJob, DeliveryJob, DeliveryJob];
        // Past the lease another worker takes the rows; the first attempts
        // are still under way.
        const taken = await claim(T0 + 10 + LEASE, { owner: 'here:8:next', limit: 2 });
        assert.deepEqual(
          taken.map((j) => j.outboxId),
          [one.outboxId, two.outboxId],
        );
        const [oneNow, twoNow] = taken as [DeliveryJob, DeliveryJob];

        // The old claim's answer comes back: a retry would put a delivered
        // row back in the queue, a failure would close a row being sent.
        assert.equal(
          await s.finishDelivery(one.outboxId, one.lease, attempt('retrying', T0 + 20), {
            state: 'retry',
            nextAt: T0 + 30,
          }),
          false,
        );
        assert.deepEqual(
          await s.finishDeliveries([
            {
              outboxId: two.outboxId,
              lease: two.lease,
              attempt: attempt('failed', T0 + 21),
              outcome: { state: 'done', status: 'failed' },
            },
            {
              outboxId: three.outboxId,
              lease: three.lease,
              attempt: attempt('delivered', T0 + 21),
              outcome: { state: 'done', status: 'delivered' },
            },
          ]),
          [two.outboxId],
          'the row its lease still held moved on, the other did not',
        );
        assert.deepEqual(await s.outboxCounts(ws), { pending: 2, delivered: 1 });
        assert.deepEqual(await claim(T0 + 11 + LEASE), [], "still the new claim's");

        // The new claim's outcomes count; the attempts are numbered in turn.
        assert.equal(
          await s.finishDelivery(oneNow.outboxId, oneNow.lease, attempt('delivered', T0 + 22), {
            state: 'done',
            status: 'delivered',
          }),
          true,
        );
        assert.deepEqual(
          await s.finishDeliveries([
            {
              outboxId: twoNow.outboxId,
              lease: twoNow.lease,
              attempt: attempt('retrying', T0 + 23),
              outcome: { state: 'retry', nextAt: T0 + 40 + LEASE },
            },
          ]),
          [],
        );
        assert.deepEqual(await s.outboxCounts(ws), { pending: 1, delivered: 2 });
        const log = await s.listDeliveries(ws, { limit: 10 });
        assert.deepEqual(
          log.items
            .map((x) => [x.outboxId, x.attempt, x.status])
            .sort((x, y) => Number(x[0]) - Number(y[0]) || Number(x[1]) - Number(y[1])),
          [
            [one.outboxId, 1, 'retrying'],
            [one.outboxId, 2, 'delivered'],
            [two.outboxId, 1, 'failed'],
            [two.outboxId, 2, 'retrying'],
            [three.outboxId, 1, 'delivered'],
          ],
        );
        const [later] = await claim(T0 + 40 + LEASE, { owner: 'here:8:next' });
        assert.equal(later?.outboxId, two.outboxId);
        assert.equal(later?.attempts, 2, 'the lost attempt counted too');
        assert.ok(later);

        // The same worker's claim of a row again is a new lease too; so is a
        // retry a user asked for once the lease had run out.
        assert.equal(
          await s.finishDelivery(two.outboxId, twoNow.lease, null, {
            state: 'retry',
            nextAt: T0,
          }),
          false,
          'an older claim of the same worker',
        );
        const [logged] = (await s.listDeliveries(ws, { limit: 10 })).items.filter(
          (x) => x.outboxId === two.outboxId,
        );
        assert.ok(logged);
        const afterLease = later.lease.until;
        assert.equal(await s.retryDelivery(ws, logged.id, afterLease), two.outboxId);
        assert.equal(
          await s.finishDelivery(two.outboxId, later.lease, attempt('failed', afterLease + 1), {
            state: 'done',
            status: 'failed',
          }),
          false,
          'a retry asked for after the lease ran out',
        );
        const [retried] = await claim(afterLease);
        assert.equal(retried?.outboxId, two.outboxId);
        assert.equal(retried?.attempts, 3);
        await take();
      });

      test("freeing leases frees only the gone owners' rows, which are then claimed again", async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        for (const tid of ['one', 'two']) {
          await s.recordEvent(event(ws, l.clickid, { event: 'custom', tid, at: T0 }));
        }
        const live = await claim(T0 + 10, { owner: 'here:7:live', limit: 1 });
        const gone = await claim(T0 + 10, { owner: 'here:8:gone', limit: 1 });
        assert.equal(live.length + gone.length, 2);
        assert.deepEqual(await claim(T0 + 11), [], 'both leased');

        const asked: string[] = [];
        const freed = await s.releaseDeliveryLeases((owner) => {
          asked.push(owner);
          return owner === 'here:8:gone';
        });
        assert.equal(freed, 1);
        assert.deepEqual(asked.sort(), ['here:7:live', 'here:8:gone'], 'each leasing owner, once');
        const again = await claim(T0 + 12);
        assert.deepEqual(
          again.map((j) => j.outboxId),
          gone.map((j) => j.outboxId),
          "the gone owner's row, and not the live one's",
        );
        assert.equal(await s.releaseDeliveryLeases(() => false), 0);
        await take();
      });

      test('log retention: the oldest rows written before the cutoff go, a chunk at a time; what was counted stays', async () => {
        // Pruning reads every workspace's oldest rows: a store of its own
        // keeps the other tests' rows out of it (the helpers use `s`).
        const shared = s;
        const fresh = await open();
        s = fresh.store;
        try {
          const ws = await workspace();
          const c = await campaign(ws);
          const p = await postback(ws);
          await s.createDestination(ws, c.id, destination('hook', hook()), T0);
          const l = await click(c);
          // Times in the order written: the fourth is old although written
          // after a young one (a clock set back), and goes once it is reached.
          const times = [1_000, 2_000, 9_000, 1_500, 3_000];
          for (const [n, at] of times.entries()) {
            await s.recordEvent({
              ...event(ws, l.clickid, { event: 'deposit', micros: 5_000_000n, tid: `t${n}` }),
              postbackId: p.id,
              log: {
                postbackId: p.id,
                workspaceId: ws,
                at,
                method: 'GET',
                url: `/api/postbacks/${p.token}/deposit?n=${n}`,
                ip: null,
                userAgent: null,
                body: null,
              },
            });
          }
          const jobs = await claim(T0, { limit: 10 });
          assert.equal(jobs.length, times.length);
          for (const [n, job] of jobs.entries()) {
            await s.finishDelivery(
              job.outboxId,
              job.lease,
              attempt('delivered', times[n] as number),
              {
                state: 'done',
                status: 'delivered',
              },
            );
          }
          const logAts = async () =>
            (await s.listPostbackLogs(ws, { limit: 10 })).items.map((i) => i.at).reverse();
          const deliveryAts = async () =>
            (await s.listDeliveries(ws, { limit: 10 })).items.map((i) => i.at).reverse();
          assert.deepEqual(await deliveryAts(), times);

          assert.deepEqual(await s.pruneLogs(5_000, 2), { postbackLogs: 2, deliveries: 2 });
          assert.deepEqual(await logAts(), [9_000, 1_500, 3_000]);
          assert.deepEqual(await s.pruneLogs(5_000, 2), { postbackLogs: 1, deliveries: 1 });
          assert.deepEqual(await s.pruneLogs(5_000, 2), { postbackLogs: 1, deliveries: 1 });
          assert.deepEqual(await s.pruneLogs(5_000, 2), { postbackLogs: 0, deliveries: 0 });
          assert.deepEqual(await logAts(), [9_000]);
          assert.deepEqual(await deliveryAts(), [9_000]);

          const counted = await s.getLead(ws, l.clickid);
          assert.equal(counted?.events.length, times.length, 'conversions are never pruned');
          assert.deepEqual(await s.outboxCounts(ws), { delivered: times.length });
          assert.deepEqual(await s.pruneLogs(10_000, 100), { postbackLogs: 1, deliveries: 1 });
        } finally {
          s = shared;
          await fresh.dispose();
        }
      });

      test('finishDelivery: retry makes the row due at nextAt with one more attempt; done closes it', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const d = await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        await s.recordEvent(event(ws, l.clickid, { event: 'registration', at: T0 }));
        const [job] = await claim(T0 + 1);
        assert.ok(job);

        await s.finishDelivery(job.outboxId, job.lease, attempt('retrying', T0 + 2), {
          state: 'retry',
          nextAt: T0 + 5000,
        });
        assert.deepEqual(await claim(T0 + 4999), [], 'not before nextAt, lease released or not');
        const [second] = await claim(T0 + 5000);
        assert.ok(second);
        assert.equal(second.outboxId, job.outboxId);
        assert.equal(second?.attempts, 1);
        assert.equal(second?.budgetAttempts, 1);

        // A release without an attempt (shutdown) changes neither the count nor the log.
        await s.finishDelivery(job.outboxId, second.lease, null, {
          state: 'retry',
          nextAt: T0 + 6000,
        });
        const [third] = await claim(T0 + 6000);
        assert.ok(third);
        assert.equal(third.attempts, 1);

        await s.finishDelivery(job.outboxId, third.lease, attempt('delivered', T0 + 6001), {
          state: 'done',
          status: 'delivered',
        });
        assert.deepEqual(await take(ws), [], 'never claimed again');
        assert.deepEqual(await s.outboxCounts(ws), { delivered: 1 });
        const log = await s.listDeliveries(ws, { limit: 10 });
        assert.deepEqual(
          log.items.map((e) => [e.attempt, e.status, e.httpStatus, e.sourceId, e.event]),
          [
            [2, 'delivered', 200, d.id, 'registration'],
            [1, 'retrying', 500, d.id, 'registration'],
          ],
        );
        assert.equal(log.items[1]?.error, 'HTTP 500');
        assert.equal(log.items[1]?.response, 'busy');
        assert.equal(log.items[0]?.outboxId, job.outboxId);
        assert.equal(log.items[0]?.campaignId, c.id);
        assert.equal(log.items[0]?.sourceName, 'hook');
        assert.equal(log.items[0]?.sourceType, 'webhook');
        assert.equal(log.items[0]?.durationMs, 15);
        assert.equal(log.items[0]?.request, 'POST https://tracker.example/pb');
        assert.equal(log.items[0]?.at, T0 + 6001);
      });

      test('finishDeliveries: the rows of one request logged and moved on together, each by its own outcome', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const d = await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        for (const tid of ['a', 'b', 'c', 'd']) {
          await s.recordEvent(event(ws, l.clickid, { event: 'custom', tid, at: T0 }));
        }
        const jobs = await claim(T0 + 1);
        assert.equal(jobs.length, 4);
        const [a, b, e, f] = jobs as [DeliveryJob, DeliveryJob, DeliveryJob, DeliveryJob];
        // b was tried once before.
        await s.finishDelivery(b.outboxId, b.lease, attempt('retrying', T0 + 2), {
          state: 'retry',
          nextAt: T0 + 3,
        });
        const [bAgain] = await claim(T0 + 3);
        assert.equal(bAgain?.outboxId, b.outboxId);

        const lost = await s.finishDeliveries([
          {
            outboxId: a.outboxId,
            lease: a.lease,
            attempt: attempt('delivered', T0 + 10),
            outcome: { state: 'done', status: 'delivered' },
          },
          {
            outboxId: b.outboxId,
            lease: bAgain.lease,
            attempt: attempt('retrying', T0 + 10),
            outcome: { state: 'retry', nextAt: T0 + 5000 },
          },
          {
            outboxId: e.outboxId,
            lease: e.lease,
            attempt: attempt('failed', T0 + 10),
            outcome: { state: 'done', status: 'failed' },
          },
          // Released without an attempt (a shutdown): no log row, no attempt counted.
          {
            outboxId: f.outboxId,
            lease: f.lease,
            attempt: null,
            outcome: { state: 'retry', nextAt: T0 + 20 },
          },
          // A row that does not exist is ignored, and said not moved.
          {
            outboxId: '999999999',
            lease: a.lease,
            attempt: attempt('delivered', T0 + 10),
            outcome: { state: 'done', status: 'delivered' },
          },
        ]);
        assert.deepEqual(lost, ['999999999']);
        assert.deepEqual(await s.outboxCounts(ws), { delivered: 1, failed: 1, pending: 2 });
        const log = await s.listDeliveries(ws, { limit: 10 });
        assert.deepEqual(
          log.items
            .map((x) => [x.outboxId, x.attempt, x.status, x.sourceId])
            .sort(
              (x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[1]) - Number(y[1]),
            ),
          [
            [a.outboxId, 1, 'delivered', d.id],
            [b.outboxId, 1, 'retrying', d.id],
            [b.outboxId, 2, 'retrying', d.id],
            [e.outboxId, 1, 'failed', d.id],
          ].sort((x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[1]) - Number(y[1])),
        );
        const [released] = await claim(T0 + 20);
        assert.equal(released?.outboxId, f.outboxId);
        assert.equal(released?.attempts, 0);
        const [retried] = await claim(T0 + 5000);
        assert.equal(retried?.outboxId, b.outboxId);
        assert.equal(retried?.attempts, 2);
        assert.deepEqual(await s.finishDeliveries([]), []);
      });

      test('destinationHealth: the last delivery, the failures since, their last error and the events waiting', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const dest = await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const quiet = await s.createDestination(ws, c.id, destination('q', hook(['deposit'])), T0);
        const none = {
          lastDeliveredAt: null,
          failedInARow: 0,
          gaveUp: 0,
          failingSince: null,
          lastFailedAt: null,
          lastError: null,
          pending: 0,
        };
        assert.deepEqual(await s.destinationHealth([dest.id, quiet.id]), [none, none]);

        const l = await click(c);
        for (const tid of ['a', 'b', 'c', 'd', 'e']) {
          await s.recordEvent(event(ws, l.clickid, { event: 'custom', tid, at: T0 }));
        }
        assert.deepEqual(await s.destinationHealth([dest.id]), [{ ...none, pending: 5 }]);

        const jobs = await claim(T0 + 1);
        assert.equal(jobs.length, 5);
        const [a, b, e, f, g] = jobs as [
          DeliveryJob,
          DeliveryJob,
          DeliveryJob,
          DeliveryJob,
          DeliveryJob,
        ];
        const refused = 'HTTP 400: Invalid OAuth access token (code 190)';
        await s.finishDeliveries([
          {
            outboxId: a.outboxId,
            lease: a.lease,
            attempt: attempt('delivered', T0 + 10),
            outcome: { state: 'done', status: 'delivered' },
          },
          {
            outboxId: b.outboxId,
            lease: b.lease,
            attempt: attempt('retrying', T0 + 20, { error: 'HTTP 503' }),
            outcome: { state: 'retry', nextAt: T0 + 100 },
          },
          {
            outboxId: e.outboxId,
            lease: e.lease,
            attempt: attempt('failed', T0 + 30, { httpStatus: 400, error: refused }),
            outcome: { state: 'done', status: 'failed' },
          },
          // Not sent at all (an amount Facebook cannot take): not an attempt.
          {
            outboxId: f.outboxId,
            lease: f.lease,
            attempt: attempt('skipped', T0 + 40, { error: 'BTC is not sent' }),
            outcome: { state: 'done', status: 'skipped' },
          },
        ]);
        const failing = {
          lastDeliveredAt: T0 + 10,
          failedInARow: 2,
          gaveUp: 1,
          failingSince: T0 + 20,
          lastFailedAt: T0 + 30,
          lastError: refused,
          // b waits for its retry; g is still leased.
          pending: 2,
        };
        assert.deepEqual(await s.destinationHealth([quiet.id, dest.id]), [none, failing]);

        // A delivery ends the run of failures; the ones before it are history.
        const [bAgain] = await claim(T0 + 100);
        assert.equal(bAgain?.outboxId, b.outboxId);
        await s.finishDelivery(b.outboxId, bAgain.lease, attempt('delivered', T0 + 110), {
          state: 'done',
          status: 'delivered',
        });
        assert.deepEqual(await s.destinationHealth([dest.id]), [
          { ...none, lastDeliveredAt: T0 + 110, pending: 1 },
        ]);
        await s.finishDelivery(g.outboxId, g.lease, attempt('retrying', T0 + 120), {
          state: 'retry',
          nextAt: T0 + 200,
        });
        assert.deepEqual(await s.destinationHealth([dest.id]), [
          {
            ...none,
            lastDeliveredAt: T0 + 110,
            failedInARow: 1,
            failingSince: T0 + 120,
            lastFailedAt: T0 + 120,
            lastError: 'HTTP 500',
            pending: 1,
          },
        ]);
        // Another workspace's ids are never passed, but an unknown one reads as nothing.
        assert.deepEqual(await s.destinationHealth(['999999999']), [none]);
        assert.deepEqual(await s.destinationHealth([]), []);
      });

      test("listDestinationsLastFailed: the workspace's enabled destinations whose newest attempt failed", async () => {
        await take();
        const ws = await workspace();
        const other = await workspace();
        const c = await campaign(ws);
        const gone = await campaign(ws, 'Deleted later');
        const theirs = await campaign(other);
        // Each destination's two attempts, oldest first; null: closed without an attempt.
        const plan: Record<string, Array<DeliveryAttempt['status'] | null>> = {
          recovered: ['failed', 'delivered'],
          refused: ['delivered', 'failed'],
          retrying: ['retrying', 'retrying'],
          'failed, then skipped': ['failed', 'skipped'],
          'failed, then expired': ['retrying', 'expired'],
          idle: [null, null],
          paused: ['failed', 'failed'],
          deleted: ['failed', 'failed'],
          bot: ['failed', 'failed'],
          'of a deleted campaign': ['failed', 'failed'],
          'of another workspace': ['failed', 'failed'],
        };
        const made = new Map<string, { ws: string; id: string; revision: number }>();
        for (const name of Object.keys(plan)) {
          const [w, camp] =
            name === 'of a deleted campaign'
              ? [ws, gone]
              : name === 'of another workspace'
                ? [other, theirs]
                : [ws, c];
          const d = await s.createDestination(
            w,
            camp.id,
            destination(name, name === 'bot' ? action('custom') : hook()),
            T0,
          );
          made.set(name, { ws: w, id: d.id, revision: d.revision });
        }
        for (const [w, camp] of [
          [ws, c],
          [ws, gone],
          [other, theirs],
        ] as const) {
          const l = await click(camp);
          for (const tid of ['a', 'b']) {
            await s.recordEvent(event(w, l.clickid, { event: 'custom', tid, at: T0 }));
          }
        }
        const jobs = (await claim(T0 + 1)).sort(
          (x, y) =>
            Number(x.destination.id) - Number(y.destination.id) ||
            String(x.conversion?.tid).localeCompare(String(y.conversion?.tid)),
        );
        assert.equal(jobs.length, 2 * Object.keys(plan).length);
        const seen = new Map<string, number>();
        await s.finishDeliveries(
          jobs.map((j) => {
            const n = seen.get(j.destination.name) ?? 0;
            seen.set(j.destination.name, n + 1);
            const status = plan[j.destination.name]?.[n] ?? null;
            return {
              outboxId: j.outboxId,
              lease: j.lease,
              attempt: status === null ? null : attempt(status, T0 + 10 + n),
              outcome:
                status === 'retrying'
                  ? { state: 'retry', nextAt: T0 + 1000 }
                  : { state: 'done', status: status ?? 'skipped' },
            };
          }),
        );
        const paused = made.get('paused');
        assert.ok(paused);
        await change(
          ws,
          paused.id,
          destination('paused', hook(), { enabled: false }),
          T0 + 20,
          paused.revision,
        );
        assert.ok(await s.deleteDestination(ws, made.get('deleted')?.id ?? '', T0 + 20));
        assert.ok(await s.deleteCampaign(ws, gone.id, T0 + 20));

        const names = async (w: string) =>
          (await s.listDestinationsLastFailed(w)).map((d) => d.name).sort();
        assert.deepEqual(await names(ws), [
          'bot',
          'failed, then expired',
          'failed, then skipped',
          'refused',
          'retrying',
        ]);
        assert.deepEqual(await names(other), ['of another workspace']);
        const [one] = await s.listDestinationsLastFailed(other);
        assert.equal(one?.id, made.get('of another workspace')?.id);
        assert.equal(one?.campaignId, theirs.id);
        assert.equal(one?.enabled, true);
        // Each one listed has failures in a row by destinationHealth; the others have none.
        const listed = new Set((await s.listDestinationsLastFailed(ws)).map((d) => d.id));
        for (const [name, d] of made) {
          if (d.ws !== ws) continue;
          const [facts] = await s.destinationHealth([d.id]);
          const open = name !== 'paused' && name !== 'deleted' && name !== 'of a deleted campaign';
          assert.equal(listed.has(d.id), open && (facts?.failedInARow ?? 0) > 0, name);
        }
        assert.deepEqual(await s.listDestinationsLastFailed(await workspace()), []);
        await take();
      });

      test('concurrent claims never hand out one row twice', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        for (const name of ['a', 'b', 'c']) {
          await s.createDestination(ws, c.id, destination(name, hook()), T0);
        }
        const l = await click(c);
        for (let i = 0; i < 30; i++) {
          await s.recordEvent(event(ws, l.clickid, { event: 'custom', tid: `c${i}`, at: T0 + i }));
        }
        const rows = 90;
        const peer = await openPeer();
        try {
          const stores = peer ? [s, peer] : [s];
          const seen = new Map<string, number>();
          for (let round = 0; round < 40 && seen.size < rows; round++) {
            const now = T0 + 1000 + round;
            const claims = await Promise.all(
              Array.from({ length: 8 }, (_, i) =>
                (stores[i % stores.length] as Store).claimDeliveries({
                  now,
                  leaseUntil: FAR,
                  owner: `here:${i}:racer`,
                  limit: 7,
                  perDestination: 1_000,
                  perBatchedDestination: 1_000,
                  busy: [],
                }),
              ),
            );
            for (const job of claims.flat()) {
              seen.set(job.outboxId, (seen.get(job.outboxId) ?? 0) + 1);
            }
          }
          assert.equal(seen.size, rows, 'every row was claimed');
          const twice = [...seen].filter(([, n]) => n > 1);
          assert.deepEqual(twice, [], `rows claimed more than once (${stores.length} store(s))`);
          assert.deepEqual(await claim(FAR - 1), [], 'all leased');
        } finally {
          await peer?.close();
        }
      });

      test('deliveries: newest first, paginated, filtered, per workspace', async () => {
        await take();
        const ws = await workspace();
        const other = await workspace();
        const c = await campaign(ws);
        const fb = await s.createDestination(
          ws,
          c.id,
          destination('pixel', pixel({ registration: 'Lead', deposit: 'Purchase' })),
          T0,
        );
        const wh = await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        await s.recordEvent(event(ws, l.clickid, { event: 'registration', at: T0 }));
        await s.recordEvent(
          event(ws, l.clickid, { event: 'deposit', micros: 1n, tid: 'd', at: T0 }),
        );
        const jobs = await claim(T0 + 1);
        assert.equal(jobs.length, 4);
        const statusOf = (j: DeliveryJob) =>
          j.destination.id === fb.id ? (j.event === 'deposit' ? 'failed' : 'delivered') : 'skipped';
        for (const [i, j] of jobs.entries()) {
          const status = statusOf(j);
          await s.finishDelivery(
            j.outboxId,
            j.lease,
            attempt(status, T0 + 10 + i, {
              destinationEvent: j.destination.id === fb.id ? 'X' : null,
            }),
            { state: 'done', status },
          );
        }
        const all = await s.listDeliveries(ws, { limit: 50 });
        assert.equal(all.items.length, 4);
        assert.equal(all.nextCursor, null);
        const ids = all.items.map((e) => BigInt(e.id));
        assert.deepEqual(
          ids,
          [...ids].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0)),
          'newest first',
        );
        assert.deepEqual(
          all.items.map((e) => e.at),
          [T0 + 13, T0 + 12, T0 + 11, T0 + 10],
        );

        const pages: string[] = [];
        let cursor: string | undefined;
        for (let n = 0; n < 5; n++) {
          const page = await s.listDeliveries(ws, { limit: 3, ...(cursor ? { cursor } : {}) });
          pages.push(...page.items.map((e) => e.id));
          if (!page.nextCursor) break;
          assert.equal(page.items.length, 3);
          cursor = page.nextCursor;
        }
        assert.deepEqual(
          pages,
          all.items.map((e) => e.id),
          'pages cover the list once, in order',
        );

        const bySource = await s.listDeliveries(ws, { limit: 50, sourceId: wh.id });
        assert.deepEqual(
          bySource.items.map((e) => [e.sourceName, e.status]),
          [
            ['hook', 'skipped'],
            ['hook', 'skipped'],
          ],
        );
        const failed = await s.listDeliveries(ws, { limit: 50, status: 'failed' });
        assert.deepEqual(
          failed.items.map((e) => [e.sourceId, e.event, e.destinationEvent, e.sourceType]),
          [[fb.id, 'deposit', 'X', 'facebook']],
        );
        const deposits = await s.listDeliveries(ws, { limit: 50, event: 'deposit' });
        assert.equal(deposits.items.length, 2);
        assert.ok(deposits.items.every((e) => e.event === 'deposit'));
        const combined = await s.listDeliveries(ws, {
          limit: 50,
          event: 'registration',
          sourceId: fb.id,
          status: 'delivered',
        });
        assert.equal(combined.items.length, 1);
        assert.equal((await s.listDeliveries(ws, { limit: 50, campaignId: c.id })).items.length, 4);

        assert.deepEqual(await s.listDeliveries(other, { limit: 50 }), {
          items: [],
          nextCursor: null,
        });
        assert.deepEqual(
          (await s.listDeliveries(other, { limit: 50, sourceId: fb.id })).items,
          [],
          "another workspace cannot read a source's log by its id",
        );
        assert.deepEqual(await s.outboxCounts(ws), { delivered: 1, failed: 1, skipped: 2 });
        assert.deepEqual(await s.outboxCounts(other), {});
        const everywhere = await s.outboxCounts(null);
        for (const [status, n] of Object.entries(await s.outboxCounts(ws))) {
          assert.ok((everywhere[status] ?? 0) >= n, status);
        }
      });

      test('retryDelivery re-queues a closed row with a fresh budget, only for its workspace', async () => {
        await take();
        const ws = await workspace();
        const other = await workspace();
        const c = await campaign(ws);
        await s.createDestination(ws, c.id, destination('hook', hook()), T0);
        const l = await click(c);
        await s.recordEvent(event(ws, l.clickid, { event: 'registration', at: T0 }));
        const [job] = await claim(T0 + 1);
        assert.ok(job);
        await s.finishDelivery(job.outboxId, job.lease, attempt('retrying', T0 + 2), {
          state: 'retry',
          nextAt: T0 + 3,
        });
        const [again] = await claim(T0 + 3);
        assert.ok(again);
        assert.equal(again.budgetAttempts, 1);
        await s.finishDelivery(job.outboxId, again.lease, attempt('failed', T0 + 4), {
          state: 'done',
          status: 'failed',
        });
        assert.deepEqual(await s.outboxCounts(ws), { failed: 1 });
        const [last] = (await s.listDeliveries(ws, { limit: 1 })).items;
        assert.ok(last);

        assert.equal(await s.retryDelivery(other, last.id, T0 + 100), null);
        assert.equal(await s.retryDelivery(ws, '999999999', T0 + 100), null);
        assert.equal(await s.retryDelivery(ws, 'garbage', T0 + 100), null);
        assert.deepEqual(await s.outboxCounts(ws), { failed: 1 }, 'nothing moved');

        const woken = notified;
        assert.equal(await s.retryDelivery(ws, last.id, T0 + 100), job.outboxId);
        assert.equal(notified, woken + 1, 'the worker is woken');
        assert.deepEqual(await s.outboxCounts(ws), { pending: 1 });
        assert.deepEqual(await claim(T0 + 99), [], 'due from the retry on');
        const [retried] = await claim(T0 + 100);
        assert.ok(retried);
        assert.equal(retried.outboxId, job.outboxId);
        assert.equal(retried?.attempts, 2, 'attempts made so far are kept');
        assert.equal(retried?.budgetAttempts, 0, 'the budget starts again');
        assert.equal(retried?.queuedAt, T0 + 100);
        assert.equal(retried?.eventAt, T0, 'still the same event');

        // While that attempt holds the lease, a second manual retry does not
        // steal it, and says so.
        assert.equal(await s.retryDelivery(ws, last.id, T0 + 200), 'in_flight');
        assert.deepEqual(await claim(T0 + 200), []);
        await s.finishDelivery(job.outboxId, retried.lease, attempt('delivered', T0 + 300), {
          state: 'done',
          status: 'delivered',
        });
        const log = await s.listDeliveries(ws, { limit: 10 });
        assert.deepEqual(
          log.items.map((e) => [e.attempt, e.status]),
          [
            [3, 'delivered'],
            [2, 'failed'],
            [1, 'retrying'],
          ],
        );
        assert.deepEqual(await s.outboxCounts(ws), { delivered: 1 });
      });

      test('onOutbox is told after commits that queued rows, not after writes that queued none', async () => {
        await take();
        const ws = await workspace();
        const c = await campaign(ws);
        const quiet = await campaign(ws);
        await s.createDestination(
          ws,
          c.id,
          destination('pixel', pixel({ click: 'Lead', contact: 'Contact', registration: 'Lead' })),
          T0,
        );
        const count = async (write: () => Promise<unknown>) => {
          const woken = notified;
          await write();
          return notified - woken;
        };
        let l: Lead | undefined;
        assert.equal(
          await count(async () => {
            l = await click(c);
          }),
          1,
          'a routed click',
        );
        assert.ok(l);
        const clickid = l.clickid;
        assert.equal(await count(() => click(quiet)), 0, 'a click without routes');
        assert.equal(
          await count(() => s.recordEvent(event(ws, clickid, { event: 'registration' }))),
          1,
        );
        assert.equal(
          await count(() => s.recordEvent(event(ws, clickid, { event: 'registration' }))),
          0,
          'a duplicate',
        );
        assert.equal(
          await count(() => s.recordEvent(event(ws, clickid, { event: 'deposit', micros: 1n }))),
          0,
          'an event no destination takes',
        );
        assert.equal(
          await count(() => s.bindLead(ws, clickid, { externalId: 'c1', username: null, at: T0 })),
          1,
        );
        assert.equal(
          await count(() => s.bindLead(ws, clickid, { externalId: 'c1', username: 'x', at: T0 })),
          0,
        );
        assert.equal(
          await count(() => s.recordEvent(event(ws, 'nosuchclick9', { event: 'x' }))),
          0,
        );
        assert.equal(await count(() => campaign(ws)), 0);
        assert.equal(
          (await count(() => Promise.all(Array.from({ length: 5 }, () => click(c))))) >= 1,
          true,
          'concurrent routed clicks wake the worker',
        );
        const jobs = await take(ws);
        assert.equal(jobs.length, 8);

        // A write whose transaction rolled back queued nothing (see the test above).
        const failing = await click(c);
        await take(ws);
        assert.equal(
          await count(() =>
            s
              .recordEvent({
                ...event(ws, failing.clickid, { event: 'registration' }),
                log: unwritableLog(ws),
              })
              .catch(() => 'rolled back'),
          ),
          0,
          'no wake-up for a rolled-back write',
        );
      });
    });
  });
}
