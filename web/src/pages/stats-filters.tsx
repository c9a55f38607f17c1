// The filters Analytics and Dashboard share: date range, time zone, campaign (and
// for Analytics the grouping). They live in the URL so a view can be bookmarked.
import { useEffect, useState } from 'react';
import { type Campaign, get } from '../api';
import { type MessageKey, useI18n } from '../i18n';
import { useQueryState } from '../router';
import { Field } from '../ui/common';
import { useLoad } from '../ui/use-load';

export const GROUPS = ['day', 'campaign', 'postback', 'network', 'buyer', 'param'] as const;
export type Group = (typeof GROUPS)[number];

export interface StatsFilter {
  from: string;
  to: string;
  tz: string;
  campaignId: string;
  group: Group;
  param: string;
  /** The API's groupBy: `day`… or `param.<name>`. */
  groupBy: string;
  /** The currency amounts are summed in; empty: the one most used in the range. */
  currency: string;
}

const browserTz = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
})();

/** Today in a time zone as YYYY-MM-DD. */
export function today(tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

export function shiftDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

const zones: string[] = (() => {
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  const list = supported ? supported('timeZone') : [];
  return Array.from(new Set(['UTC', browserTz, ...list]));
})();

export function useStatsFilter(): StatsFilter {
  const [query] = useQueryState();
  const tz = query.get('tz') || browserTz;
  const to = query.get('to') || today(tz);
  const from = query.get('from') || shiftDays(to, -29);
  const group = (GROUPS as readonly string[]).includes(query.get('group') ?? '')
    ? (query.get('group') as Group)
    : 'day';
  const param = query.get('param') ?? '';
  const groupBy = group === 'param' ? (param ? `param.${param}` : 'day') : group;
  return {
    from,
    to,
    tz,
    campaignId: query.get('campaignId') ?? '',
    group,
    param,
    groupBy,
    currency: query.get('currency') ?? '',
  };
}

export function StatsFilters({
  filter,
  withGrouping,
  currencies,
}: {
  filter: StatsFilter;
  withGrouping: boolean;
  /** The currencies with amounts in the range: a choice is offered when there are several. */
  currencies?: string[];
}) {
  const { t } = useI18n();
  const [, setQuery] = useQueryState();
  const campaigns = useLoad(
    (signal) => get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    [],
  );
  const [param, setParam] = useState(filter.param);
  useEffect(() => setParam(filter.param), [filter.param]);
  const preset = (days: number) => {
    const to = today(filter.tz);
    setQuery({ to, from: shiftDays(to, -(days - 1)) });
  };
  return (
    <div className="filters">
      <Field label={t('stats.from')}>
        {(id) => (
          <input
            id={id}
            type="date"
            value={filter.from}
            max={filter.to}
            onChange={(e) => e.target.value && setQuery({ from: e.target.value })}
          />
        )}
      </Field>
      <Field label={t('stats.to')}>
        {(id) => (
          <input
            id={id}
            type="date"
            value={filter.to}
            min={filter.from}
            onChange={(e) => e.target.value && setQuery({ to: e.target.value })}
          />
        )}
      </Field>
      <fieldset className="presets">
        <legend className="visually-hidden">{t('stats.range')}</legend>
        <button type="button" className="btn btn-small" onClick={() => preset(1)}>
          {t('stats.today')}
        </button>
        <button type="button" className="btn btn-small" onClick={() => preset(7)}>
          {t('stats.last7')}
        </button>
        <button type="button" className="btn btn-small" onClick={() => preset(30)}>
          {t('stats.last30')}
        </button>
      </fieldset>
      <Field label={t('stats.tz')}>
        {(id) => (
          <select id={id} value={filter.tz} onChange={(e) => setQuery({ tz: e.target.value })}>
            {zones.map((zone) => (
              <option key={zone} value={zone}>
                {zone}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t('stats.campaign')}>
        {(id) => (
          <select
            id={id}
            value={filter.campaignId}
            onChange={(e) => setQuery({ campaignId: e.target.value })}
          >
            <option value="">{t('postbacks.allCampaigns')}</option>
            {campaigns.data?.items.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      {currencies && (currencies.length > 1 || filter.currency !== '') && (
        <Field label={t('stats.currency')}>
          {(id) => (
            <select
              id={id}
              value={filter.currency}
              onChange={(e) => setQuery({ currency: e.target.value })}
            >
              {/* The choice stays in the URL; a range without it still offers the way back. */}
              <option value="">{t('stats.currencyMostUsed')}</option>
              {[...new Set([...currencies, ...(filter.currency ? [filter.currency] : [])])].map(
                (code) => (
                  <option key={code} value={code}>
                    {code}
                  </option>
                ),
              )}
            </select>
          )}
        </Field>
      )}
      {withGrouping && (
        <Field label={t('stats.groupBy')}>
          {(id) => (
            <select
              id={id}
              value={filter.group}
              onChange={(e) => setQuery({ group: e.target.value })}
            >
              {GROUPS.map((g) => (
                <option key={g} value={g}>
                  {t(`stats.group.${g}` as MessageKey)}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      {withGrouping && filter.group === 'param' && (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ param: param.trim() });
          }}
        >
          <Field label={t('stats.param')}>
            {(id) => (
              <input
                id={id}
                className="mono"
                maxLength={64}
                pattern="[A-Za-z0-9_.\-]+"
                placeholder={t('stats.paramPlaceholder')}
                value={param}
                onChange={(e) => setParam(e.target.value)}
                onBlur={() => setQuery({ param: param.trim() })}
              />
            )}
          </Field>
        </form>
      )}
    </div>
  );
}
