// Postbacks: the list, and the empty state that explains the three links.
import { type Campaign, get, type Network, type Postback } from '../api';
import { type I18n, useI18n } from '../i18n';
import { Link } from '../router';
import { Empty, ErrorBox, Loading } from '../ui/common';
import { useLoad } from '../ui/use-load';

export const NETWORK_LABELS: Record<Exclude<Network, 'custom'>, string> = {
  '1win': '1Win',
  binomo: 'Binomo',
  pocket_option: 'Pocket Option',
};

export function networkLabel(t: I18n['t'], network: Network): string {
  return network === 'custom' ? t('network.custom') : NETWORK_LABELS[network];
}

export function PostbacksPage() {
  const { t, dateTime } = useI18n();
  const { data, error, reload } = useLoad(async (signal) => {
    const [postbacks, campaigns] = await Promise.all([
      get<{ items: Postback[] }>('/postbacks', undefined, signal),
      get<{ items: Campaign[] }>('/campaigns', undefined, signal),
    ]);
    return {
      postbacks: postbacks.items,
      campaigns: new Map(campaigns.items.map((c) => [c.id, c])),
    };
  }, []);
  const createButton = (
    <Link to="/tracker/postbacks/new" className="btn btn-primary">
      <span aria-hidden="true">+</span> {t('postbacks.create')}
    </Link>
  );
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('postbacks.title')}</h1>
        {data && data.postbacks.length > 0 && createButton}
      </div>
      <ErrorBox error={error} onRetry={reload} />
      {!data && !error && <Loading />}
      {data && data.postbacks.length === 0 && (
        <Empty title={t('postbacks.emptyTitle')} action={createButton}>
          <p>{t('postbacks.emptyText')}</p>
          <ul className="empty-links">
            <li>
              <strong>{t('link.registration')}</strong>
            </li>
            <li>
              <strong>{t('link.firstDeposit')}</strong>
            </li>
            <li>
              <strong>{t('link.deposit')}</strong>
            </li>
          </ul>
        </Empty>
      )}
      {data && data.postbacks.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('postbacks.network')}</th>
                <th scope="col">{t('postbacks.campaign')}</th>
                <th scope="col">{t('common.created')}</th>
              </tr>
            </thead>
            <tbody>
              {data.postbacks.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/tracker/postbacks/${p.id}`} className="strong">
                      {p.name}
                    </Link>
                    {!p.enabled && (
                      <span className="badge badge-muted">{t('postbacks.paused')}</span>
                    )}
                  </td>
                  <td>
                    <span className={`net net-${p.network}`}>{networkLabel(t, p.network)}</span>
                  </td>
                  <td>
                    {p.campaignId ? (
                      (data.campaigns.get(p.campaignId)?.name ?? p.campaignId)
                    ) : (
                      <span className="muted">{t('postbacks.allCampaigns')}</span>
                    )}
                  </td>
                  <td className="nowrap">{dateTime(p.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
