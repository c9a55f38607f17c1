// Create Postback (Name, Affiliate Network, Campaign; Custom adds parameter and macros)
// and one postback: its ready-to-paste links and the registration link builder.
import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  api,
  type Campaign,
  get,
  type Macros,
  NETWORKS,
  type Network,
  type Postback,
} from '../api';
import { useI18n } from '../i18n';
import { Link, useRouter } from '../router';
import { CopyField, ErrorBox, Field, Loading, linkLabel, Notice } from '../ui/common';
import { useLoad } from '../ui/use-load';
import { networkLabel } from './postbacks';

const LINK_ORDER = ['registration', 'firstDeposit', 'deposit'];

export function PostbackNew() {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const campaigns = useLoad(
    (signal) => get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    [],
  );
  const [name, setName] = useState('');
  const [network, setNetwork] = useState<Network>('1win');
  const [campaignId, setCampaignId] = useState('');
  const [clickidParam, setClickidParam] = useState('sub1');
  const [currency, setCurrency] = useState('USD');
  const [macros, setMacros] = useState<Required<Macros>>({
    clickid: '',
    amount: '{payout}',
    currency: '',
    tid: '{tid}',
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {
        name: name.trim(),
        network,
        campaignId: campaignId || null,
      };
      if (network === '1win') body.clickidParam = clickidParam.trim();
      if (network === 'custom') {
        body.clickidParam = clickidParam.trim();
        body.currency = currency.trim().toUpperCase() || 'USD';
        const chosen: Macros = {};
        for (const key of ['clickid', 'amount', 'currency', 'tid'] as const) {
          const value = macros[key].trim();
          if (value) chosen[key] = value;
        }
        body.macros = chosen;
      }
      const created = await api<Postback>('POST', '/postbacks', body);
      navigate(`/tracker/postbacks/${created.id}?created=1`, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  /** Which network parameter carries the clickid: 1Win's sub field, or a custom network's. */
  const clickidParamField = (hint: string, className: string) => (
    <Field label={t('postbacks.clickidParam')} hint={hint}>
      {(id, hintId) => (
        <input
          id={id}
          className={className}
          required
          maxLength={64}
          pattern="[A-Za-z0-9_.\-]+"
          aria-describedby={hintId}
          value={clickidParam}
          onChange={(e) => setClickidParam(e.target.value)}
        />
      )}
    </Field>
  );

  const macroField = (key: keyof Macros, label: string, placeholder: string) => (
    <Field label={label} optional>
      {(id) => (
        <input
          id={id}
          className="mono"
          maxLength={100}
          placeholder={placeholder}
          value={macros[key]}
          onChange={(e) => setMacros((m) => ({ ...m, [key]: e.target.value }))}
        />
      )}
    </Field>
  );

  return (
    <section className="page">
      <Link to="/tracker/postbacks" className="back">
        ← {t('postbacks.title')}
      </Link>
      <h1>{t('postbacks.create')}</h1>
      <form className="card form narrow" onSubmit={submit}>
        <Field label={t('common.name')}>
          {(id) => (
            <input
              id={id}
              required
              maxLength={200}
              placeholder={t('postbacks.namePlaceholder')}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Field label={t('postbacks.network')}>
          {(id) => (
            <select
              id={id}
              value={network}
              onChange={(e) => {
                const next = e.target.value as Network;
                setNetwork(next);
                if (next === '1win' || next === 'custom')
                  setClickidParam(next === '1win' ? 'sub1' : 'subid');
              }}
            >
              {NETWORKS.map((n) => (
                <option key={n} value={n}>
                  {networkLabel(t, n)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('postbacks.campaign')} hint={t('postbacks.campaignHint')} optional>
          {(id, hint) => (
            <select
              id={id}
              aria-describedby={hint}
              value={campaignId}
              onChange={(e) => setCampaignId(e.target.value)}
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
        {network === '1win' && clickidParamField(t('postbacks.oneWinSubHint'), 'mono short')}
        {network === 'custom' && (
          <fieldset className="subform">
            <legend>{t('postbacks.customSection')}</legend>
            {clickidParamField(t('postbacks.clickidParamHint'), 'mono')}
            <div className="grid-2">
              {macroField('clickid', t('postbacks.macroClickid'), `{${clickidParam || 'subid'}}`)}
              {macroField('amount', t('postbacks.macroAmount'), '{payout}')}
              {macroField('currency', t('postbacks.macroCurrency'), '{currency}')}
              {macroField('tid', t('postbacks.macroTid'), '{tid}')}
            </div>
            <p className="hint">{t('postbacks.macrosHint')}</p>
            <Field label={t('postbacks.defaultCurrency')} hint={t('postbacks.defaultCurrencyHint')}>
              {(id, hint) => (
                <input
                  id={id}
                  className="short"
                  maxLength={5}
                  aria-describedby={hint}
                  value={currency}
                  onChange={(e) => setCurrency(e.target.value)}
                />
              )}
            </Field>
          </fieldset>
        )}
        <ErrorBox error={error} />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? t('common.saving') : t('common.create')}
          </button>
          <Link to="/tracker/postbacks" className="btn btn-ghost">
            {t('common.cancel')}
          </Link>
        </div>
      </form>
    </section>
  );
}

export function PostbackDetail({ id }: { id: string }) {
  const { t, tMaybe, dateTime } = useI18n();
  const { search, navigate } = useRouter();
  const [error, setError] = useState<unknown>(null);
  const loaded = useLoad(
    async (signal) => {
      const [postback, campaigns] = await Promise.all([
        get<Postback>(`/postbacks/${encodeURIComponent(id)}`, undefined, signal),
        get<{ items: Campaign[] }>('/campaigns', undefined, signal),
      ]);
      return { postback, campaigns: campaigns.items };
    },
    [id],
  );
  const [postback, setPostback] = useState<Postback | null>(null);
  useEffect(() => {
    if (loaded.data) setPostback(loaded.data.postback);
  }, [loaded.data]);

  if (loaded.error) return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  if (!postback || !loaded.data) return <Loading />;

  const campaign = loaded.data.campaigns.find((c) => c.id === postback.campaignId);
  const keys = [
    ...LINK_ORDER.filter((k) => k in postback.links),
    ...Object.keys(postback.links).filter((k) => !LINK_ORDER.includes(k)),
  ];
  const justCreated = search.get('created') === '1';

  const toggle = async () => {
    // Paused, its calls are answered 403 and counted nowhere: a network does
    // not send a refused postback again.
    if (postback.enabled && !window.confirm(t('postbacks.confirmPause', { name: postback.name })))
      return;
    setError(null);
    try {
      setPostback(
        await api<Postback>('PATCH', `/postbacks/${encodeURIComponent(id)}`, {
          enabled: !postback.enabled,
        }),
      );
    } catch (failure) {
      setError(failure);
    }
  };
  const remove = async () => {
    if (!window.confirm(t('common.confirmDelete', { name: postback.name }))) return;
    try {
      await api('DELETE', `/postbacks/${encodeURIComponent(id)}`);
      navigate('/tracker/postbacks');
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <section className="page">
      <Link to="/tracker/postbacks" className="back">
        ← {t('postbacks.title')}
      </Link>
      <div className="page-head">
        <div>
          <h1>
            {postback.name}{' '}
            <span className={`badge ${postback.enabled ? 'badge-recorded' : 'badge-muted'}`}>
              {postback.enabled ? t('postbacks.active') : t('postbacks.paused')}
            </span>
          </h1>
          <div className="meta">
            <span className={`net net-${postback.network}`}>
              {networkLabel(t, postback.network)}
            </span>
            <span>{campaign ? campaign.name : t('postbacks.allCampaigns')}</span>
            <span>
              {t('postbacks.clickidParam')}: <code>{postback.clickidParam}</code>
            </span>
            <span>{dateTime(postback.createdAt)}</span>
          </div>
        </div>
        <div className="head-actions">
          <Link to={`/tracker/logs?postbackId=${postback.id}`} className="btn">
            {t('postbacks.viewLogs')}
          </Link>
          <button type="button" className="btn" onClick={toggle}>
            {postback.enabled ? t('postbacks.pause') : t('postbacks.resume')}
          </button>
          <button type="button" className="btn btn-danger-ghost" onClick={remove}>
            {t('common.delete')}
          </button>
        </div>
      </div>
      <ErrorBox error={error} />
      {justCreated && (
        <Notice>{t('postbacks.created', { network: networkLabel(t, postback.network) })}</Notice>
      )}
      <div className="columns">
        <div className="card">
          <h2>{t('postbacks.links')}</h2>
          <p className="hint">{t('postbacks.linksHint')}</p>
          <div className="links">
            {keys.map((key) => (
              <CopyField
                key={key}
                label={linkLabel(tMaybe, key)}
                value={postback.links[key] ?? ''}
              />
            ))}
          </div>
          <p className="tip">
            {t(`postbacks.network.${postback.network}.tip`, { param: postback.clickidParam })}
          </p>
        </div>
        <RegistrationLinkBuilder postback={postback} />
      </div>
    </section>
  );
}

function RegistrationLinkBuilder({ postback }: { postback: Postback }) {
  const { t } = useI18n();
  const [base, setBase] = useState('');
  const [result, setResult] = useState('');
  const [error, setError] = useState<unknown>(null);
  const seq = useRef(0);

  const build = async (value: string) => {
    const mine = ++seq.current;
    if (!/^https?:\/\/\S+/i.test(value.trim())) {
      setResult('');
      setError(null);
      return;
    }
    try {
      const answer = await api<{ url: string }>(
        'POST',
        `/postbacks/${encodeURIComponent(postback.id)}/registration-link`,
        { baseUrl: value.trim() },
      );
      if (mine !== seq.current) return;
      setResult(answer.url);
      setError(null);
    } catch (failure) {
      if (mine !== seq.current) return;
      setResult('');
      setError(failure);
    }
  };

  // Build as the user types (debounced); Enter or the button builds at once.
  const buildRef = useRef(build);
  buildRef.current = build;
  useEffect(() => {
    const timer = window.setTimeout(() => void buildRef.current(base), 350);
    return () => window.clearTimeout(timer);
  }, [base]);

  const placeholder =
    postback.network === '1win'
      ? 'https://1wgbch.top/casino/play/aviator?open=register'
      : postback.network === 'binomo'
        ? 'https://binomo.com/?a=partner_code'
        : 'https://network.example/register';

  return (
    <form
      className="card"
      onSubmit={(event) => {
        event.preventDefault();
        void build(base);
      }}
    >
      <h2>{t('postbacks.builder')}</h2>
      <p className="hint">{t('postbacks.builderHint', { param: postback.clickidParam })}</p>
      <Field label={t('postbacks.baseLink')}>
        {(id) => (
          <div className="input-with-button">
            <input
              id={id}
              className="mono"
              type="url"
              maxLength={2048}
              placeholder={placeholder}
              value={base}
              onChange={(e) => setBase(e.target.value)}
            />
            <button type="submit" className="btn btn-small">
              {t('postbacks.build')}
            </button>
          </div>
        )}
      </Field>
      <ErrorBox error={error} />
      {result && <CopyField label={t('postbacks.finalLink')} value={result} />}
    </form>
  );
}
