// Campaigns: the list with click URLs to copy, and one campaign: its settings form,
// its sources (Facebook pixels, webhooks) and its auto actions (lazily loaded).
import { type FormEvent, lazy, Suspense, useRef, useState } from 'react';
import { api, type Campaign, changedFields, get, type Source } from '../api';
import { type MessageKey, useI18n } from '../i18n';
import { Link, useRouter } from '../router';
import { CopyButton, CopyField, Empty, ErrorBox, Field, Loading, Notice } from '../ui/common';
import { useLoad } from '../ui/use-load';

const SourcesSection = lazy(() => import('./sources'));
const AutoActionsSection = lazy(() => import('./auto-actions'));

export type CampaignSection = 'settings' | 'sources' | 'auto-actions';
const SECTIONS: { section: CampaignSection; suffix: string; key: MessageKey }[] = [
  { section: 'settings', suffix: '', key: 'nav.campaignSettings' },
  { section: 'sources', suffix: '/sources', key: 'nav.sources' },
  { section: 'auto-actions', suffix: '/auto-actions', key: 'nav.autoActions' },
];

/**
 * The campaign's sources whose events are not getting through (a wrong token
 * or pixel, a webhook answering 404), named on every section of the campaign
 * but Sources, which shows them itself.
 */
function FailingSources({ campaignId }: { campaignId: string }) {
  const { t } = useI18n();
  const base = `/tracker/campaigns/${encodeURIComponent(campaignId)}/sources`;
  const { data } = useLoad(
    (signal) =>
      get<{ items: Source[] }>(
        `/campaigns/${encodeURIComponent(campaignId)}/sources`,
        undefined,
        signal,
      ),
    [campaignId],
  );
  const failing = data?.items.filter((s) => s.health.state === 'failing') ?? [];
  if (failing.length === 0) return null;
  return (
    <div className="alert alert-error failing-sources" role="alert">
      <div>
        <strong>{t('campaigns.failingSources', { n: failing.length })}</strong>
        <ul>
          {failing.map((s) => (
            <li key={s.id}>
              {s.name}
              {s.health.lastError && <span className="health-error">: {s.health.lastError}</span>}
            </li>
          ))}
        </ul>
      </div>
      <Link to={base} className="btn btn-small">
        {t('campaigns.failingSourcesOpen')}
      </Link>
    </div>
  );
}

export function CampaignsPage() {
  const { t, dateTime } = useI18n();
  const { data, error, reload } = useLoad(
    (signal) => get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    [],
  );
  const newButton = (
    <Link to="/tracker/campaigns/new" className="btn btn-primary">
      <span aria-hidden="true">+</span> {t('campaigns.new')}
    </Link>
  );
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('campaigns.title')}</h1>
        {data && data.items.length > 0 && newButton}
      </div>
      <ErrorBox error={error} onRetry={reload} />
      {!data && !error && <Loading />}
      {data && data.items.length === 0 && (
        <Empty title={t('campaigns.emptyTitle')} action={newButton}>
          <p>{t('campaigns.emptyText')}</p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('campaigns.buyer')}</th>
                <th scope="col">{t('campaigns.clickUrl')}</th>
                <th scope="col">{t('common.created')}</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link to={`/tracker/campaigns/${c.id}`} className="strong">
                      {c.name}
                    </Link>
                    {c.description && (
                      <div className="muted small clip cell-note">{c.description}</div>
                    )}
                  </td>
                  <td>{c.buyer || <span className="muted">—</span>}</td>
                  <td>
                    <div className="url-cell">
                      <code className="clip">{c.clickUrl}</code>
                      <CopyButton
                        text={c.clickUrl}
                        label={`${t('campaigns.clickUrl')} ${c.name}`}
                      />
                    </div>
                  </td>
                  <td className="nowrap">{dateTime(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const MACRO = '{{tracker.clickid}}';

function formOf(campaign: Campaign) {
  return {
    name: campaign.name,
    description: campaign.description,
    buyer: campaign.buyer,
    destinationUrl: campaign.destinationUrl,
  };
}

export function CampaignEdit({
  id,
  section = 'settings',
}: {
  id: string | null;
  section?: CampaignSection;
}) {
  const { t } = useI18n();
  const { navigate, search } = useRouter();
  const [form, setForm] = useState({ name: '', description: '', buyer: '', destinationUrl: '' });
  const [saved, setSaved] = useState<Campaign | null>(null);
  const [justCreated, setJustCreated] = useState(search.get('created') === '1');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  /** The form as last saved; "Saved" shows until it is changed again. */
  const [savedForm, setSavedForm] = useState<typeof form | null>(null);
  const destination = useRef<HTMLInputElement>(null);
  const loaded = useLoad(
    async (signal) => {
      if (!id) return null;
      const campaign = await get<Campaign>(
        `/campaigns/${encodeURIComponent(id)}`,
        undefined,
        signal,
      );
      setForm(formOf(campaign));
      setSaved(campaign);
      return campaign;
    },
    [id],
  );

  const set = (key: keyof typeof form) => (value: string) =>
    setForm((f) => ({ ...f, [key]: value }));

  const insertMacro = () => {
    const input = destination.current;
    const value = form.destinationUrl;
    const start = input?.selectionStart ?? value.length;
    const end = input?.selectionEnd ?? value.length;
    set('destinationUrl')(value.slice(0, start) + MACRO + value.slice(end));
    requestAnimationFrame(() => {
      input?.focus();
      input?.setSelectionRange(start + MACRO.length, start + MACRO.length);
    });
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSavedForm(null);
    try {
      const body = {
        name: form.name.trim(),
        description: form.description,
        buyer: form.buyer.trim(),
        destinationUrl: form.destinationUrl.trim(),
      };
      if (id) {
        // Only what this form changed: a field changed elsewhere since the
        // form loaded keeps that change, and the form then shows it.
        const path = `/campaigns/${encodeURIComponent(id)}`;
        const changes = saved ? changedFields(saved, body) : body;
        const campaign =
          Object.keys(changes).length > 0
            ? await api<Campaign>('PATCH', path, changes)
            : await get<Campaign>(path);
        setSaved(campaign);
        setForm(formOf(campaign));
        setSavedForm(formOf(campaign));
        setJustCreated(false);
      } else {
        const created = await api<Campaign>('POST', '/campaigns', body);
        setSaved(created);
        setJustCreated(true);
        navigate(`/tracker/campaigns/${created.id}?created=1`, { replace: true });
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!id || !saved || !window.confirm(t('common.confirmDelete', { name: saved.name }))) return;
    try {
      await api('DELETE', `/campaigns/${encodeURIComponent(id)}`);
      navigate('/tracker/campaigns');
    } catch (failure) {
      setError(failure);
    }
  };

  if (id && loaded.error) return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  if (id && !loaded.data) return <Loading />;

  return (
    <section className="page">
      <div className="page-head">
        <div>
          <Link to="/tracker/campaigns" className="back">
            ← {t('campaigns.title')}
          </Link>
          <h1>{id ? saved?.name || t('campaigns.editTitle') : t('campaigns.new')}</h1>
        </div>
      </div>
      {id && (
        <nav className="subtabs" aria-label={t('nav.campaignSections')}>
          {SECTIONS.map((s) => (
            <Link
              key={s.section}
              to={`/tracker/campaigns/${encodeURIComponent(id)}${s.suffix}`}
              className={`subtab ${section === s.section ? 'active' : ''}`}
              aria-current={section === s.section ? 'page' : undefined}
            >
              {t(s.key)}
            </Link>
          ))}
        </nav>
      )}
      {id && section !== 'sources' && <FailingSources campaignId={id} />}
      {id && section !== 'settings' && (
        <Suspense fallback={<Loading />}>
          {section === 'sources' ? (
            <SourcesSection campaignId={id} />
          ) : (
            <AutoActionsSection campaignId={id} />
          )}
        </Suspense>
      )}
      {section === 'settings' && (
        <div className="columns">
          <form className="card form" onSubmit={submit}>
            <Field label={t('common.name')}>
              {(fid) => (
                <input
                  id={fid}
                  required
                  maxLength={200}
                  value={form.name}
                  onChange={(e) => set('name')(e.target.value)}
                />
              )}
            </Field>
            <Field label={t('campaigns.description')} optional>
              {(fid) => (
                <textarea
                  id={fid}
                  rows={2}
                  maxLength={2000}
                  value={form.description}
                  onChange={(e) => set('description')(e.target.value)}
                />
              )}
            </Field>
            <Field label={t('campaigns.buyer')} hint={t('campaigns.buyerHint')} optional>
              {(fid, hint) => (
                <input
                  id={fid}
                  maxLength={100}
                  aria-describedby={hint}
                  value={form.buyer}
                  onChange={(e) => set('buyer')(e.target.value)}
                />
              )}
            </Field>
            <Field label={t('campaigns.destination')} hint={t('campaigns.destinationHint')}>
              {(fid, hint) => (
                <div className="input-with-button">
                  <input
                    id={fid}
                    ref={destination}
                    className="mono"
                    type="url"
                    maxLength={2048}
                    pattern="(https?|tg)://.*"
                    title={t('campaigns.destinationFormat')}
                    placeholder="https://t.me/my_bot?start={{tracker.clickid}}"
                    aria-describedby={hint}
                    value={form.destinationUrl}
                    onChange={(e) => set('destinationUrl')(e.target.value)}
                  />
                  <button type="button" className="btn btn-small" onClick={insertMacro}>
                    {t('campaigns.insertMacro')}
                  </button>
                </div>
              )}
            </Field>
            <ErrorBox error={error} />
            <div className="form-actions">
              <button type="submit" className="btn btn-primary" disabled={busy}>
                {busy ? t('common.saving') : id ? t('common.save') : t('common.create')}
              </button>
              {id && (
                <button type="button" className="btn btn-danger-ghost" onClick={remove}>
                  {t('common.delete')}
                </button>
              )}
              <span className="muted small" role="status">
                {savedForm && Object.keys(changedFields(savedForm, form)).length === 0
                  ? `✓ ${t('common.saved')}`
                  : ''}
              </span>
            </div>
          </form>
          {saved && (
            <aside className="card">
              {justCreated && <Notice>{t('campaigns.created')}</Notice>}
              <CopyField label={t('campaigns.clickUrl')} value={saved.clickUrl} />
              <p className="hint">{t('campaigns.clickUrlHint')}</p>
              <Link to={`/tracker/leads?campaignId=${saved.id}`}>{t('campaigns.leads')} →</Link>
            </aside>
          )}
        </div>
      )}
    </section>
  );
}
