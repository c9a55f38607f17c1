// GET /api/v1/stats — clicks, leads and conversions by day (in the caller's
// time zone), campaign, postback, network, buyer or a click parameter.
import { formatMicros, parseCurrency } from '../../../domain/money.js';
import {
  addDays,
  dayBuckets,
  isTimeZone,
  localDate,
  startOfDay,
} from '../../../domain/time-range.js';
import { account } from '../../../http/auth.js';
import { AppError } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import { emptyStatsRow, type StatsGroup, type StatsRow } from '../../../store/store.js';

const DATE = '^\\d{4}-\\d{2}-\\d{2}$';
const MAX_DAYS = 400;

export async function statsRoutes(app: App): Promise<void> {
  const { store, now } = app.deps;
  app.get(
    '/stats',
    {
      schema: {
        tags: ['statistics'],
        summary:
          'Totals per group. deposits/depositAmount are repeat deposits; firstDeposits/firstDepositAmount the FTDs. Sums are in one currency (the most used one unless given).',
        querystring: Type.Object({
          from: Type.Optional(
            Type.String({ pattern: DATE, description: 'first local day, YYYY-MM-DD' }),
          ),
          to: Type.Optional(
            Type.String({ pattern: DATE, description: 'last local day, inclusive' }),
          ),
          groupBy: Type.Optional(
            Type.String({
              maxLength: 70,
              pattern: '^(day|campaign|postback|network|buyer|param\\.[A-Za-z0-9_.-]{1,64})$',
              default: 'day',
            }),
          ),
          campaignId: Type.Optional(Type.String({ maxLength: 32 })),
          tz: Type.Optional(
            Type.String({ maxLength: 64, default: 'UTC', description: 'IANA time zone' }),
          ),
          currency: Type.Optional(Type.String({ minLength: 3, maxLength: 5 })),
        }),
      },
    },
    async (request) => {
      const acc = account(request);
      const q = request.query;
      const tz = q.tz ?? 'UTC';
      if (!isTimeZone(tz))
        throw new AppError(400, 'invalid_timezone', `"${tz}" is not an IANA time zone`);
      const to = q.to ?? localDate(now(), tz);
      const from = q.from ?? addDays(to, -29);
      if (!validDate(from) || !validDate(to))
        throw new AppError(400, 'invalid_date', 'from and to must be real dates');
      if (from > to) throw new AppError(400, 'invalid_range', 'from is after to');
      if (addDays(from, MAX_DAYS) <= to)
        throw new AppError(400, 'invalid_range', `at most ${MAX_DAYS} days at once`);
      let currency: string | null = null;
      if (q.currency) {
        const parsed = parseCurrency(q.currency);
        if (!parsed.ok) throw new AppError(400, 'invalid_currency', parsed.reason);
        currency = parsed.code;
      }
      const groupBy = (q.groupBy ?? 'day') as StatsGroup;
      const fromMs = startOfDay(from, tz);
      const toMs = startOfDay(addDays(to, 1), tz);
      const buckets = groupBy === 'day' ? dayBuckets(from, to, tz) : [];
      const query = {
        groupBy,
        fromMs,
        toMs,
        buckets,
        campaignId: q.campaignId,
        currency,
      };
      const result = await store.stats(acc.workspace.id, query);
      const rows = result.rows.sort((a, b) =>
        groupBy === 'day'
          ? a.key.localeCompare(b.key)
          : b.registrations + b.firstDeposits - (a.registrations + a.firstDeposits) ||
            a.key.localeCompare(b.key),
      );
      const totals = rows.reduce(addRow, emptyStatsRow('total', 'total'));
      return {
        from,
        to,
        tz,
        groupBy,
        currency: result.currency,
        currencies: result.currencies,
        rows: rows.map(presentRow),
        totals: presentRow(totals),
      };
    },
  );
}

function validDate(date: string): boolean {
  const d = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === date;
}

function addRow(sum: StatsRow, r: StatsRow): StatsRow {
  return {
    ...sum,
    clicks: sum.clicks + r.clicks,
    leads: sum.leads + r.leads,
    registrations: sum.registrations + r.registrations,
    firstDeposits: sum.firstDeposits + r.firstDeposits,
    firstDepositMicros: sum.firstDepositMicros + r.firstDepositMicros,
    deposits: sum.deposits + r.deposits,
    depositMicros: sum.depositMicros + r.depositMicros,
    withdrawalMicros: sum.withdrawalMicros + r.withdrawalMicros,
  };
}

function presentRow(r: StatsRow) {
  return {
    key: r.key,
    label: r.label,
    clicks: r.clicks,
    leads: r.leads,
    registrations: r.registrations,
    firstDeposits: r.firstDeposits,
    firstDepositAmount: formatMicros(r.firstDepositMicros),
    deposits: r.deposits,
    depositAmount: formatMicros(r.depositMicros),
    totalDepositAmount: formatMicros(r.firstDepositMicros + r.depositMicros),
    withdrawalAmount: formatMicros(r.withdrawalMicros),
  };
}
