// Statistics the slow, obvious way: random clicks, leads and conversions
// written through the Store, and what stats() must answer for them, computed
// here from the list of what was recorded. The engines read rollups for whole
// 15-minute buckets and raw rows for the rest; this model knows of neither.
import fc from 'fast-check';
import { countingPlan } from '../../src/domain/events.js';
import { newClickid, randomAlphanumeric } from '../../src/domain/random-id.js';
import { addDays, dayBuckets, localDate, startOfDay } from '../../src/domain/time-range.js';
import type { StatsGroup, StatsQuery, StatsRow, Store } from '../../src/store/store.js';
import { emptyStatsRow } from '../../src/store/store.js';

const QUARTER = 15 * 60_000;
const DAY = 86_400_000;

/**
 * Instants the data gathers around: both of Berlin's DST switches in 2026,
 * Lord Howe's half-hour one, and 1890, when zones kept local mean time (day
 * edges off the quarter hours) and instants were negative.
 */
export const ANCHORS = [
  Date.UTC(2026, 2, 29, 1),
  Date.UTC(2026, 9, 25, 1),
  Date.UTC(2026, 3, 4, 15),
  Date.UTC(1890, 5, 15),
];
export const ZONES = [
  'UTC',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Europe/Berlin',
  'America/St_Johns',
  'Australia/Lord_Howe',
];
const SOURCES = ['fb', 'tg', ''];
const CURRENCIES = ['USD', 'EUR', 'USDT'];

/**
 * Instants relative to an anchor, mostly where an off-by-one would show: on
 * or a millisecond off a local midnight of one of the zones, or a bucket edge.
 */
function offsets(anchor: number): fc.Arbitrary<number> {
  const midnights = ZONES.flatMap((tz) => {
    const today = localDate(anchor, tz);
    return [-3, -2, -1, 0, 1, 2, 3].map((d) => startOfDay(addDays(today, d), tz) - anchor);
  });
  return fc.oneof(
    fc
      .tuple(
        fc.constantFrom(...midnights),
        fc.constantFrom(0, 0, -1, 1, -QUARTER, QUARTER, 7 * 60_000),
      )
      .map(([m, d]) => m + d),
    fc
      .tuple(fc.integer({ min: -12 * 24, max: 12 * 24 }), fc.constantFrom(0, -1, 1, 7 * 60_000))
      .map(([q, d]) => q * QUARTER + d),
    fc.integer({ min: -3 * DAY, max: 3 * DAY }),
  );
}

const source = fc.option(fc.constantFrom(...SOURCES), { nil: null });

const amount = fc.oneof(
  fc.bigInt({ min: 1n, max: 5_000_000_000n }),
  fc.bigInt({ min: 1n, max: 10n ** 15n }),
  fc.bigInt({ min: -1_000_000_000n, max: -1n }),
);

const conversion = (at: fc.Arbitrary<number>) =>
  fc.record({
    lead: fc.nat(),
    event: fc.constantFrom(
      'registration',
      'first_deposit',
      'deposit',
      'deposit',
      'withdrawal',
      'email_confirmation',
      'chargeback',
    ),
    amount: fc.option(amount, { nil: null, freq: 4 }),
    currency: fc.constantFrom(...CURRENCIES),
    postback: fc.option(fc.nat({ max: 1 }), { nil: null }),
    at,
    /** A second copy with the same transaction id: counted once. */
    repeat: fc.boolean(),
  });

function dataset(anchor: number) {
  const at = offsets(anchor);
  return fc.record({
    anchor: fc.constant(anchor),
    clicks: fc.array(fc.record({ campaign: fc.nat({ max: 2 }), at, source }), {
      maxLength: 30,
      size: 'max',
    }),
    leads: fc.array(
      fc.record({ campaign: fc.option(fc.nat({ max: 2 }), { nil: null }), at, source }),
      { maxLength: 8, size: 'max' },
    ),
    conversions: fc.array(conversion(at), { maxLength: 60, size: 'max' }),
  });
}

type Generated<A> = A extends fc.Arbitrary<infer T> ? T : never;

export type Dataset = Generated<ReturnType<typeof dataset>>;

const groupBy = fc.constantFrom<StatsGroup>(
  'day',
  'day',
  'campaign',
  'buyer',
  'postback',
  'network',
  'param.utm_source',
);

/** A query relative to the data's anchor; campaign is an index into the data's campaigns. */
function statsQuery(anchor: number) {
  return fc.record({
    groupBy,
    tz: fc.constantFrom(...ZONES),
    range: fc.oneof(
      // What the route asks for: whole local days.
      fc.record({
        kind: fc.constant('days' as const),
        first: fc.integer({ min: -4, max: 3 }),
        days: fc.integer({ min: 1, max: 4 }),
      }),
      // Anything else the Store allows: any instants, days of any length.
      fc.record({
        kind: fc.constant('ms' as const),
        from: offsets(anchor),
        pieces: fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: QUARTER }),
            fc.integer({ min: 0, max: 2 * DAY }),
            fc.integer({ min: 0, max: 40 }).map((q) => q * QUARTER),
            fc.constantFrom(DAY, 23 * 3_600_000, 25 * 3_600_000, DAY + 1, DAY - 1),
          ),
          { minLength: 1, maxLength: 4 },
        ),
      }),
    ),
    campaign: fc.oneof(
      fc.constant(undefined),
      fc.nat({ max: 2 }),
      fc.constantFrom('999999999', 'abc', '0'),
    ),
    currency: fc.constantFrom(null, null, 'USD', 'EUR'),
  });
}

/** Data around one anchor, and queries over it. */
export const scenario = fc.constantFrom(...ANCHORS).chain((anchor) =>
  fc.record({
    data: dataset(anchor),
    specs: fc.array(statsQuery(anchor), { minLength: 1, maxLength: 6 }),
  }),
);

export type QuerySpec = Generated<ReturnType<typeof statsQuery>>;

interface Named {
  id: string;
  name: string;
}

/** What was recorded, as the model sees it. */
export interface Recorded {
  workspaceId: string;
  campaigns: Array<Named & { buyer: string }>;
  postbacks: Array<Named & { network: string }>;
  clicks: Array<{ campaignId: string; at: number; params: Record<string, string> }>;
  leads: Array<{ campaignId: string | null; at: number; params: Record<string, string> }>;
  conversions: Array<{
    campaignId: string | null;
    postbackId: string | null;
    params: Record<string, string>;
    event: string;
    micros: bigint | null;
    currency: string;
    at: number;
  }>;
}

const params = (s: string | null): Record<string, string> =>
  s === null ? { sub: 'x' } : { utm_source: s };

/** Writes the data set into a fresh workspace through the Store, as the app would. */
export async function record(store: Store, data: Dataset): Promise<Recorded> {
  const acc = await store.createAccount({
    email: `stats-${newClickid()}@example.com`,
    passwordHash: 'x',
    workspaceName: 'Stats',
    at: data.anchor,
  });
  if (acc === 'email_taken') throw new Error('email taken');
  const ws = acc.workspace.id;
  const out: Recorded = {
    workspaceId: ws,
    campaigns: [],
    postbacks: [],
    clicks: [],
    leads: [],
    conversions: [],
  };
  for (const [name, buyer] of [
    ['One', 'ann'],
    ['Two', 'bob'],
    ['Three', 'ann'],
  ] as const) {
    const c = await store.createCampaign(
      ws,
      { name, description: '', buyer, destinationUrl: '' },
      () => randomAlphanumeric(8),
      data.anchor,
    );
    out.campaigns.push({ id: c.id, name, buyer });
  }
  for (const network of ['1win', 'custom'] as const) {
    const p = await store.createPostback(
      ws,
      {
        name: `P ${network}`,
        network,
        campaignId: null,
        clickidParam: 'sub1',
        currency: 'USD',
        macros: {},
        enabled: true,
      },
      randomAlphanumeric(24),
      data.anchor,
    );
    out.postbacks.push({ id: p.id, name: `P ${network}`, network });
  }
  const leads: Array<{
    clickid: string;
    campaignId: string | null;
    params: Record<string, string>;
  }> = [];
  for (const click of data.clicks) {
    const campaign = out.campaigns[click.campaign];
    if (!campaign) throw new Error('no campaign');
    const at = data.anchor + click.at;
    const full = await store.getCampaign(ws, campaign.id);
    if (!full) throw new Error('campaign gone');
    const lead = await store.recordClick({
      campaign: full,
      params: params(click.source),
      ip: null,
      userAgent: null,
      referrer: null,
      at,
      newClickid,
    });
    out.clicks.push({ campaignId: campaign.id, at, params: params(click.source) });
    out.leads.push({ campaignId: campaign.id, at, params: params(click.source) });
    leads.push({ clickid: lead.clickid, campaignId: campaign.id, params: params(click.source) });
  }
  for (const l of data.leads) {
    const campaignId = l.campaign === null ? null : (out.campaigns[l.campaign]?.id ?? null);
    const at = data.anchor + l.at;
    const lead = await store.createLead(ws, {
      campaignId,
      externalId: null,
      username: null,
      params: params(l.source),
      at,
      newClickid,
    });
    out.leads.push({ campaignId, at, params: params(l.source) });
    leads.push({ clickid: lead.clickid, campaignId, params: params(l.source) });
  }
  let tid = 0;
  for (const c of data.conversions) {
    const lead = leads[c.lead % Math.max(1, leads.length)];
    if (!lead) break;
    const postbackId = c.postback === null ? null : (out.postbacks[c.postback]?.id ?? null);
    const at = data.anchor + c.at;
    const t = `t${tid++}`;
    for (let copy = 0; copy < (c.repeat ? 2 : 1); copy++) {
      const outcome = await store.recordEvent({
        workspaceId: ws,
        scopeCampaignId: null,
        clickid: lead.clickid,
        postbackId,
        plan: countingPlan({ event: c.event, micros: c.amount, currency: c.currency, tid: t }),
        micros: c.amount,
        currency: c.currency,
        tid: t,
        fields: {},
        at,
        windowMs: 60_000,
        log: null,
        note: null,
      });
      if (outcome.status !== 'recorded') continue;
      out.conversions.push({
        campaignId: lead.campaignId,
        postbackId,
        params: lead.params,
        event: outcome.event,
        micros: c.amount,
        currency: c.currency,
        at,
      });
    }
  }
  return out;
}

/** The Store query a spec stands for, over the recorded data's anchor. */
export function toQuery(spec: QuerySpec, data: Recorded, anchor: number): StatsQuery {
  const campaignId =
    typeof spec.campaign === 'number' ? data.campaigns[spec.campaign]?.id : spec.campaign;
  let fromMs: number;
  let toMs: number;
  let buckets: StatsQuery['buckets'];
  if (spec.range.kind === 'days') {
    const from = addDays(localDate(anchor, spec.tz), spec.range.first);
    const to = addDays(from, spec.range.days - 1);
    fromMs = startOfDay(from, spec.tz);
    toMs = startOfDay(addDays(to, 1), spec.tz);
    buckets = dayBuckets(from, to, spec.tz);
  } else {
    fromMs = anchor + spec.range.from;
    buckets = [];
    let start = fromMs;
    for (const [i, length] of spec.range.pieces.entries()) {
      buckets.push({ key: `p${i}`, startMs: start, endMs: start + length });
      start += length;
    }
    toMs = start;
  }
  return {
    groupBy: spec.groupBy,
    fromMs,
    toMs,
    buckets: spec.groupBy === 'day' ? buckets : [],
    currency: spec.currency,
    ...(campaignId === undefined ? {} : { campaignId }),
  };
}

/** What stats() must answer, row by row, by reading every recorded row. */
export function expectedStats(
  data: Recorded,
  q: StatsQuery,
): { rows: StatsRow[]; currency: string; currencies: string[] } {
  const inRange = (at: number) => at >= q.fromMs && at < q.toMs;
  const matches = (campaignId: string | null) =>
    q.campaignId === undefined || campaignId === q.campaignId;

  const priced = new Map<string, number>();
  for (const c of data.conversions) {
    if (c.micros === null || !inRange(c.at) || !matches(c.campaignId)) continue;
    priced.set(c.currency, (priced.get(c.currency) ?? 0) + 1);
  }
  const currencies = [...priced]
    .sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1))
    .map(([c]) => c);
  const currency = q.currency ?? currencies[0] ?? 'USD';

  const rows = new Map<string, StatsRow>();
  const row = (key: string, label: string) => {
    let r = rows.get(key);
    if (!r) {
      r = emptyStatsRow(key, label);
      rows.set(key, r);
    }
    return r;
  };
  if (q.groupBy === 'day') for (const b of q.buckets) row(b.key, b.key);

  const campaign = (id: string | null) => data.campaigns.find((c) => c.id === id);
  const postback = (id: string | null) => data.postbacks.find((p) => p.id === id);
  /** The groups a row counts towards ([] for none), with their labels. */
  const groups = (
    at: number,
    campaignId: string | null,
    postbackId: string | null | undefined,
    p: Record<string, string>,
  ): Array<[string, string]> => {
    if (!matches(campaignId)) return [];
    if (q.groupBy === 'day') {
      return q.buckets
        .filter((b) => at >= b.startMs && at < b.endMs)
        .map((b): [string, string] => [b.key, b.key]);
    }
    if (!inRange(at)) return [];
    switch (q.groupBy) {
      case 'campaign':
        return [[campaignId ?? '', campaign(campaignId)?.name ?? campaignId ?? '']];
      case 'buyer': {
        const buyer = campaign(campaignId)?.buyer ?? '';
        return [[buyer, buyer]];
      }
      case 'postback':
        if (postbackId === undefined) return [];
        return [[postbackId ?? '', postback(postbackId)?.name ?? postbackId ?? '']];
      case 'network': {
        if (postbackId === undefined) return [];
        const network = postback(postbackId)?.network ?? 'manual';
        return [[network, network]];
      }
      default: {
        const value = p[q.groupBy.slice('param.'.length)] ?? '';
        return [[value, value]];
      }
    }
  };

  for (const c of data.clicks) {
    for (const [key, label] of groups(c.at, c.campaignId, undefined, c.params)) {
      row(key, label).clicks++;
    }
  }
  for (const l of data.leads) {
    for (const [key, label] of groups(l.at, l.campaignId, undefined, l.params)) {
      row(key, label).leads++;
    }
  }
  for (const c of data.conversions) {
    for (const [key, label] of groups(c.at, c.campaignId, c.postbackId, c.params)) {
      const r = row(key, label);
      if (c.event === 'registration') r.registrations++;
      if (c.event === 'first_deposit') r.firstDeposits++;
      if (c.event === 'deposit') r.deposits++;
      if (c.currency !== currency || c.micros === null) continue;
      if (c.event === 'first_deposit') r.firstDepositMicros += c.micros;
      if (c.event === 'deposit') r.depositMicros += c.micros;
      if (c.micros < 0n) r.withdrawalMicros -= c.micros;
    }
  }
  return { rows: sortRows([...rows.values()]), currency, currencies };
}

export function sortRows(rows: StatsRow[]): StatsRow[] {
  return [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A fixed data set and queries, from a fixed seed: the same on every engine and run. */
export function fixedCase(seed: number): { data: Dataset; specs: QuerySpec[] } {
  const big = fc.constantFrom(...ANCHORS).chain((anchor) =>
    fc.record({
      data: dataset(anchor).filter((d) => d.clicks.length >= 15 && d.conversions.length >= 30),
      specs: fc.array(statsQuery(anchor), { minLength: 40, maxLength: 40 }),
    }),
  );
  const [sample] = fc.sample(big, { seed, numRuns: 1 });
  if (!sample) throw new Error('no sample');
  return sample;
}

async function answers(store: Store, recorded: Recorded, anchor: number, specs: QuerySpec[]) {
  const out = [];
  for (const spec of specs) {
    const q = toQuery(spec, recorded, anchor);
    const got = await store.stats(recorded.workspaceId, q);
    out.push({ spec, ...got, rows: sortRows(got.rows) });
  }
  return out;
}

/**
 * The rollups' life on one engine: kept by the triggers as rows are written,
 * rebuilt by migration 5 from rows written before it, and kept right when
 * rows are deleted or their keys change behind the Store's back.
 */
export async function rollupLifecycle(
  engine: {
    open(): Promise<Store>;
    /** Takes migration 5 out again, as if the database predated it. */
    forgetRollups(): Promise<void>;
    /** SQL on the raw tables, as an operator might run it. */
    exec(sql: string): Promise<void>;
  },
  check: {
    deepEqual(actual: unknown, expected: unknown, message?: string): void;
    notDeepEqual(actual: unknown, expected: unknown, message?: string): void;
  },
): Promise<void> {
  const { data, specs } = fixedCase(20_261_124);
  let store = await engine.open();
  const recorded = await record(store, data);
  const kept = await answers(store, recorded, data.anchor, specs);
  check.deepEqual(
    kept,
    specs.map((spec) => ({
      spec,
      ...expectedStats(recorded, toQuery(spec, recorded, data.anchor)),
    })),
    'kept by the triggers',
  );
  await store.close();

  await engine.forgetRollups();
  store = await engine.open();
  check.deepEqual(await answers(store, recorded, data.anchor, specs), kept, 'backfilled');

  await engine.exec(`
    DELETE FROM conversions WHERE id % 3 = 0;
    UPDATE conversions SET at = at + 3600001, currency = 'EUR' WHERE id % 4 = 1;
    UPDATE conversions SET amount_micros = -amount_micros, event = 'deposit' WHERE id % 5 = 2;
    UPDATE conversions SET campaign_id = NULL, postback_id = NULL WHERE id % 7 = 3;
    DELETE FROM clicks WHERE id % 5 = 0;
    UPDATE clicks SET at = at - 900001 WHERE id % 2 = 0;
    UPDATE leads SET campaign_id = NULL WHERE id % 3 = 0;
    UPDATE leads SET created_at = created_at + 1 WHERE id % 4 = 0;
  `);
  const changed = await answers(store, recorded, data.anchor, specs);
  check.notDeepEqual(changed, kept, 'the changes show');
  await store.close();

  await engine.forgetRollups();
  store = await engine.open();
  check.deepEqual(
    await answers(store, recorded, data.anchor, specs),
    changed,
    'kept through deletes and updates = rebuilt from the rows',
  );
  await store.close();
}
