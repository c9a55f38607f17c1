// Campaign → Sources: where this campaign's events go. A Facebook pixel (Conversions
// API, with the table mapping our events to Facebook's) or any webhook. Secrets are
// write-only: the API says only whether one is saved.
import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  api,
  changedFields,
  type FacebookSource,
  get,
  type Source,
  type WebhookSource,
} from '../api';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { Empty, ErrorBox, Field, Loading, Notice } from '../ui/common';
import { FacebookIcon } from '../ui/icons';
import { useLoad } from '../ui/use-load';
import {
  ACTION_SOURCES,
  type EventChoice,
  EventPicker,
  FACEBOOK_CUSTOM_EVENT,
  FACEBOOK_EVENTS,
  KIND_CUSTOM,
  KIND_NTH_DEPOSIT,
  pickedEvent,
  type Said,
  SectionHead,
  SourceTypeBadge,
  Switch,
  sortEvents,
  useEventName,
  useForwardingText,
} from './forwarding-ui';

type Editing = { type: 'facebook' | 'webhook'; source: Source | null } | null;

export default function SourcesSection({ campaignId }: { campaignId: string }) {
  const f = useForwardingText();
  const base = `/campaigns/${encodeURIComponent(campaignId)}/sources`;
  const loaded = useLoad(
    (signal) => get<{ items: Source[] }>(base, undefined, signal),
    [campaignId],
  );
  const [items, setItems] = useState<Source[] | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  // Kept as a key, so it follows a change of language.
  const [notice, setNotice] = useState<Said | null>(null);
  useEffect(() => {
    if (loaded.data) setItems(loaded.data.items);
  }, [loaded.data]);

  const replace = (source: Source) =>
    setItems((list) => list?.map((s) => (s.id === source.id ? source : s)) ?? [source]);
  const saved = (source: Source, created: boolean) => {
    if (created) setItems((list) => [...(list ?? []), source]);
    else replace(source);
    setEditing(null);
    setNotice(
      created ? { key: 'sources.created', vars: { name: source.name } } : { key: 'sources.saved' },
    );
  };
  const removed = (source: Source) => {
    setItems((list) => list?.filter((s) => s.id !== source.id) ?? null);
    setNotice({ key: 'sources.deleted', vars: { name: source.name } });
  };
  const open = (type: 'facebook' | 'webhook', source: Source | null = null) => {
    setNotice(null);
    setEditing({ type, source });
  };

  const addButtons = (
    <>
      <button type="button" className="btn btn-primary" onClick={() => open('facebook')}>
        <span aria-hidden="true">+</span> {f('sources.addFacebook')}
      </button>
      <button type="button" className="btn" onClick={() => open('webhook')}>
        <span aria-hidden="true">+</span> {f('sources.addWebhook')}
      </button>
    </>
  );

  if (loaded.error) return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  if (!items) return <Loading />;
  return (
    <div className="forwarding">
      <SectionHead
        title={f('sources.title')}
        actions={!editing && items.length > 0 ? addButtons : undefined}
      >
        {f('sources.intro')}
      </SectionHead>
      {notice && <Notice>{f(notice.key, notice.vars)}</Notice>}
      {editing && (
        <SourceForm
          key={editing.source?.id ?? `new-${editing.type}`}
          base={base}
          type={editing.type}
          source={editing.source}
          onSaved={saved}
          onCancel={() => setEditing(null)}
        />
      )}
      {items.length === 0 && !editing && (
        <Empty
          title={f('sources.emptyTitle')}
          action={<div className="head-actions center">{addButtons}</div>}
        >
          <p>{f('sources.emptyText')}</p>
        </Empty>
      )}
      <div className="source-list">
        {items.map((source) => (
          <SourceCard
            key={source.id}
            base={base}
            source={source}
            editing={editing?.source?.id === source.id}
            onChange={replace}
            onEdit={() => open(source.type, source)}
            onRemoved={() => removed(source)}
          />
        ))}
      </div>
    </div>
  );
}

function SourceCard({
  base,
  source,
  editing,
  onChange,
  onEdit,
  onRemoved,
}: {
  base: string;
  source: Source;
  editing: boolean;
  onChange: (source: Source) => void;
  onEdit: () => void;
  onRemoved: () => void;
}) {
  const { t } = useI18n();
  const f = useForwardingText();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const url = `${base}/${encodeURIComponent(source.id)}`;

  const toggle = async (enabled: boolean) => {
    setBusy(true);
    setError(null);
    try {
      onChange(await api<Source>('PATCH', url, { enabled }));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!window.confirm(t('common.confirmDelete', { name: source.name }))) return;
    setError(null);
    try {
      await api('DELETE', url);
      onRemoved();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <article
      className={`card source-card ${source.enabled ? '' : 'disabled'} ${editing ? 'editing' : ''}`}
      aria-label={source.name}
    >
      <header className="source-head">
        <div className="source-title">
          {source.type === 'facebook' && (
            <span className="source-icon">
              <FacebookIcon />
            </span>
          )}
          <h3 className="source-name">{source.name}</h3>
          <SourceTypeBadge type={source.type} />
        </div>
        <div className="source-actions">
          <Switch
            checked={source.enabled}
            busy={busy}
            label={f('sources.enabledLabel', { name: source.name })}
            onChange={toggle}
          />
          <Link
            to={`/tracker/logs/sources?campaignId=${encodeURIComponent(source.campaignId)}&sourceId=${encodeURIComponent(source.id)}`}
            className="btn btn-small btn-ghost"
          >
            {f('sources.logs')}
          </Link>
          <button type="button" className="btn btn-small" onClick={onEdit} disabled={editing}>
            {t('common.edit')}
          </button>
          <button type="button" className="btn btn-small btn-danger-ghost" onClick={remove}>
            {t('common.delete')}
          </button>
        </div>
      </header>
      <ErrorBox error={error} />
      <HealthLine source={source} />
      {source.type === 'facebook' ? (
        <FacebookDetails source={source} url={url} onChange={onChange} />
      ) : (
        <WebhookDetails source={source} />
      )}
    </article>
  );
}

/** Whether the source's events get through; a failing one shows its last error and its log. */
function HealthLine({ source }: { source: Source }) {
  const { dateTime: when, num } = useI18n();
  const f = useForwardingText();
  const h = source.health;
  const log = `/tracker/logs/sources?campaignId=${encodeURIComponent(source.campaignId)}&sourceId=${encodeURIComponent(source.id)}`;
  const pending = h.pending > 0 ? ` ${f('health.pending', { n: num(h.pending) })}` : '';
  if (h.state !== 'failing') {
    return (
      <p className={`source-health health-${h.state}`}>
        <span className={`badge badge-health-${h.state}`}>{f(`health.${h.state}`)}</span>{' '}
        {h.lastDeliveredAt && f('health.lastDelivered', { at: when(h.lastDeliveredAt) })}
        {pending}
      </p>
    );
  }
  return (
    <div className="source-health health-failing" role="alert">
      <p>
        <span className="badge badge-failed">{f('health.failing')}</span>{' '}
        {h.lastDeliveredAt
          ? f('health.failedInARow', { n: num(h.failedInARow), since: when(h.lastDeliveredAt) })
          : f('health.neverDelivered', { n: num(h.failedInARow) })}
        {pending}
      </p>
      {h.lastError && <p className="health-error">{h.lastError}</p>}
      <Link to={log} className="btn btn-small">
        {f('health.openLog')}
      </Link>
    </div>
  );
}

function FacebookDetails({
  source,
  url,
  onChange,
}: {
  source: FacebookSource;
  url: string;
  onChange: (source: Source) => void;
}) {
  const f = useForwardingText();
  return (
    <>
      <dl className="facts">
        <div>
          <dt>{f('fb.pixelId')}</dt>
          <dd>
            <code>{source.pixelId}</code>
          </dd>
        </div>
        <div>
          <dt>{f('fb.accessToken')}</dt>
          <dd>
            {source.hasAccessToken ? (
              <span className="ok-text">✓ {f('fb.tokenSaved')}</span>
            ) : (
              <span className="negative">{f('fb.tokenMissing')}</span>
            )}
          </dd>
        </div>
        <div>
          <dt>{f('fb.actionSource')}</dt>
          <dd>{f(`actionSource.${source.actionSource as (typeof ACTION_SOURCES)[number]}`)}</dd>
        </div>
        <div>
          <dt>{f('fb.testEventCode')}</dt>
          <dd>
            {source.testEventCode ? (
              <>
                <code>{source.testEventCode}</code>{' '}
                <span className="badge badge-retrying">{f('fb.testMode')}</span>
              </>
            ) : (
              <span className="muted">{f('fb.live')}</span>
            )}
          </dd>
        </div>
      </dl>
      <MappingEditor source={source} url={url} onChange={onChange} />
    </>
  );
}

function WebhookDetails({ source }: { source: WebhookSource }) {
  const f = useForwardingText();
  const eventName = useEventName();
  return (
    <dl className="facts">
      <div className="wide">
        <dt>{f('wh.url')}</dt>
        <dd className="url-cell">
          <span className="method">{source.method}</span>
          <code className="break">{source.url}</code>
        </dd>
      </div>
      <div>
        <dt>{f('wh.events')}</dt>
        <dd>
          {source.events.length === 0
            ? f('wh.allEvents')
            : sortEvents(source.events).map(eventName).join(', ')}
        </dd>
      </div>
      <div>
        <dt>{f('wh.signature')}</dt>
        <dd>
          {source.hasSecret ? (
            <span className="ok-text">✓ {f('wh.signed')}</span>
          ) : (
            <span className="muted">{f('wh.unsigned')}</span>
          )}
        </dd>
      </div>
    </dl>
  );
}

// ---- the mapping: our event → Facebook's ----

const BASE_ROWS = ['click', 'contact', 'registration', 'first_deposit', 'deposit'];
const ADD_ROW_KINDS = [KIND_NTH_DEPOSIT, 'withdrawal', KIND_CUSTOM] as const;
const NOT_SENT = '';
const CUSTOM = '*custom';

interface Row {
  event: string;
  /** '' (not sent), a standard event, or CUSTOM. */
  choice: string;
  custom: string;
}

/** The funnel's rows first, whether mapped or not; then the extra ones in order. */
function orderRows(rows: Row[]): Row[] {
  const byEvent = new Map(rows.map((r) => [r.event, r]));
  return [
    ...BASE_ROWS,
    ...sortEvents([...byEvent.keys()].filter((e) => !BASE_ROWS.includes(e))),
  ].map((event) => byEvent.get(event) ?? { event, choice: NOT_SENT, custom: '' });
}

function rowsOf(mapping: Record<string, string>): Row[] {
  return orderRows(
    Object.keys(mapping).map((event) => {
      const target = mapping[event];
      if (!target) return { event, choice: NOT_SENT, custom: '' };
      if ((FACEBOOK_EVENTS as readonly string[]).includes(target))
        return { event, choice: target, custom: '' };
      return { event, choice: CUSTOM, custom: target };
    }),
  );
}

/** The mapping the rows describe, or the first row whose custom name is not valid. */
function mappingOf(rows: Row[]): { mapping: Record<string, string> } | { invalid: Row } {
  const mapping: Record<string, string> = {};
  for (const row of rows) {
    if (row.choice === NOT_SENT) continue;
    if (row.choice === CUSTOM) {
      const name = row.custom.trim();
      if (!FACEBOOK_CUSTOM_EVENT.test(name)) return { invalid: row };
      mapping[row.event] = name;
    } else mapping[row.event] = row.choice;
  }
  return { mapping };
}

const sameMapping = (a: Record<string, string>, b: Record<string, string>) => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
};

function MappingEditor({
  source,
  url,
  onChange,
}: {
  source: FacebookSource;
  url: string;
  onChange: (source: Source) => void;
}) {
  const { t } = useI18n();
  const f = useForwardingText();
  const eventName = useEventName();
  const [rows, setRows] = useState<Row[]>(() => rowsOf(source.mapping));
  const [adding, setAdding] = useState<EventChoice>({ kind: KIND_NTH_DEPOSIT, n: '2', name: '' });
  const [addError, setAddError] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [savedAt, setSavedAt] = useState(0);
  const added = useRef<string | null>(null);
  const tableRef = useRef<HTMLTableElement>(null);

  const result = mappingOf(rows);
  const dirty = 'invalid' in result || !sameMapping(result.mapping, source.mapping);

  useEffect(() => {
    // Focus the Facebook side of a row just added.
    if (!added.current) return;
    const select = tableRef.current?.querySelector<HTMLSelectElement>(
      `select[data-event="${CSS.escape(added.current)}"]`,
    );
    select?.focus();
    added.current = null;
  });

  const update = (event: string, change: Partial<Row>) =>
    setRows((list) => list.map((r) => (r.event === event ? { ...r, ...change } : r)));

  const addRow = () => {
    const event = pickedEvent(adding);
    if (!event) {
      setAddError(
        adding.kind === KIND_NTH_DEPOSIT ? f('mapping.badNumber') : f('mapping.badCustomEvent'),
      );
      return;
    }
    if (rows.some((r) => r.event === event)) {
      setAddError(f('mapping.exists', { event: eventName(event) }));
      return;
    }
    setAddError('');
    added.current = event;
    setRows((list) => orderRows([...list, { event, choice: NOT_SENT, custom: '' }]));
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if ('invalid' in result) {
      setError(
        new Error(f('mapping.badFacebookEvent', { event: eventName(result.invalid.event) })),
      );
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const next = await api<FacebookSource>('PATCH', url, { mapping: result.mapping });
      onChange(next);
      setRows(rowsOf(next.mapping));
      setSavedAt(Date.now());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="mapping" onSubmit={save} aria-label={f('mapping.title')}>
      <h4>{f('mapping.title')}</h4>
      <p className="hint">{f('mapping.hint')}</p>
      <div className="table-wrap">
        <table className="table mapping-table" ref={tableRef}>
          <thead>
            <tr>
              <th scope="col">{f('mapping.ours')}</th>
              <th scope="col">{f('mapping.theirs')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('common.delete')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const label = eventName(row.event);
              return (
                <tr key={row.event} className={row.choice === NOT_SENT ? 'unmapped' : ''}>
                  <th scope="row">
                    <span>{label}</span>
                    {label !== row.event && <code className="event-code">{row.event}</code>}
                  </th>
                  <td>
                    <div className="mapping-cell">
                      <select
                        aria-label={f('mapping.selectLabel', { event: label })}
                        data-event={row.event}
                        value={row.choice}
                        onChange={(e) => update(row.event, { choice: e.target.value })}
                      >
                        <option value={NOT_SENT}>{f('mapping.notSent')}</option>
                        <optgroup label={f('mapping.standard')}>
                          {FACEBOOK_EVENTS.map((name) => (
                            <option key={name} value={name}>
                              {name}
                            </option>
                          ))}
                        </optgroup>
                        <option value={CUSTOM}>{f('mapping.customOption')}</option>
                      </select>
                      {row.choice === CUSTOM && (
                        <input
                          className="mono"
                          aria-label={f('mapping.customLabel', { event: label })}
                          required
                          maxLength={50}
                          pattern="[A-Za-z0-9_]{1,50}"
                          placeholder="Deposit2"
                          value={row.custom}
                          onChange={(e) => update(row.event, { custom: e.target.value })}
                        />
                      )}
                    </div>
                  </td>
                  <td className="num">
                    {!BASE_ROWS.includes(row.event) && (
                      <button
                        type="button"
                        className="btn btn-small btn-danger-ghost"
                        aria-label={f('mapping.removeRow', { event: label })}
                        title={f('mapping.removeRow', { event: label })}
                        onClick={() => setRows((list) => list.filter((r) => r.event !== row.event))}
                      >
                        ×
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <fieldset className="add-row">
        <legend>{f('mapping.addRow')}</legend>
        <EventPicker
          label={f('mapping.event')}
          kinds={ADD_ROW_KINDS}
          value={adding}
          onChange={(next) => {
            setAdding(next);
            setAddError('');
          }}
        />
        <button type="button" className="btn" onClick={addRow}>
          {f('mapping.add')}
        </button>
        {addError && (
          <p className="field-error" role="alert">
            {addError}
          </p>
        )}
      </fieldset>
      <ErrorBox error={error} />
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || !dirty}>
          {busy ? t('common.saving') : f('mapping.save')}
        </button>
        <span className="muted small" role="status">
          {dirty ? f('mapping.unsaved') : savedAt > 0 ? `✓ ${t('common.saved')}` : ''}
        </span>
      </div>
    </form>
  );
}

// ---- add / edit ----

function SourceForm({
  base,
  type,
  source,
  onSaved,
  onCancel,
}: {
  base: string;
  type: 'facebook' | 'webhook';
  source: Source | null;
  onSaved: (source: Source, created: boolean) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const f = useForwardingText();
  const fb = source?.type === 'facebook' ? source : null;
  const wh = source?.type === 'webhook' ? source : null;
  const [name, setName] = useState(source?.name ?? '');
  // Facebook
  const [pixelId, setPixelId] = useState(fb?.pixelId ?? '');
  const [accessToken, setAccessToken] = useState('');
  const [testEventCode, setTestEventCode] = useState(fb?.testEventCode ?? '');
  const [actionSource, setActionSource] = useState(fb?.actionSource ?? 'website');
  // Webhook
  const [url, setUrl] = useState(wh?.url ?? '');
  const [method, setMethod] = useState<'GET' | 'POST'>(wh?.method ?? 'POST');
  const [secret, setSecret] = useState('');
  const [removeSecret, setRemoveSecret] = useState(false);
  const [allEvents, setAllEvents] = useState(!wh || wh.events.length === 0);
  const [events, setEvents] = useState<string[]>(wh?.events ?? []);
  const [extra, setExtra] = useState(
    (wh?.events ?? []).filter((e) => !WEBHOOK_EVENTS.includes(e)).join(', '),
  );
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const urlInput = useRef<HTMLInputElement>(null);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const insertMacro = (macro: string) => {
    const input = urlInput.current;
    const start = input?.selectionStart ?? url.length;
    const end = input?.selectionEnd ?? url.length;
    setUrl(url.slice(0, start) + macro + url.slice(end));
    requestAnimationFrame(() => {
      input?.focus();
      input?.setSelectionRange(start + macro.length, start + macro.length);
    });
  };

  const webhookEvents = (): string[] | null => {
    if (allEvents) return [];
    const others = extra
      .split(/[\s,]+/)
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean);
    for (const e of others) {
      if (!/^[a-z0-9_]{1,32}(#[1-9][0-9]{0,5})?$/.test(e)) {
        setError(new Error(f('wh.badEvent', { event: e })));
        return null;
      }
    }
    const chosen = [...new Set([...events.filter((e) => WEBHOOK_EVENTS.includes(e)), ...others])];
    if (chosen.length === 0) {
      setError(new Error(f('wh.noEvents')));
      return null;
    }
    return chosen;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    let body: Record<string, unknown>;
    if (type === 'facebook') {
      body = {
        name: name.trim(),
        pixelId: pixelId.trim(),
        actionSource,
        testEventCode: testEventCode.trim() || null,
      };
      if (accessToken.trim()) body.accessToken = accessToken.trim();
      if (!source && !testEventCode.trim()) delete body.testEventCode;
    } else {
      const chosen = webhookEvents();
      if (!chosen) return;
      body = { name: name.trim(), url: url.trim(), method, events: chosen };
      if (secret) body.secret = secret;
      else if (removeSecret && source) body.secret = null;
    }
    setBusy(true);
    try {
      // An edit sends only what it changed (a secret or token: only when
      // typed), so a change made elsewhere meanwhile to another field stays.
      const saved = source
        ? await api<Source>(
            'PATCH',
            `${base}/${encodeURIComponent(source.id)}`,
            changedFields(source, body),
          )
        : await api<Source>('POST', base, { type, ...body });
      onSaved(saved, !source);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  const title = source
    ? f('sources.editTitle', { name: source.name })
    : type === 'facebook'
      ? f('sources.newFacebook')
      : f('sources.newWebhook');

  return (
    <form className="card form source-form" onSubmit={submit} aria-label={title}>
      <h3 className="form-title">{title}</h3>
      <div className="grid-2">
        <Field label={t('common.name')}>
          {(id) => (
            <input
              id={id}
              ref={first}
              required
              maxLength={200}
              placeholder={type === 'facebook' ? f('fb.namePlaceholder') : f('wh.namePlaceholder')}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        {type === 'facebook' && (
          <Field label={f('fb.pixelId')} hint={f('fb.pixelIdHint')}>
            {(id, hint) => (
              <input
                id={id}
                className="mono"
                required
                inputMode="numeric"
                pattern="[0-9]{5,25}"
                maxLength={25}
                aria-describedby={hint}
                value={pixelId}
                onChange={(e) => setPixelId(e.target.value)}
              />
            )}
          </Field>
        )}
      </div>
      {type === 'facebook' ? (
        <>
          <Field
            label={f('fb.accessToken')}
            hint={fb?.hasAccessToken ? f('fb.tokenKeepHint') : f('fb.tokenHint')}
          >
            {(id, hint) => (
              <input
                id={id}
                className="mono"
                type="password"
                autoComplete="off"
                required={!source}
                minLength={10}
                maxLength={1000}
                pattern="\S+"
                placeholder={fb?.hasAccessToken ? f('fb.tokenPlaceholderSaved') : 'EAAB…'}
                aria-describedby={hint}
                value={accessToken}
                onChange={(e) => setAccessToken(e.target.value)}
              />
            )}
          </Field>
          <div className="grid-2">
            <Field label={f('fb.testEventCode')} hint={f('fb.testEventCodeHint')} optional>
              {(id, hint) => (
                <input
                  id={id}
                  className="mono"
                  maxLength={64}
                  pattern="[A-Za-z0-9_\-]*"
                  placeholder="TEST12345"
                  aria-describedby={hint}
                  value={testEventCode}
                  onChange={(e) => setTestEventCode(e.target.value)}
                />
              )}
            </Field>
            <Field label={f('fb.actionSource')} hint={f('fb.actionSourceHint')}>
              {(id, hint) => (
                <select
                  id={id}
                  aria-describedby={hint}
                  value={actionSource}
                  onChange={(e) => setActionSource(e.target.value)}
                >
                  {ACTION_SOURCES.map((s) => (
                    <option key={s} value={s}>
                      {f(`actionSource.${s}`)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          {!source && <p className="hint">{f('fb.mappingLater')}</p>}
        </>
      ) : (
        <>
          <Field
            label={f('wh.url')}
            hint={
              <>
                {f('wh.urlHint')}{' '}
                <span className="macros">
                  {MACROS.map((m) => (
                    <button
                      key={m}
                      type="button"
                      className="macro"
                      title={f('wh.insertMacro', { macro: m })}
                      onClick={() => insertMacro(m)}
                    >
                      {m}
                    </button>
                  ))}
                </span>
              </>
            }
          >
            {(id, hint) => (
              <input
                id={id}
                ref={urlInput}
                className="mono"
                type="url"
                required
                maxLength={2048}
                placeholder="https://tracker.example/postback?subid={clickid}&status={event}&payout={amount}"
                aria-describedby={hint}
                value={url}
                onChange={(e) => setUrl(e.target.value)}
              />
            )}
          </Field>
          <div className="grid-2">
            <Field label={f('wh.method')} hint={f('wh.methodHint')}>
              {(id, hint) => (
                <select
                  id={id}
                  aria-describedby={hint}
                  value={method}
                  onChange={(e) => setMethod(e.target.value as 'GET' | 'POST')}
                >
                  <option value="POST">POST</option>
                  <option value="GET">GET</option>
                </select>
              )}
            </Field>
            <Field
              label={f('wh.secret')}
              hint={wh?.hasSecret ? f('wh.secretKeepHint') : f('wh.secretHint')}
              optional
            >
              {(id, hint) => (
                <input
                  id={id}
                  className="mono"
                  type="password"
                  autoComplete="off"
                  minLength={8}
                  maxLength={200}
                  disabled={removeSecret}
                  placeholder={wh?.hasSecret ? f('fb.tokenPlaceholderSaved') : ''}
                  aria-describedby={hint}
                  value={secret}
                  onChange={(e) => setSecret(e.target.value)}
                />
              )}
            </Field>
          </div>
          {wh?.hasSecret && (
            <label className="check">
              <input
                type="checkbox"
                checked={removeSecret}
                onChange={(e) => {
                  setRemoveSecret(e.target.checked);
                  if (e.target.checked) setSecret('');
                }}
              />
              {f('wh.removeSecret')}
            </label>
          )}
          <fieldset className="subform events-set">
            <legend>{f('wh.events')}</legend>
            <label className="check">
              <input
                type="radio"
                name="events-mode"
                checked={allEvents}
                onChange={() => setAllEvents(true)}
              />
              {f('wh.allEvents')}
            </label>
            <label className="check">
              <input
                type="radio"
                name="events-mode"
                checked={!allEvents}
                onChange={() => setAllEvents(false)}
              />
              {f('wh.someEvents')}
            </label>
            {!allEvents && (
              <div className="event-checks">
                {WEBHOOK_EVENTS.map((e) => (
                  <WebhookEventCheck
                    key={e}
                    event={e}
                    checked={events.includes(e)}
                    onChange={(on) =>
                      setEvents((list) => (on ? [...list, e] : list.filter((x) => x !== e)))
                    }
                  />
                ))}
                <Field label={f('wh.otherEvents')} hint={f('wh.otherEventsHint')} optional>
                  {(id, hint) => (
                    <input
                      id={id}
                      className="mono"
                      maxLength={500}
                      placeholder="deposit#2, emailconf"
                      aria-describedby={hint}
                      value={extra}
                      onChange={(e) => setExtra(e.target.value)}
                    />
                  )}
                </Field>
              </div>
            )}
          </fieldset>
        </>
      )}
      <ErrorBox error={error} />
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? t('common.saving') : source ? t('common.save') : f('sources.add')}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

const WEBHOOK_EVENTS = [
  'registration',
  'first_deposit',
  'deposit',
  'withdrawal',
  'click',
  'contact',
];
const MACROS = [
  '{clickid}',
  '{event}',
  '{amount}',
  '{currency}',
  '{tid}',
  '{external_id}',
  '{occurrence}',
  '{event_id}',
  '{timestamp}',
  '{fields.<key>}',
];

function WebhookEventCheck({
  event,
  checked,
  onChange,
}: {
  event: string;
  checked: boolean;
  onChange: (on: boolean) => void;
}) {
  const eventName = useEventName();
  return (
    <label className="check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <span>
        {eventName(event)} <code className="event-code">{event}</code>
      </span>
    </label>
  );
}
