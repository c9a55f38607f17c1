// Dashboard: clicks, registrations, first deposits and deposit amounts per day
// (stats groupBy=day), drawn with uPlot — loaded only when this page opens.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Stats } from '../api';
import { type MessageKey, useI18n } from '../i18n';
import { Empty, ErrorBox, Loading } from '../ui/common';
import { useStats } from './stats';
import { StatsFilters, useStatsFilter } from './stats-filters';

interface SeriesSpec {
  label: MessageKey;
  color: string;
  values: (stats: Stats) => number[];
}

interface ChartSpec {
  title: MessageKey;
  money?: boolean;
  series: SeriesSpec[];
}

const CHARTS: ChartSpec[] = [
  {
    title: 'dash.clicks',
    series: [
      { label: 'dash.clicks', color: '#2563eb', values: (s) => s.rows.map((r) => r.clicks) },
    ],
  },
  {
    title: 'dash.registrations',
    series: [
      {
        label: 'dash.registrations',
        color: '#16a34a',
        values: (s) => s.rows.map((r) => r.registrations),
      },
    ],
  },
  {
    title: 'dash.ftd',
    series: [
      { label: 'dash.ftd', color: '#ea580c', values: (s) => s.rows.map((r) => r.firstDeposits) },
    ],
  },
  {
    title: 'dash.amounts',
    money: true,
    series: [
      {
        label: 'dash.ftdAmount',
        color: '#7c3aed',
        values: (s) => s.rows.map((r) => Number(r.firstDepositAmount)),
      },
      {
        label: 'dash.rdAmount',
        color: '#0891b2',
        values: (s) => s.rows.map((r) => Number(r.depositAmount)),
      },
    ],
  },
];

export default function DashboardPage() {
  const i18n = useI18n();
  const { t, num, money } = i18n;
  const filter = useStatsFilter();
  const stats = useStats(filter, 'day');
  const data = stats.data;
  const totals = data?.totals;
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('dash.title')}</h1>
      </div>
      <StatsFilters filter={filter} withGrouping={false} currencies={stats.data?.currencies} />
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {!data && !stats.error && <Loading />}
      {data && totals && (
        <>
          <div className="kpis">
            <Kpi label={t('dash.clicks')} value={num(totals.clicks)} />
            <Kpi label={t('dash.registrations')} value={num(totals.registrations)} />
            <Kpi label={t('dash.ftd')} value={num(totals.firstDeposits)} />
            <Kpi
              label={t('stats.totalAmount')}
              value={money(totals.totalDepositAmount ?? totals.firstDepositAmount, data.currency)}
            />
          </div>
          {totals.clicks + totals.registrations + totals.firstDeposits + totals.deposits === 0 && (
            <Empty title={t('stats.emptyTitle')}>
              <p>{t('stats.emptyText')}</p>
            </Empty>
          )}
          <div className="charts">
            {CHARTS.map((chart) => (
              <div className="card chart-card" key={chart.title}>
                <h2>
                  {t(chart.title)}
                  {chart.money && <span className="muted small"> · {data.currency}</span>}
                </h2>
                <Chart spec={chart} stats={data} />
              </div>
            ))}
          </div>
        </>
      )}
    </section>
  );
}

function Kpi({ label, value }: { label: string; value: string }) {
  return (
    <div className="kpi card">
      <div className="kpi-label">{label}</div>
      <div className="kpi-value">{value}</div>
    </div>
  );
}

function Chart({ spec, stats }: { spec: ChartSpec; stats: Stats }) {
  const { t, lang, num, money } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = stats.rows.map((r) => Date.parse(`${r.key}T00:00:00Z`) / 1000);
    const locale = lang === 'ru' ? 'ru-RU' : 'en-US';
    const dayFormat = new Intl.DateTimeFormat(locale, {
      month: 'short',
      day: 'numeric',
      timeZone: 'UTC',
    });
    const format = (v: number) => (spec.money ? money(v.toFixed(2), stats.currency) : num(v));
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: 200,
      legend: { show: spec.series.length > 1 },
      cursor: { points: { size: 6 } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          stroke: '#64748b',
          grid: { stroke: '#eef1f5' },
          ticks: { stroke: '#e2e8f0' },
          values: (_u, splits) => splits.map((s) => dayFormat.format(new Date(s * 1000))),
          space: 60,
        },
        {
          stroke: '#64748b',
          grid: { stroke: '#eef1f5' },
          ticks: { show: false },
          size: spec.money ? 70 : 50,
          values: (_u, splits) =>
            splits.map((s) => (Number.isInteger(s) || spec.money ? format(s) : '')),
        },
      ],
      series: [
        {
          label: t('stats.group.day'),
          value: (_u, v) => (v == null ? '' : dayFormat.format(new Date(v * 1000))),
        },
        ...spec.series.map((s) => ({
          label: t(s.label),
          stroke: s.color,
          width: 2,
          fill: `${s.color}1a`,
          points: { show: stats.rows.length <= 45, size: 5, fill: s.color },
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : format(v)),
        })),
      ],
    };
    const chart = new uPlot(opts, [xs, ...spec.series.map((s) => s.values(stats))], el);
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(el.clientWidth, 200), height: 200 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [spec, stats, lang, t, num, money]);
  return (
    <div
      ref={box}
      className="chart"
      role="img"
      aria-label={`${t(spec.title)}: ${spec.series.map((s) => `${t(s.label)} ${format(s.values(stats).reduce((a, b) => a + b, 0))}`).join(', ')}`}
    />
  );

  function format(v: number) {
    return spec.money ? money(v.toFixed(2), stats.currency) : num(v);
  }
}
