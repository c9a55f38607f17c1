// The start page: three setup steps, each ticked off when done, pointing at the tracker.
import { type Campaign, get, type Postback } from '../api';
import { useSession } from '../app';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { FacebookIcon } from '../ui/icons';
import { useLoad } from '../ui/use-load';
import { ApiKeys } from './api-keys';

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
