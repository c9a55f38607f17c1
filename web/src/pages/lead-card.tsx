// A lead's card ("Tracker Data"): parameters, custom fields, the event timeline,
// totals and balance, and "Send event" (counted by the same rules as a postback).
import { type FormEvent, useState } from 'react';
import {
  api,
  type Campaign,
  type EventAnswer,
  get,
  type Lead,
  type Postback,
  type Totals,
} from '../api';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { CopyButton, ErrorBox, eventLabel, Field, Loading } from '../ui/common';
import { useLoad } from '../ui/use-load';

const EVENT_CHOICES = ['registration', 'first_deposit', 'deposit', 'custom'] as const;
type EventChoice = (typeof EVENT_CHOICES)[number];

export function LeadCard({ clickid }: { clickid: string }) {
  const { t, tMaybe, money, dateTime } = useI18n();
  const loaded = useLoad(
    async (signal) => {
      const lead = await get<Lead>(`/leads/${encodeURIComponent(clickid)}`, undefined, signal);
      const campaign = lead.campaignId
        ? await get<Campaign>(
            `/campaigns/${encodeURIComponent(lead.campaignId)}`,
            undefined,
            signal,
          ).catch(() => null)
        : null;
      const postbacks = await get<{ items: Postback[] }>('/postbacks', undefined, signal).catch(
        () => ({
          items: [],
        }),
      );
      return { lead, campaign, postbackNames: new Map(postbacks.items.map((p) => [p.id, p.name])) };
    },
    [clickid],
  );

  if (loaded.error) return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  if (!loaded.data) return <Loading />;
  const { lead, campaign, postbackNames } = loaded.data;
  const allTotals: Totals[] =
    lead.totalsByCurrency && lead.totalsByCurrency.length > 0
      ? lead.totalsByCurrency
      : [lead.totals];
  const events = [...lead.events].sort((a, b) => b.at.localeCompare(a.at));
  const params = Object.entries(lead.params);
  const fields = Object.entries(lead.fields);

  return (
    <section className="page">
      <Link to="/tracker/leads" className="back">
        ← {t('leads.title')}
      </Link>
      <div className="page-head">
        <div>
          <h1>
            {t('leads.card')} <span className="mono muted">{lead.clickid}</span>{' '}
            <CopyButton text={lead.clickid} label={t('leads.clickid')} />
          </h1>
          <div className="meta">
            <span>
              {t('leads.campaign')}:{' '}
              {campaign ? (
                <Link to={`/tracker/campaigns/${campaign.id}`}>{campaign.name}</Link>
              ) : (
                t('leads.organic')
              )}
            </span>
            {lead.externalId && (
              <span>
                {t('leads.externalId')}: <code>{lead.externalId}</code>
              </span>
            )}
            {lead.username && (
              <span>
                {t('leads.username')}: @{lead.username}
              </span>
            )}
            <span>
              {t('leads.createdAt')}: {dateTime(lead.createdAt)}
            </span>
          </div>
        </div>
      </div>

      <h2 className="visually-hidden">{t('leads.totals')}</h2>
      <div className="totals">
        {allTotals.map((tot) => (
          <div className="totals-group" key={tot.currency ?? 'none'}>
            <div className="kpi">
              <div className="kpi-label">{t('leads.totalDeposits')}</div>
              <div className="kpi-value">{money(tot.deposits, tot.currency)}</div>
            </div>
            <div className="kpi">
              <div className="kpi-label">{t('leads.totalWithdrawals')}</div>
              <div className="kpi-value">{money(tot.withdrawals, tot.currency)}</div>
            </div>
            <div className="kpi">
              <div className="kpi-label">{t('leads.balance')}</div>
              <div className={`kpi-value ${tot.balance.startsWith('-') ? 'negative' : ''}`}>
                {money(tot.balance, tot.currency)}
              </div>
            </div>
          </div>
        ))}
      </div>

      <div className="columns">
        <div className="stack">
          <div className="card">
            <h2>{t('leads.timeline')}</h2>
            {events.length === 0 ? (
              <p className="muted">{t('leads.noEvents')}</p>
            ) : (
              <ol className="timeline">
                {events.map((e) => (
                  <li key={e.id} className={`tl-${e.event}`}>
                    <span className="tl-dot" aria-hidden="true" />
                    <div className="tl-main">
                      <strong>{eventLabel(tMaybe, e.event)}</strong>
                      {e.amount !== null && (
                        <span className="tl-amount">{money(e.amount, e.currency)}</span>
                      )}
                    </div>
                    <div className="tl-meta muted small">
                      {dateTime(e.at)}
                      {e.tid && (
                        <>
                          {' · '}
                          {t('leads.tid.short')} <code>{e.tid}</code>
                        </>
                      )}
                      {e.postbackId ? (
                        <>
                          {' · '}
                          <Link to={`/tracker/postbacks/${e.postbackId}`}>
                            {postbackNames.get(e.postbackId) ?? t('logs.postback')}
                          </Link>
                        </>
                      ) : null}
                    </div>
                  </li>
                ))}
              </ol>
            )}
          </div>
          <SendEvent clickid={lead.clickid} onSent={loaded.reload} />
        </div>
        <div className="stack">
          <div className="card">
            <h2>{t('leads.params')}</h2>
            {params.length === 0 ? (
              <p className="muted">{t('leads.noParams')}</p>
            ) : (
              <KeyValues entries={params} />
            )}
          </div>
          <div className="card">
            <h2>{t('leads.fields')}</h2>
            {fields.length === 0 ? (
              <p className="muted">{t('leads.noFields')}</p>
            ) : (
              <KeyValues entries={fields} />
            )}
          </div>
        </div>
      </div>
    </section>
  );
}

function KeyValues({ entries }: { entries: [string, string][] }) {
  return (
    <dl className="kv">
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt className="mono">{key}</dt>
          <dd className="mono">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function SendEvent({ clickid, onSent }: { clickid: string; onSent: () => void }) {
  const { t, tMaybe } = useI18n();
  const [choice, setChoice] = useState<EventChoice>('registration');
  const [custom, setCustom] = useState('');
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState('USD');
  const [tid, setTid] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<EventAnswer['status'] | null>(null);
  const needsAmount = choice === 'first_deposit' || choice === 'deposit';
  const showAmount = choice !== 'registration';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const body: Record<string, string> = {
        event: choice === 'custom' ? custom.trim().toLowerCase() : choice,
      };
      if (showAmount && amount.trim()) {
        body.amount = amount.trim();
        body.currency = currency.trim().toUpperCase();
      }
      if (tid.trim()) body.tid = tid.trim();
      const answer = await api<EventAnswer>(
        'POST',
        `/leads/${encodeURIComponent(clickid)}/events`,
        body,
      );
      setResult(answer.status);
      if (answer.status === 'recorded') {
        setAmount('');
        setTid('');
      }
      onSent();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={submit}>
      <h2>{t('leads.send')}</h2>
      <p className="hint">{t('leads.sendHint')}</p>
      <div className="grid-2">
        <Field label={t('leads.event')}>
          {(id) => (
            <select
              id={id}
              value={choice}
              onChange={(e) => setChoice(e.target.value as EventChoice)}
            >
              {EVENT_CHOICES.map((c) => (
                <option key={c} value={c}>
                  {eventLabel(tMaybe, c)}
                </option>
              ))}
            </select>
          )}
        </Field>
        {choice === 'custom' && (
          <Field label={t('leads.customName')}>
            {(id) => (
              <input
                id={id}
                className="mono"
                required
                maxLength={32}
                pattern="[A-Za-z0-9_]{1,32}"
                placeholder="withdrawal"
                value={custom}
                onChange={(e) => setCustom(e.target.value)}
              />
            )}
          </Field>
        )}
        {showAmount && (
          <Field label={t('leads.amount')} optional={!needsAmount}>
            {(id) => (
              <input
                id={id}
                inputMode="decimal"
                required={needsAmount}
                maxLength={40}
                pattern="-?[0-9]+([.,][0-9]+)?"
                placeholder="100"
                value={amount}
                onChange={(e) => setAmount(e.target.value)}
              />
            )}
          </Field>
        )}
        {showAmount && (
          <Field label={t('leads.currency')}>
            {(id) => (
              <input
                id={id}
                className="short"
                required
                minLength={3}
                maxLength={5}
                value={currency}
                onChange={(e) => setCurrency(e.target.value)}
              />
            )}
          </Field>
        )}
        <Field label={t('leads.tid')} optional>
          {(id) => (
            <input
              id={id}
              className="mono"
              maxLength={128}
              value={tid}
              onChange={(e) => setTid(e.target.value)}
            />
          )}
        </Field>
      </div>
      <ErrorBox error={error} />
      {result && (
        <div
          className={`alert ${result === 'recorded' ? 'alert-success' : 'alert-info'}`}
          role="status"
        >
          {t(`leads.sent.${result}`)}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {t('leads.send')}
        </button>
      </div>
    </form>
  );
}
