// The start page: a warning when a source's events are not getting through,
// then three setup steps, each ticked off when done, pointing at the tracker.
import { type Campaign, get, type Postback, type Source } from '../api';
import { useSession } from '../app';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { FacebookIcon } from '../ui/icons';
import { useLoad } from '../ui/use-load';
import { ApiKeys } from './api-keys';

type FailingSource = Source & { campaignName: string };

/**
 * The workspace's failing sources, of every campaign: a media buyer who opens
 * the app learns that conversions stopped reaching Facebook (or a tracker)
 * without opening each campaign. Nothing is shown while they all work.
 */
function FailingSources() {
  const { t, num, dateTime } = useI18n();
  const { data } = useLoad(
    (signal) => get<{ items: FailingSource[] }>('/sources/failing', undefined, signal),
    [],
  );
  const failing = data?.items ?? [];
  if (failing.length === 0) return null;
  return (
    <section className="alert alert-error home-failing" role="alert" aria-labelledby="home-failing">
      <h2 id="home-failing">{t('home.failingTitle', { n: num(failing.length) })}</h2>
      <ul>
        {failing.map((s) => {
          const campaign = encodeURIComponent(s.campaignId);
          const log = `/tracker/logs/sources?campaignId=${campaign}&sourceId=${encodeURIComponent(s.id)}`;
          const h = s.health;
          return (
            <li key={s.id}>
              <p className="home-failing-what">
                <strong>{s.name}</strong>{' '}
                <span className="home-failing-campaign">
                  {t('home.failingCampaign', { name: s.campaignName })}
                </span>
              </p>
              {h.lastError && <p className="health-error">{h.lastError}</p>}
              <p className="home-failing-since">
                {h.lastDeliveredAt
                  ? t('home.failingSince', {
                      n: num(h.failedInARow),
                      since: dateTime(h.lastDeliveredAt),
                    })
                  : t('home.failingNever', { n: num(h.failedInARow) })}
              </p>
              <p className="home-failing-links">
                <Link to={log} className="btn btn-small">
                  {t('home.failingLog')}
                </Link>
                <Link to={`/tracker/campaigns/${campaign}/sources`} className="btn btn-small">
                  {t('home.failingSources')}
                </Link>
              </p>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function HomePage() {
  const { t } = useI18n();
  const { me } = useSession();
  const { data } = useLoad(async (signal) => {
    const [campaigns, postbacks, leads] = await Promise.all([
      get<{ items: Campaign[] }>('/campaigns', undefined, signal),
      get<{ items: Postback[] }>('/postbacks', undefined, signal),
      get<{ items: { registered: boolean }[] }>('/leads', { limit: 50 }, signal),
    ]);
    return {
      campaigns: campaigns.items.length > 0,
      postbacks: postbacks.items.length > 0,
      registered: leads.items.some((lead) => lead.registered),
    };
  }, []);
  const steps = [
    {
      text: t('home.step1'),
      done: data?.campaigns,
      to: '/tracker/campaigns',
      go: t('nav.campaigns'),
    },
    {
      text: t('home.step2'),
      done: data?.postbacks,
      to: '/tracker/postbacks',
      go: t('nav.postbacks'),
    },
    { text: t('home.step3'), done: data?.registered, to: '/tracker/logs', go: t('logs.title') },
  ];
  return (
    <section className="page home">
      <h1>{t('home.title', { name: me.workspace.name })}</h1>
      <FailingSources />
      <p className="lead-text">{t('home.lead')}</p>
      <ol className="steps">
        {steps.map((step, index) => (
          <li key={step.to} className={step.done ? 'done' : ''}>
            <span className="step-n" aria-hidden="true">
              {step.done ? '✓' : index + 1}
            </span>
            <span className="step-text">
              {step.text}
              {step.done && <span className="visually-hidden"> ({t('home.done')})</span>}
            </span>
            <Link to={step.to} className="btn btn-small">
              {step.go} →
            </Link>
          </li>
        ))}
      </ol>
      <Link to="/tracker/campaigns" className="btn btn-primary">
        <FacebookIcon /> {t('home.open')}
      </Link>
      <ApiKeys />
    </section>
  );
}
