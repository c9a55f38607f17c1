// Logs → Source logs: every attempt to send an event to a source (Facebook, webhook)
// or an auto action, newest first, polled while the first page is open; filtered by
// campaign, source, event and status; a row opens the request and the answer, and
// "Retry" sends that event again now (same event_id, so nothing is counted twice).
import { type FormEvent, Fragment, type ReactNode, useEffect, useRef, useState } from 'react';
import {
  type AutoAction,
  api,
  type Campaign,
  DELIVERY_STATUSES,
  type Delivery,
  get,
  type Source,
} from '../api';
import { useI18n } from '../i18n';
import { Link, useQueryState } from '../router';
import { Empty, ErrorBox, Field, Loading, Notice, Pager, usePager } from '../ui/common';
import { useLivePage } from '../ui/use-live-page';
import { useLoad } from '../ui/use-load';
import {
  DeliveryBadge,
  SourceTypeBadge,
  sortEvents,
  useEventName,
  useForwardingText,
} from './forwarding-ui';
import { LogsTabs } from './logs';

const PAGE_SIZE = 50;
const EVENT_SUGGESTIONS = [
  'click',
  'contact',
  'registration',
  'first_deposit',
  'deposit',
  'withdrawal',
];

interface Destination {
  id: string;
  label: string;
  campaignId: string;
}

/** Sources and auto actions of one campaign, or of all of them (for the filter). */
async function loadDestinations(
  campaigns: Campaign[],
  campaignId: string,
  autoActionLabel: (event: string) => string,
  signal: AbortSignal,
): Promise<Destination[]> {
  const chosen = campaignId ? campaigns.filter((c) => c.id === campaignId) : campaigns;
  const lists = await Promise.all(
    chosen.map(async (c) => {
      const base = `/campaigns/${encodeURIComponent(c.id)}`;
      const [sources, actions] = await Promise.all([
        get<{ items: Source[] }>(`${base}/sources`, undefined, signal).catch(() => ({
          items: [] as Source[],
        })),
        get<{ items: AutoAction[] }>(`${base}/auto-actions`, undefined, signal).catch(() => ({
          items: [] as AutoAction[],
        })),
      ]);
      const prefix = campaignId ? '' : `${c.name} · `;
      return [
        ...sources.items.map((s) => ({ id: s.id, label: `${prefix}${s.name}`, campaignId: c.id })),
        ...actions.items.map((a) => ({
          id: a.id,
          label: `${prefix}${autoActionLabel(a.event)}`,
          campaignId: c.id,
        })),
      ];
    }),
  );
  return lists.flat();
}

export default function SourceLogsPage() {
  const { t, time } = useI18n();
  const f = useForwardingText();
  const eventName = useEventName();
  const [query, setQuery] = useQueryState();
  const campaignId = query.get('campaignId') ?? '';
  const sourceId = query.get('sourceId') ?? '';
  const event = query.get('event') ?? '';
  const status = query.get('status') ?? '';
  const [eventDraft, setEventDraft] = useState(event);
  const pager = usePager();
  const { reset } = pager;
  // biome-ignore lint/correctness/useExhaustiveDependencies: new filters start at page 1
  useEffect(() => reset(), [campaignId, sourceId, event, status]);
  useEffect(() => setEventDraft(event), [event]);

  const campaigns = useLoad(
    (signal) => get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    [],
  );
  const autoActionLabel = (e: string) => f('logs.autoActionOption', { event: eventName(e) });
  const labelRef = useRef(autoActionLabel);
  labelRef.current = autoActionLabel;
  const destinations = useLoad(
    async (signal) =>
      campaigns.data
        ? loadDestinations(campaigns.data.items, campaignId, labelRef.current, signal)
        : [],
    [campaigns.data, campaignId],
  );
  const campaignNames = new Map(campaigns.data?.items.map((c) => [c.id, c.name]));

  const [open, setOpen] = useState<string | null>(null);
  const [retrying, setRetrying] = useState<string | null>(null);
  const [retryError, setRetryError] = useState<unknown>(null);
  const [queued, setQueued] = useState<Delivery | null>(null);
  const live = pager.page === 1;
  const { page, error, fresh, reload } = useLivePage<Delivery>(
    '/deliveries',
    { campaignId, sourceId, event, status, limit: PAGE_SIZE, cursor: pager.cursor },
    live,
  );

  const retry = async (delivery: Delivery) => {
    setRetrying(delivery.id);
    setRetryError(null);
    setQueued(null);
    try {
      await api('POST', `/deliveries/${encodeURIComponent(delivery.id)}/retry`);
      setQueued(delivery);
      reload();
    } catch (failure) {
      setRetryError(failure);
    } finally {
      setRetrying(null);
    }
  };

  const filterEvent = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ event: eventDraft.trim().toLowerCase() });
  };
  const items = page?.items ?? [];
  const filtered = campaignId !== '' || sourceId !== '' || event !== '' || status !== '';
  const listId = 'source-log-events';

  return (
    <section className="page">
      <LogsTabs current="sources" />
      <div className="page-head">
        <h1>{f('logs.title')}</h1>
        <span className={`live ${live ? 'on' : ''}`} role="status">
          <span className="live-dot" aria-hidden="true" />
          {live ? t('logs.live') : t('logs.paused')}
        </span>
      </div>
      <form className="filters" onSubmit={filterEvent}>
        <Field label={f('logs.campaign')}>
          {(id) => (
            <select
              id={id}
              value={campaignId}
              onChange={(e) => setQuery({ campaignId: e.target.value, sourceId: null })}
            >
              <option value="">{t('common.all')}</option>
              {campaigns.data?.items.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={f('logs.source')}>
          {(id) => (
            <select
              id={id}
              value={sourceId}
              onChange={(e) => setQuery({ sourceId: e.target.value })}
            >
              <option value="">{t('common.all')}</option>
              {sourceId && !destinations.data?.some((d) => d.id === sourceId) && (
                <option value={sourceId}>{sourceId}</option>
              )}
              {destinations.data?.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={f('logs.event')}>
          {(id) => (
            <>
              <input
                id={id}
                className="mono"
                list={listId}
                maxLength={40}
                placeholder={f('logs.anyEvent')}
                value={eventDraft}
                onChange={(e) => setEventDraft(e.target.value)}
                onBlur={() => {
                  if (eventDraft.trim().toLowerCase() !== event)
                    setQuery({ event: eventDraft.trim().toLowerCase() });
                }}
              />
              <datalist id={listId}>
                {sortEvents(EVENT_SUGGESTIONS).map((e) => (
                  <option key={e} value={e}>
                    {eventName(e)}
                  </option>
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label={f('logs.status')}>
          {(id) => (
            <select id={id} value={status} onChange={(e) => setQuery({ status: e.target.value })}>
              <option value="">{t('common.all')}</option>
              {DELIVERY_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {f(`status.${s}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="btn">
          {f('logs.apply')}
        </button>
      </form>
      {queued && (
        <Notice>
          {f('logs.retryQueued', { event: eventName(queued.event), source: queued.sourceName })}
        </Notice>
      )}
      <ErrorBox error={retryError} />
      <ErrorBox error={error} />
      {!page && !error && <Loading />}
      {page && items.length === 0 && pager.page === 1 && (
        <Empty
          title={filtered ? t('common.notFound') : f('logs.emptyTitle')}
          action={
            !filtered && (
              <Link to="/tracker/campaigns" className="btn">
                {t('nav.campaigns')} →
              </Link>
            )
          }
        >
          <p>{filtered ? f('logs.noMatch') : f('logs.emptyText')}</p>
        </Empty>
      )}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="table logs deliveries">
            <thead>
              <tr>
                <th scope="col">{t('logs.time')}</th>
                <th scope="col">{f('logs.source')}</th>
                <th scope="col">{f('logs.event')}</th>
                <th scope="col">{f('logs.status')}</th>
                <th scope="col" className="num">
                  {t('logs.http')}
                </th>
                <th scope="col" className="num">
                  {f('logs.attempt')}
                </th>
                <th scope="col" className="num">
                  {f('logs.duration')}
                </th>
                <th scope="col">
                  <span className="visually-hidden">{f('logs.retry')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => {
                const isOpen = open === d.id;
                const bad = d.status === 'failed' || d.status === 'expired';
                return (
                  <Fragment key={d.id}>
                    <tr
                      className={`log-row delivery-row status-${d.status} ${bad ? 'rejected' : ''} ${fresh.has(d.id) ? 'fresh' : ''} ${isOpen ? 'open' : ''}`}
                      onClick={() => setOpen(isOpen ? null : d.id)}
                    >
                      <td className="nowrap">
                        <button
                          type="button"
                          className="row-toggle"
                          aria-expanded={isOpen}
                          aria-controls={`delivery-${d.id}`}
                          onClick={(e) => {
                            e.stopPropagation();
                            setOpen(isOpen ? null : d.id);
                          }}
                        >
                          <span aria-hidden="true">{isOpen ? '▾' : '▸'}</span> {time(d.at)}
                        </button>
                      </td>
                      <td>
                        <span className="strong">{d.sourceName}</span>{' '}
                        <SourceTypeBadge type={d.sourceType} />
                      </td>
                      <td>
                        {eventName(d.event)}
                        {d.destinationEvent && (
                          <span className="muted">
                            {' '}
                            → <code>{d.destinationEvent}</code>
                          </span>
                        )}
                      </td>
                      <td>
                        <DeliveryBadge status={d.status} />
                        {d.error && (
                          <span className="err-code clip err-short" title={d.error}>
                            {d.error}
                          </span>
                        )}
                      </td>
                      <td
                        className={`num mono ${d.httpStatus && d.httpStatus >= 400 ? 'http-bad' : ''}`}
                      >
                        {d.httpStatus ?? <span className="muted">—</span>}
                      </td>
                      <td className="num">{d.attempt}</td>
                      <td className="num">{f('logs.ms', { ms: d.durationMs })}</td>
                      <td className="num">
                        <button
                          type="button"
                          className={`btn btn-small ${bad ? 'btn-primary' : ''}`}
                          disabled={retrying === d.id}
                          aria-label={f('logs.retryLabel', {
                            event: eventName(d.event),
                            source: d.sourceName,
                            time: time(d.at),
                          })}
                          onClick={(e) => {
                            e.stopPropagation();
                            void retry(d);
                          }}
                        >
                          {retrying === d.id ? f('logs.retrying') : f('logs.retry')}
                        </button>
                      </td>
                    </tr>
                    {isOpen && (
                      <tr className="log-detail" id={`delivery-${d.id}`}>
                        <td colSpan={8}>
                          <DeliveryDetail
                            delivery={d}
                            campaignName={campaignNames.get(d.campaignId)}
                          />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        page={pager.page}
        hasNext={Boolean(page?.nextCursor)}
        onPrev={pager.prev}
        onNext={() => page?.nextCursor && pager.next(page.nextCursor)}
      />
    </section>
  );
}

function DeliveryDetail({ delivery, campaignName }: { delivery: Delivery; campaignName?: string }) {
  const { t, dateTime } = useI18n();
  const f = useForwardingText();
  const eventName = useEventName();
  const row = (label: string, value: ReactNode) => (
    <div>
      <dt>{label}</dt>
      <dd>{value ?? <span className="muted">—</span>}</dd>
    </div>
  );
  const section = delivery.sourceType === 'auto_action' ? 'auto-actions' : ('sources' as const);
  return (
    <div className="detail-grid">
      <div>
        <h3>{t('logs.request')}</h3>
        <pre className="body exchange">{delivery.request}</pre>
        <dl className="kv">
          {row(t('logs.time'), dateTime(delivery.at))}
          {row(
            f('logs.event'),
            <>
              {eventName(delivery.event)} <code className="event-code">{delivery.event}</code>
              {delivery.destinationEvent && (
                <>
                  {' '}
                  → <code>{delivery.destinationEvent}</code>
                </>
              )}
            </>,
          )}
          {row(f('logs.eventId'), <code>{delivery.eventId}</code>)}
          {row(f('logs.attempt'), delivery.attempt)}
          {row(
            f('logs.source'),
            <Link to={`/tracker/campaigns/${encodeURIComponent(delivery.campaignId)}/${section}`}>
              {campaignName ? `${campaignName} · ` : ''}
              {delivery.sourceName}
            </Link>,
          )}
        </dl>
      </div>
      <div>
        <h3>{f('logs.response')}</h3>
        {delivery.response ? (
          <pre className="body exchange">{delivery.response}</pre>
        ) : (
          <p className="muted">{f('logs.noResponse')}</p>
        )}
        <dl className="kv">
          {row(
            t('logs.httpStatus'),
            delivery.httpStatus === null ? null : <code>{delivery.httpStatus}</code>,
          )}
          {row(f('logs.status'), <DeliveryBadge status={delivery.status} />)}
          {row(
            t('logs.error'),
            delivery.error && <code className="negative">{delivery.error}</code>,
          )}
          {row(f('logs.duration'), f('logs.ms', { ms: delivery.durationMs }))}
        </dl>
      </div>
    </div>
  );
}
