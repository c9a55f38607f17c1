// Analytics: one table per filter set, a totals row, and CSV export of exactly what is shown.
import { get, type Network, type Stats, type StatsRow } from '../api';
import { type I18n, type MessageKey, useI18n } from '../i18n';
import { Empty, ErrorBox, Loading } from '../ui/common';
import { useLoad } from '../ui/use-load';
import { networkLabel } from './postbacks';
import { type StatsFilter, StatsFilters, useStatsFilter } from './stats-filters';

export function useStats(filter: StatsFilter, groupBy: string) {
  return useLoad(
    (signal) =>
      get<Stats>(
        '/stats',
        {
          from: filter.from,
          to: filter.to,
          tz: filter.tz,
          campaignId: filter.campaignId,
          groupBy,
          currency: filter.currency || undefined,
        },
        signal,
      ),
    [filter.from, filter.to, filter.tz, filter.campaignId, groupBy, filter.currency],
  );
}

interface Column {
  key: MessageKey;
  /** The raw value, as exported to CSV. */
  raw: (row: StatsRow) => string;
  /** The value as shown. */
  show: (row: StatsRow) => string;
  money?: boolean;
}

function columns(i18n: I18n, currency: string): Column[] {
  const { num, money, percent } = i18n;
  const count = (key: MessageKey, pick: (row: StatsRow) => number): Column => ({
    key,
    raw: (row) => String(pick(row)),
    show: (row) => num(pick(row)),
  });
  const amount = (key: MessageKey, pick: (row: StatsRow) => string): Column => ({
    key,
    raw: pick,
    show: (row) => money(pick(row), currency),
    money: true,
  });
  const cr = (row: StatsRow) => (row.clicks > 0 ? row.registrations / row.clicks : null);
  return [
    count('stats.clicks', (r) => r.clicks),
    count('stats.leads', (r) => r.leads),
    count('stats.registrations', (r) => r.registrations),
    {
      key: 'stats.cr',
      raw: (row) => {
        const value = cr(row);
        return value === null ? '' : (value * 100).toFixed(2);
      },
      show: (row) => {
        const value = cr(row);
        return value === null ? '—' : percent(value);
      },
    },
    count('stats.ftd', (r) => r.firstDeposits),
    amount('stats.ftdAmount', (r) => r.firstDepositAmount),
    count('stats.rd', (r) => r.deposits),
    amount('stats.rdAmount', (r) => r.depositAmount),
    amount('stats.totalAmount', (r) => r.totalDepositAmount ?? r.firstDepositAmount),
    amount('stats.withdrawals', (r) => r.withdrawalAmount),
  ];
}

export function rowLabel(i18n: I18n, group: string, row: StatsRow): string {
  if (group === 'day') return i18n.date(row.key);
  if (group === 'network' && ['1win', 'binomo', 'pocket_option', 'custom'].includes(row.key))
    return networkLabel(i18n.t, row.key as Network);
  const label = row.label ?? row.key;
  return label === '' ? i18n.t('stats.none') : label;
}

function csvCell(value: string): string {
  return /[",\n;]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function StatsPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const filter = useStatsFilter();
  const stats = useStats(filter, filter.groupBy);
  const data = stats.data;
  // The grouping of the rows on screen: while another loads, they are still
  // the previous one's (a buyer's name is not a day).
  const shownGroupBy = data?.groupBy ?? filter.groupBy;
  const group = shownGroupBy.startsWith('param.') ? 'param' : shownGroupBy;
  const groupTitle = t(`stats.group.${group}` as MessageKey);
  const cols = data ? columns(i18n, data.currency) : [];
  const hasAny = data
    ? data.totals.clicks +
        data.totals.leads +
        data.totals.registrations +
        data.totals.firstDeposits +
        data.totals.deposits >
      0
    : false;

  const exportCsv = () => {
    if (!data) return;
    const header = [
      groupTitle,
      ...cols.map((c) => (c.money ? `${t(c.key)} (${data.currency})` : t(c.key))),
    ];
    const lines = [header];
    for (const row of data.rows)
      lines.push([
        group === 'day' ? row.key : rowLabel(i18n, group, row),
        ...cols.map((c) => c.raw(row)),
      ]);
    lines.push([t('common.total'), ...cols.map((c) => c.raw(data.totals))]);
    const csv = `\uFEFF${lines.map((line) => line.map(csvCell).join(',')).join('\r\n')}\r\n`;
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `clickback-${shownGroupBy}-${data.from}_${data.to}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('stats.title')}</h1>
        <button
          type="button"
          className="btn"
          onClick={exportCsv}
          disabled={!data || data.rows.length === 0}
        >
          ⤓ {t('stats.export')}
        </button>
      </div>
      <StatsFilters filter={filter} withGrouping currencies={data?.currencies} />
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {!data && !stats.error && <Loading />}
      {data && !hasAny && (
        <Empty title={t('stats.emptyTitle')}>
          <p>{t('stats.emptyText')}</p>
        </Empty>
      )}
      {data && (hasAny || data.rows.length > 0) && (
        <>
          <div className={`table-wrap ${stats.loading ? 'stale' : ''}`}>
            <table className="table stats">
              <thead>
                <tr>
                  <th scope="col">{groupTitle}</th>
                  {cols.map((c) => (
                    <th scope="col" key={c.key} className="num">
                      {t(c.key)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.rows.map((row) => (
                  <tr
                    key={row.key}
                    className={
                      row.clicks +
                        row.leads +
                        row.registrations +
                        row.firstDeposits +
                        row.deposits ===
                        0 && Number(row.withdrawalAmount) === 0
                        ? 'zero'
                        : ''
                    }
                  >
                    <th scope="row">{rowLabel(i18n, group, row)}</th>
                    {cols.map((c) => (
                      <td key={c.key} className="num">
                        {c.show(row)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">{t('common.total')}</th>
                  {cols.map((c) => (
                    <td key={c.key} className="num" data-col={c.key}>
                      {c.show(data.totals)}
                    </td>
                  ))}
                </tr>
              </tfoot>
            </table>
          </div>
          <p className="hint">
            {t('stats.currencyNote', { currency: data.currency })}
            {(data.currencies?.length ?? 0) > 1 &&
              ` ${t('stats.otherCurrencies', {
                currencies: (data.currencies ?? []).filter((c) => c !== data.currency).join(', '),
              })}`}
          </p>
        </>
      )}
    </section>
  );
}
