// Logs → Postback logs (Source logs are in source-logs.tsx): newest first, polled every 2 s while the first page is open,
// filtered by postback and status, searchable; a row opens the request and our answer.
import { type FormEvent, Fragment, type ReactNode, useEffect, useState } from 'react';
import { get, LOG_STATUSES, type LogEntry, type Postback } from '../api';
import { useI18n } from '../i18n';
import { Link, useQueryState } from '../router';
import {
  Empty,
  ErrorBox,
  eventLabel,
  Field,
  Loading,
  Pager,
  StatusBadge,
  usePager,
} from '../ui/common';
import { useLivePage } from '../ui/use-live-page';
import { useLoad } from '../ui/use-load';

const PAGE_SIZE = 50;

export function LogsPage() {
  const { t, tMaybe, time, amountWithCode } = useI18n();
  const [query, setQuery] = useQueryState();
  const postbackId = query.get('postbackId') ?? '';
  const status = query.get('status') ?? '';
  const q = query.get('q') ?? '';
  const [draft, setDraft] = useState(q);
  const pager = usePager();
  const { reset } = pager;
  // biome-ignore lint/correctness/useExhaustiveDependencies: new filters start at page 1
  useEffect(() => reset(), [postbackId, status, q]);
  useEffect(() => setDraft(q), [q]);

  const postbacks = useLoad(
    (signal) => get<{ items: Postback[] }>('/postbacks', undefined, signal),
    [],
  );
  const names = new Map(postbacks.data?.items.map((p) => [p.id, p.name]));

  const [open, setOpen] = useState<string | null>(null);
  const live = pager.page === 1;
  const { page, error, fresh } = useLivePage<LogEntry>(
    '/postback-logs',
    { postbackId, status, q, limit: PAGE_SIZE, cursor: pager.cursor },
    live,
  );

  const search = (event: FormEvent) => {
    event.preventDefault();
    setQuery({ q: draft.trim() });
  };
  const items = page?.items ?? [];
  const filtered = postbackId !== '' || status !== '' || q !== '';

  return (
    <section className="page">
      <LogsTabs current="postbacks" />
      <div className="page-head">
        <h1>{t('logs.title')}</h1>
        <span className={`live ${live ? 'on' : ''}`} role="status">
          <span className="live-dot" aria-hidden="true" />
          {live ? t('logs.live') : t('logs.paused')}
        </span>
      </div>
      <form className="filters" onSubmit={search}>
        <Field label={t('logs.postback')}>
          {(id) => (
            <select
              id={id}
              value={postbackId}
              onChange={(e) => setQuery({ postbackId: e.target.value })}
            >
              <option value="">{t('common.all')}</option>
              {postbacks.data?.items.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('logs.status')}>
          {(id) => (
            <select id={id} value={status} onChange={(e) => setQuery({ status: e.target.value })}>
              <option value="">{t('common.all')}</option>
              {LOG_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {tMaybe(`status.${s}`, s)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('logs.searchLabel')}>
          {(id) => (
            <input
              id={id}
              type="search"
              className="wide"
              placeholder={t('logs.searchPlaceholder')}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="btn">
          {t('common.search')}
        </button>
      </form>
      <ErrorBox error={error} />
      {!page && !error && <Loading />}
      {page && items.length === 0 && pager.page === 1 && (
        <Empty
          title={filtered ? t('common.notFound') : t('logs.emptyTitle')}
          action={
            !filtered && (
              <Link to="/tracker/postbacks" className="btn">
                {t('nav.postbacks')} →
              </Link>
            )
          }
        >
          <p>{filtered ? t('logs.noMatch') : t('logs.emptyText')}</p>
        </Empty>
      )}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="table logs">
            <thead>
              <tr>
                <th scope="col">{t('logs.time')}</th>
                <th scope="col">{t('logs.postback')}</th>
                <th scope="col">{t('logs.event')}</th>
                <th scope="col" className="num">
                  {t('logs.amount')}
                </th>
                <th scope="col">{t('logs.clickid')}</th>
                <th scope="col">{t('logs.status')}</th>
                <th scope="col" className="num">
                  {t('logs.http')}
                </th>
                <th scope="col">{t('logs.url')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((entry) => {
                const rejected = entry.httpStatus >= 400;
                const isOpen = open === entry.id;
                return (
                  <Fragment key={entry.id}>
                    <tr
                      className={`log-row ${rejected ? 'rejected' : ''} ${fresh.has(entry.id) ? 'fresh' : ''} ${isOpen ? 'open' : ''}`}
                      onClick={() => setOpen(isOpen ? null : entry.id)}
                    >
                      <td className="nowrap">
                        <button
                          type="button"
                          className="row-toggle"
                          aria-expanded={isOpen}
                          aria-controls={`log-${entry.id}`}
                          onClick={(event) => {
                            event.stopPropagation();
                            setOpen(isOpen ? null : entry.id);
                          }}
                        >
                          <span aria-hidden="true">{isOpen ? '▾' : '▸'}</span> {time(entry.at)}
                        </button>
                      </td>
                      <td>
                        {entry.postbackId ? (
                          (names.get(entry.postbackId) ?? (
                            <span className="muted">{t('logs.deleted')}</span>
                          ))
                        ) : (
                          <span className="muted">{t('logs.unknown')}</span>
                        )}
                      </td>
                      <td>
                        {entry.event ? (
                          eventLabel(tMaybe, entry.event)
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                      <td className="num mono" data-col="amount">
                        {entry.amount !== null &&
                          entry.currency !== null &&
                          amountWithCode(entry.amount, entry.currency)}
                      </td>
                      <td className="mono">{entry.clickid ?? <span className="muted">—</span>}</td>
                      <td>
                        <StatusBadge status={entry.status} />
                        {entry.error && <span className="err-code">{entry.error}</span>}
                      </td>
                      <td className={`num mono ${rejected ? 'http-bad' : ''}`}>
                        {entry.httpStatus}
                      </td>
                      <td className="url-col">
                        <code className="clip">
                          {entry.method} {entry.url}
                        </code>
                      </td>
                    </tr>
                    {isOpen && (
                      <tr className="log-detail" id={`log-${entry.id}`}>
                        <td colSpan={8}>
                          <LogDetail
                            entry={entry}
                            postbackName={
                              entry.postbackId ? names.get(entry.postbackId) : undefined
                            }
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

/** Postback logs | Source logs. */
export function LogsTabs({ current }: { current: 'postbacks' | 'sources' }) {
  const { t } = useI18n();
  const tabs = [
    { kind: 'postbacks', to: '/tracker/logs', label: t('nav.postbackLogs') },
    { kind: 'sources', to: '/tracker/logs/sources', label: t('nav.sourceLogs') },
  ] as const;
  return (
    <nav className="subtabs" aria-label={t('nav.logKinds')}>
      {tabs.map((tab) => (
        <Link
          key={tab.kind}
          to={tab.to}
          className={`subtab ${current === tab.kind ? 'active' : ''}`}
          aria-current={current === tab.kind ? 'page' : undefined}
        >
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}

function LogDetail({ entry, postbackName }: { entry: LogEntry; postbackName?: string }) {
  const { t, tMaybe, dateTime, amountWithCode } = useI18n();
  const row = (label: string, value: ReactNode) => (
    <div>
      <dt>{label}</dt>
      <dd>{value ?? <span className="muted">—</span>}</dd>
    </div>
  );
  return (
    <div className="detail-grid">
      <div>
        <h3>{t('logs.request')}</h3>
        <dl className="kv">
          {row(t('logs.time'), dateTime(entry.at))}
          {row(t('logs.method'), <code>{entry.method}</code>)}
          {row(t('logs.url'), <code className="break">{entry.url}</code>)}
          {row(t('logs.ip'), entry.ip && <code>{entry.ip}</code>)}
          {row(t('logs.ua'), entry.userAgent)}
          {row(t('logs.body'), entry.body && <pre className="body">{entry.body}</pre>)}
        </dl>
      </div>
      <div>
        <h3>{t('logs.answer')}</h3>
        <dl className="kv">
          {row(t('logs.httpStatus'), <code>{entry.httpStatus}</code>)}
          {row(t('logs.status'), <StatusBadge status={entry.status} />)}
          {row(t('logs.error'), entry.error && <code className="negative">{entry.error}</code>)}
          {row(t('logs.event'), entry.event && eventLabel(tMaybe, entry.event))}
          {row(
            t('logs.clickid'),
            entry.clickid && (
              <Link to={`/tracker/leads/${encodeURIComponent(entry.clickid)}`} className="mono">
                {entry.clickid}
              </Link>
            ),
          )}
          {row(t('logs.conversionId'), entry.conversionId && <code>{entry.conversionId}</code>)}
          {row(
            t('logs.amount'),
            entry.amount !== null && entry.currency !== null ? (
              <code>{amountWithCode(entry.amount, entry.currency)}</code>
            ) : null,
          )}
          {row(
            t('logs.postback'),
            entry.postbackId && (
              <Link to={`/tracker/postbacks/${entry.postbackId}`}>
                {postbackName ?? entry.postbackId}
              </Link>
            ),
          )}
        </dl>
      </div>
    </div>
  );
}
