// Create Postback (its fields in postback-fields.tsx) and one postback: its
// ready-to-paste links, its settings' Edit form and the registration link builder.
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, type Campaign, changedFields, get, type Postback } from '../api';
import { useI18n } from '../i18n';
import { Link, useRouter } from '../router';
import { CopyField, ErrorBox, Field, Loading, linkLabel, Notice } from '../ui/common';
import { useLoad } from '../ui/use-load';
import {
  chosenMacros,
  newPostbackForm,
  PostbackFields,
  postbackBody,
  postbackForm,
} from './postback-fields';
import { networkLabel } from './postbacks';

const LINK_ORDER = ['registration', 'firstDeposit', 'deposit'];

export function PostbackNew() {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const campaigns = useLoad(
    (signal) => get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    [],
  );
  const [form, setForm] = useState(newPostbackForm);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api<Postback>('POST', '/postbacks', postbackBody(form));
      navigate(`/tracker/postbacks/${created.id}?created=1`, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <section className="page">
      <Link to="/tracker/postbacks" className="back">
        ← {t('postbacks.title')}
      </Link>
      <h1>{t('postbacks.create')}</h1>
      <form className="card form narrow" onSubmit={submit}>
        <PostbackFields value={form} onChange={setForm} campaigns={campaigns.data?.items} />
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
  const [editing, setEditing] = useState(false);
  /** What the last save changed, for the note after it. */
  const [saved, setSaved] = useState<{ links: boolean; param: boolean } | null>(null);
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
  const edited = (next: Postback) => {
    setSaved({
      links: JSON.stringify(next.links) !== JSON.stringify(postback.links),
      param: next.clickidParam !== postback.clickidParam,
    });
    setPostback(next);
    setEditing(false);
    // "Postback created" is old news now, after a reload too.
    if (justCreated) navigate(`/tracker/postbacks/${encodeURIComponent(id)}`, { replace: true });
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
            <span>
              {t('postbacks.defaultCurrency')}: <code>{postback.currency}</code>
            </span>
            <span>{dateTime(postback.createdAt)}</span>
          </div>
        </div>
        <div className="head-actions">
          {!editing && (
            <button
              type="button"
              className="btn"
              onClick={() => {
                setSaved(null);
                setEditing(true);
              }}
            >
              {t('common.edit')}
            </button>
          )}
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
      {justCreated && !saved && !editing && (
        <Notice>{t('postbacks.created', { network: networkLabel(t, postback.network) })}</Notice>
      )}
      {saved && (
        <Notice kind={saved.links ? 'warn' : 'success'}>
          {saved.links
            ? t('postbacks.savedNewLinks', { network: networkLabel(t, postback.network) })
            : t('postbacks.savedSameLinks')}
          {saved.param && ` ${t('postbacks.savedNewParam', { param: postback.clickidParam })}`}
        </Notice>
      )}
      {editing && (
        <PostbackEdit
          postback={postback}
          campaigns={loaded.data.campaigns}
          onSaved={edited}
          onCancel={() => setEditing(false)}
        />
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

/** The saved configuration as postbackBody shapes a form, to see what the form changed. */
function asSent(postback: Postback) {
  return { ...postback, macros: chosenMacros(postback.macros) };
}

/**
 * The settings of a saved configuration. Only what it changed is sent: a
 * change made elsewhere meanwhile (a pause, another field) is kept.
 */
function PostbackEdit({
  postback,
  campaigns,
  onSaved,
  onCancel,
}: {
  postback: Postback;
  campaigns: Campaign[];
  onSaved: (postback: Postback) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const [form, setForm] = useState(() => postbackForm(postback));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => {
    formRef.current?.querySelector('input')?.focus();
  }, []);

  const changes = changedFields(asSent(postback), postbackBody(form));
  const linksChange = 'network' in changes || 'clickidParam' in changes || 'macros' in changes;
  const network = networkLabel(t, postback.network);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const path = `/postbacks/${encodeURIComponent(postback.id)}`;
      onSaved(
        Object.keys(changes).length > 0
          ? await api<Postback>('PATCH', path, changes)
          : await get<Postback>(path),
      );
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <form
      ref={formRef}
      className="card form narrow edit-postback"
      aria-labelledby="edit-postback-title"
      onSubmit={submit}
    >
      <h2 id="edit-postback-title">{t('postbacks.editTitle')}</h2>
      <Notice kind="info">{t('postbacks.editTokenKept', { network })}</Notice>
      <PostbackFields value={form} onChange={setForm} campaigns={campaigns} />
      {linksChange && <Notice kind="warn">{t('postbacks.editLinksChange')}</Notice>}
      <ErrorBox error={error} />
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? t('common.saving') : t('common.save')}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
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
  // biome-ignore lint/correctness/useExhaustiveDependencies: an edit of the clickid parameter changes the link
  useEffect(() => {
    const timer = window.setTimeout(() => void buildRef.current(base), 350);
    return () => window.clearTimeout(timer);
  }, [base, postback.clickidParam]);

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
