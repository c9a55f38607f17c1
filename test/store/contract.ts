// The Store contract: one suite, run unchanged against every engine's adapter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countingPlan } from '../../src/domain/events.js';
import { newClickid, randomAlphanumeric } from '../../src/domain/random-id.js';
import { dayBuckets, startOfDay } from '../../src/domain/time-range.js';
import type { RecordEvent, Store } from '../../src/store/store.js';

export interface StoreHarness {
  store: Store;
  /** Drops the engine's data (temp file or schema). */
  dispose(): Promise<void>;
}

const T0 = Date.parse('2026-11-20T10:00:00Z');
const WINDOW = 60_000;

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
      assert.equal((await s.listApiKeys(acc.workspace.id))[0]?.lastUsedAt, T0 + 1);
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
      const second = await s.recordClick({
        campaign: c,
        params: {},
        ip: null,
        userAgent: null,
        referrer: null,
        at: T0,
        newClickid: () => draws.shift() ?? newClickid(),
      });
      assert.equal(second.clickid, 'Zz0000000001');
      assert.deepEqual((await s.getLead(ws, first.clickid))?.params, { fbclid: 'x' });
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
      const found = await s.listLeads(ws, { limit: 10, q: target.clickid });
      assert.equal(found.items.length, 1);
      assert.equal(found.items[0]?.registered, true);
      assert.equal(found.items[0]?.firstDepositMicros, 100_000_000n);
      assert.equal(found.items[0]?.depositCount, 2);
    });

    test('stats: by day in a time zone, by campaign, buyer, postback, network and click parameter', async () => {
      const ws = await workspace();
      const c1 = await campaign(ws, 'One', 'ann');
      const c2 = await campaign(ws, 'Two', 'bob');
      const p = await postback(ws);
      // 22:30 UTC on the 20th is already the 21st in Moscow (UTC+3).
      const late = Date.parse('2026-11-20T22:30:00Z');
      const l1 = await s.recordClick({
        campaign: c1,
        params: { utm_source: 'fb' },
        ip: null,
        userAgent: null,
        referrer: null,
        at: late,
        newClickid,
      });
      const l2 = await s.recordClick({
        campaign: c2,
        params: { utm_source: 'tg' },
        ip: null,
        userAgent: null,
        referrer: null,
        at: T0,
        newClickid,
      });
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
  });
}
