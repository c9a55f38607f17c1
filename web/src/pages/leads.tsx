// Leads: searchable, cursor-paginated; a row opens the lead's card.
import { type FormEvent, useEffect, useState } from 'react';
import { api, type Campaign, get, type Lead, type LeadSummary, type Page } from '../api';
import { useI18n } from '../i18n';
import { Link, useQueryState, useRouter } from '../router';
import { Empty, ErrorBox, Field, Loading, Pager, usePager } from '../ui/common';
import { useLoad } from '../ui/use-load';

const PAGE_SIZE = 50;

export function LeadsPage() {
  const { t, money, num, dateTime } = useI18n();
  const { navigate } = useRouter();
  const [query, setQuery] = useQueryState();
  const q = query.get('q') ?? '';
  const campaignId = query.get('campaignId') ?? '';
  const [draft, setDraft] = useState(q);
  const pager = usePager();
  const { reset } = pager;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new search starts at page 1
  useEffect(() => reset(), [q, campaignId]);
  useEffect(() => setDraft(q), [q]);

  const campaigns = useLoad(
    (signal) => get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    [],
  );
  const names = new Map(campaigns.data?.items.map((c) => [c.id, c.name]));
  const leads = useLoad(
    (signal) =>
      get<Page<LeadSummary>>(
        '/leads',
        { q, campaignId, limit: PAGE_SIZE, cursor: pager.cursor },
        signal,
      ),
    [q, campaignId, pager.cursor],
  );
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<unknown>(null);

  const search = (event: FormEvent) => {
    event.preventDefault();
    setQuery({ q: draft.trim() });
  };
  const createLead = async () => {
    setCreating(true);
    setCreateError(null);
    try {
      const lead = await api<Lead>('POST', '/leads', campaignId ? { campaignId } : {});
      navigate(`/tracker/leads/${encodeURIComponent(lead.clickid)}`);
    } catch (failure) {
      setCreateError(failure);
      setCreating(false);
    }
  };

  const items = leads.data?.items ?? [];
  const filtered = q !== '' || campaignId !== '';
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('leads.title')}</h1>
        <button
          type="button"
          className="btn"
          onClick={createLead}
          disabled={creating}
          title={t('leads.createHint')}
        >
          <span aria-hidden="true">+</span> {t('leads.create')}
        </button>
      </div>
      <form className="filters" onSubmit={search}>
        <Field label={t('leads.searchLabel')}>
          {(id) => (
            <input
              id={id}
              type="search"
              className="wide"
              placeholder={t('leads.searchPlaceholder')}
              title={t('leads.searchHint')}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
            />
          )}
        </Field>
        <Field label={t('leads.campaign')}>
          {(id) => (
            <select
              id={id}
              value={campaignId}
              onChange={(e) => setQuery({ campaignId: e.target.value })}
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
        <button type="submit" className="btn">
          {t('common.search')}
        </button>
      </form>
      <ErrorBox error={createError} />
      <ErrorBox error={leads.error} onRetry={leads.reload} />
      {leads.loading && !leads.data && <Loading />}
      {leads.data && items.length === 0 && pager.page === 1 && (
        <Empty
          title={filtered ? t('common.notFound') : t('leads.emptyTitle')}
          action={
            !filtered && (
              <Link to="/tracker/campaigns/new" className="btn btn-primary">
                <span aria-hidden="true">+</span> {t('campaigns.new')}
              </Link>
            )
          }
        >
          <p>
            {filtered
              ? t('leads.noMatch', { q: q || (names.get(campaignId) ?? '') })
              : t('leads.emptyText')}
          </p>
        </Empty>
      )}
      {items.length > 0 && (
        <div className={`table-wrap ${leads.loading ? 'stale' : ''}`}>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('leads.clickid')}</th>
                <th scope="col">{t('leads.campaign')}</th>
                <th scope="col">{t('leads.externalId')}</th>
                <th scope="col">{t('leads.registered')}</th>
                <th scope="col" className="num">
                  {t('leads.ftd')}
                </th>
                <th scope="col" className="num">
                  {t('leads.deposits')}
                </th>
                <th scope="col">{t('leads.lastEvent')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((lead) => (
                <tr key={lead.clickid}>
                  <td>
                    <Link
                      to={`/tracker/leads/${encodeURIComponent(lead.clickid)}`}
                      className="mono strong"
                    >
                      {lead.clickid}
                    </Link>
                  </td>
                  <td>
                    {lead.campaignId ? (
                      (names.get(lead.campaignId) ?? lead.campaignId)
                    ) : (
                      <span className="muted">{t('leads.organic')}</span>
                    )}
                  </td>
                  <td className="mono">
                    {lead.externalId ?? <span className="muted">—</span>}
                    {lead.username && <span className="muted"> @{lead.username}</span>}
                  </td>
                  <td>
                    {lead.registered ? (
                      <span className="badge badge-recorded">{t('common.yes')}</span>
                    ) : (
                      <span className="muted">{t('common.no')}</span>
                    )}
                  </td>
                  <td className="num">
                    {lead.firstDeposit ? (
                      money(lead.firstDeposit.amount, lead.firstDeposit.currency)
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td className="num">{num(lead.depositCount)}</td>
                  <td className="nowrap">
                    {lead.lastEventAt ? (
                      dateTime(lead.lastEventAt)
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        page={pager.page}
        hasNext={Boolean(leads.data?.nextCursor)}
        onPrev={pager.prev}
        onNext={() => leads.data?.nextCursor && pager.next(leads.data.nextCursor)}
      />
    </section>
  );
}
