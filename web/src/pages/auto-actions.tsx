// Campaign → Auto actions: when an event happens to a lead of this campaign, POST to
// the bot's URL (so its funnel moves the lead on), with a JSON payload of the user's.
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { type AutoAction, api, changedFields, get } from '../api';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { Empty, ErrorBox, Field, Loading, Notice } from '../ui/common';
import { useLoad } from '../ui/use-load';
import {
  choiceOf,
  type EventChoice,
  EventPicker,
  KIND_CUSTOM,
  KIND_NTH_DEPOSIT,
  pickedEvent,
  type Said,
  SectionHead,
  Switch,
  useEventName,
  useForwardingText,
} from './forwarding-ui';

const KINDS = [
  'registration',
  'first_deposit',
  'deposit',
  KIND_NTH_DEPOSIT,
  'withdrawal',
  'contact',
  KIND_CUSTOM,
] as const;

type Editing = { action: AutoAction | null } | null;

export default function AutoActionsSection({ campaignId }: { campaignId: string }) {
  const { t } = useI18n();
  const f = useForwardingText();
  const eventName = useEventName();
  const base = `/campaigns/${encodeURIComponent(campaignId)}/auto-actions`;
  const loaded = useLoad(
    (signal) => get<{ items: AutoAction[] }>(base, undefined, signal),
    [campaignId],
  );
  const [items, setItems] = useState<AutoAction[] | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [notice, setNotice] = useState<Said | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => {
    if (loaded.data) setItems(loaded.data.items);
  }, [loaded.data]);

  const replace = (action: AutoAction) =>
    setItems((list) => list?.map((a) => (a.id === action.id ? action : a)) ?? [action]);
  const open = (action: AutoAction | null) => {
    setNotice(null);
    setError(null);
    setEditing({ action });
  };
  const saved = (action: AutoAction, created: boolean) => {
    if (created) setItems((list) => [...(list ?? []), action]);
    else replace(action);
    setEditing(null);
    setNotice({ key: created ? 'actions.created' : 'actions.saved' });
  };
  const toggle = async (action: AutoAction, enabled: boolean) => {
    setBusy(action.id);
    setError(null);
    try {
      replace(
        await api<AutoAction>('PATCH', `${base}/${encodeURIComponent(action.id)}`, { enabled }),
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  };
  const remove = async (action: AutoAction) => {
    const name = `${eventName(action.event)} → ${action.url}`;
    if (!window.confirm(t('common.confirmDelete', { name }))) return;
    setError(null);
    try {
      await api('DELETE', `${base}/${encodeURIComponent(action.id)}`);
      setItems((list) => list?.filter((a) => a.id !== action.id) ?? null);
      setNotice({ key: 'actions.deleted' });
    } catch (failure) {
      setError(failure);
    }
  };

  if (loaded.error) return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  if (!items) return <Loading />;
  const addButton = (
    <button type="button" className="btn btn-primary" onClick={() => open(null)}>
      <span aria-hidden="true">+</span> {f('actions.add')}
    </button>
  );
  return (
    <div className="forwarding">
      <SectionHead
        title={f('actions.title')}
        actions={!editing && items.length > 0 ? addButton : undefined}
      >
        {f('actions.intro')}
      </SectionHead>
      {notice && <Notice>{f(notice.key, notice.vars)}</Notice>}
      <ErrorBox error={error} />
      {editing && (
        <AutoActionForm
          key={editing.action?.id ?? 'new'}
          base={base}
          action={editing.action}
          onSaved={saved}
          onCancel={() => setEditing(null)}
        />
      )}
      {items.length === 0 && !editing && (
        <Empty title={f('actions.emptyTitle')} action={addButton}>
          <p>{f('actions.emptyText')}</p>
        </Empty>
      )}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="table actions-table">
            <thead>
              <tr>
                <th scope="col">{f('actions.event')}</th>
                <th scope="col">{f('actions.url')}</th>
                <th scope="col">{f('actions.payload')}</th>
                <th scope="col">{f('actions.enabled')}</th>
                <th scope="col">
                  <span className="visually-hidden">{f('actions.manage')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((action) => {
                const label = eventName(action.event);
                const payload = JSON.stringify(action.payload);
                return (
                  <tr key={action.id} className={action.enabled ? '' : 'disabled'}>
                    <td>
                      <span className="strong">{label}</span>
                      {label !== action.event && <code className="event-code">{action.event}</code>}
                    </td>
                    <td className="url-col">
                      <code className="break">POST {action.url}</code>
                    </td>
                    <td className="payload-col">
                      {payload === '{}' ? (
                        <span className="muted">—</span>
                      ) : (
                        <code className="clip" title={payload}>
                          {payload}
                        </code>
                      )}
                    </td>
                    <td>
                      <Switch
                        checked={action.enabled}
                        busy={busy === action.id}
                        label={f('actions.enabledLabel', { event: label })}
                        onChange={(on) => toggle(action, on)}
                      />
                    </td>
                    <td className="num nowrap">
                      <Link
                        to={`/tracker/logs/sources?campaignId=${encodeURIComponent(action.campaignId)}&sourceId=${encodeURIComponent(action.id)}`}
                        className="btn btn-small btn-ghost"
                      >
                        {f('sources.logs')}
                      </Link>
                      <button
                        type="button"
                        className="btn btn-small"
                        aria-label={`${t('common.edit')}: ${label}`}
                        onClick={() => open(action)}
                      >
                        {t('common.edit')}
                      </button>
                      <button
                        type="button"
                        className="btn btn-small btn-danger-ghost"
                        aria-label={`${t('common.delete')}: ${label}`}
                        onClick={() => remove(action)}
                      >
                        {t('common.delete')}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** The payload as the user typed it: a JSON object, or nothing (= {}). */
function parsePayload(
  text: string,
): { payload: Record<string, unknown> } | { error: 'json' | 'object' } {
  if (text.trim() === '') return { payload: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'json' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { error: 'object' };
  return { payload: value as Record<string, unknown> };
}

function AutoActionForm({
  base,
  action,
  onSaved,
  onCancel,
}: {
  base: string;
  action: AutoAction | null;
  onSaved: (action: AutoAction, created: boolean) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const f = useForwardingText();
  const [choice, setChoice] = useState<EventChoice>(
    action ? choiceOf(action.event, KINDS) : { kind: 'registration', n: '2', name: '' },
  );
  const [url, setUrl] = useState(action?.url ?? '');
  const [payloadText, setPayloadText] = useState(
    action && Object.keys(action.payload).length > 0 ? JSON.stringify(action.payload, null, 2) : '',
  );
  const [payloadError, setPayloadError] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const payloadId = useId();
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => form.current?.querySelector('select')?.focus(), []);

  const checkPayload = (text: string) => {
    const parsed = parsePayload(text);
    setPayloadError(
      'error' in parsed
        ? parsed.error === 'json'
          ? f('actions.badJson')
          : f('actions.notObject')
        : '',
    );
    return parsed;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const picked = pickedEvent(choice);
    if (!picked) {
      setError(new Error(f('actions.badEvent')));
      return;
    }
    const parsed = checkPayload(payloadText);
    if ('error' in parsed) {
      document.getElementById(payloadId)?.focus();
      return;
    }
    setBusy(true);
    try {
      const body = { event: picked, url: url.trim(), payload: parsed.payload };
      // An edit sends only what it changed: a change made elsewhere meanwhile stays.
      const saved = action
        ? await api<AutoAction>(
            'PATCH',
            `${base}/${encodeURIComponent(action.id)}`,
            changedFields(action, body),
          )
        : await api<AutoAction>('POST', base, body);
      onSaved(saved, !action);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  const title = action ? f('actions.editTitle') : f('actions.newTitle');
  return (
    <form ref={form} className="card form source-form" onSubmit={submit} aria-label={title}>
      <h3 className="form-title">{title}</h3>
      <EventPicker label={f('actions.event')} kinds={KINDS} value={choice} onChange={setChoice} />
      <Field label={f('actions.url')} hint={f('actions.urlHint')}>
        {(id, hint) => (
          <input
            id={id}
            className="mono"
            type="url"
            required
            maxLength={2048}
            placeholder="https://bot.example/hooks/clickback"
            aria-describedby={hint}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
        )}
      </Field>
      <div className="field">
        <label htmlFor={payloadId}>
          {f('actions.payload')} <span className="optional">({t('common.optional')})</span>
        </label>
        <textarea
          id={payloadId}
          className="mono payload-input"
          rows={5}
          maxLength={10000}
          spellCheck={false}
          placeholder={'{\n  "step": "registered"\n}'}
          aria-invalid={payloadError ? true : undefined}
          aria-describedby={`${payloadId}-hint${payloadError ? ` ${payloadId}-error` : ''}`}
          value={payloadText}
          onChange={(e) => {
            setPayloadText(e.target.value);
            if (payloadError) checkPayload(e.target.value);
          }}
          onBlur={(e) => checkPayload(e.target.value)}
        />
        {payloadError && (
          <div className="field-error" id={`${payloadId}-error`} role="alert">
            {payloadError}
          </div>
        )}
        <div className="hint" id={`${payloadId}-hint`}>
          {f('actions.payloadHint')}
        </div>
      </div>
      <ErrorBox error={error} />
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? t('common.saving') : action ? t('common.save') : f('actions.create')}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}
