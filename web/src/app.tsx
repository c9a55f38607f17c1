// The app shell: the session (GET /api/v1/me on load), the main menu with the
// Facebook icon that opens the tracker, the tracker's tabs, and the routes.
import {
  createContext,
  lazy,
  type ReactNode,
  Suspense,
  useContext,
  useEffect,
  useState,
} from 'react';
import { api, type Me, setUnauthorizedHandler } from './api';
import { LANGS, type Lang, type MessageKey, useI18n } from './i18n';
import { AuthPage } from './pages/auth';
import { CampaignEdit, CampaignsPage } from './pages/campaigns';
import { HomePage } from './pages/home';
import { LeadCard } from './pages/lead-card';
import { LeadsPage } from './pages/leads';
import { LogsPage } from './pages/logs';
import { PostbackDetail, PostbackNew } from './pages/postback-detail';
import { PostbacksPage } from './pages/postbacks';
import { StatsPage } from './pages/stats';
import { Link, match, useRouter } from './router';
import { ErrorBox, Loading } from './ui/common';
import { FacebookIcon, HomeIcon, LogoMark, LogoutIcon } from './ui/icons';

// uPlot only loads with the dashboard: the first load stays small.
const DashboardPage = lazy(() => import('./pages/dashboard'));
// Forwarding screens come with their own chunk (and their own messages).
const SourceLogsPage = lazy(() => import('./pages/source-logs'));

interface Session {
  me: Me;
  logout: () => Promise<void>;
}
const SessionContext = createContext<Session | null>(null);
export function useSession(): Session {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside the signed-in app');
  return value;
}

export function App() {
  const { path, search, navigate } = useRouter();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [bootError, setBootError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on boot and on retry
  useEffect(() => {
    setUnauthorizedHandler(() => setMe(null));
    api<Me>('GET', '/me').then(
      (value) => {
        setMe(value);
        setBootError(null);
      },
      (error: unknown) => {
        if ((error as { status?: number }).status === 401) setMe(null);
        else setBootError(error);
      },
    );
  }, [attempt]);

  const isAuthPage = path === '/login' || path === '/signup';
  useEffect(() => {
    if (me === null && !isAuthPage) {
      const next = path === '/' ? '' : `?next=${encodeURIComponent(path + window.location.search)}`;
      navigate(`/login${next}`, { replace: true });
    }
    if (me && isAuthPage) navigate(safeNext(search.get('next')), { replace: true });
  }, [me, isAuthPage, path, search, navigate]);

  if (bootError)
    return (
      <main className="boot">
        <ErrorBox error={bootError} onRetry={() => setAttempt((n) => n + 1)} />
      </main>
    );
  if (me === undefined) return <Loading />;
  if (me === null) {
    if (!isAuthPage) return <Loading />;
    return <AuthPage mode={path === '/signup' ? 'signup' : 'login'} onSignedIn={setMe} />;
  }
  if (isAuthPage) return <Loading />;

  const logout = async () => {
    try {
      await api('POST', '/auth/logout');
    } finally {
      setMe(null);
      navigate('/login');
    }
  };
  return (
    <SessionContext.Provider value={{ me, logout }}>
      <Shell>
        <Routes />
      </Shell>
    </SessionContext.Provider>
  );
}

/** Only same-site paths: `next` comes from the URL and must not send users elsewhere. */
function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function Shell({ children }: { children: ReactNode }) {
  const { t, lang, setLang } = useI18n();
  const { me, logout } = useSession();
  const { path } = useRouter();
  const inTracker = path.startsWith('/tracker');
  return (
    <div className="shell">
      <nav className="rail" aria-label={t('nav.main')}>
        <Link to="/" className="rail-logo" aria-label={t('app.name')} title={t('app.name')}>
          <LogoMark />
        </Link>
        <Link
          to="/"
          className={`rail-item ${path === '/' ? 'active' : ''}`}
          aria-label={t('nav.home')}
          title={t('nav.home')}
          aria-current={path === '/' ? 'page' : undefined}
        >
          <HomeIcon />
        </Link>
        {/* Users are told "click the Facebook icon to open the tracker": its name stays "Tracker". */}
        <Link
          to="/tracker"
          className={`rail-item rail-fb ${inTracker ? 'active' : ''}`}
          aria-label="Tracker"
          title={t('nav.tracker')}
          aria-current={inTracker ? 'page' : undefined}
        >
          <FacebookIcon />
        </Link>
      </nav>
      <div className="main">
        <header className="topbar">
          <div className="topbar-title">
            <strong>{me.workspace.name}</strong>
            <span className="muted">{me.user.email}</span>
          </div>
          <div className="topbar-actions">
            <label className="lang-select">
              <span className="visually-hidden">{t('nav.language')}</span>
              <select
                aria-label={t('nav.language')}
                value={lang}
                onChange={(event) => setLang(event.target.value as Lang)}
              >
                {LANGS.map((l) => (
                  <option key={l.code} value={l.code}>
                    {l.code.toUpperCase()} · {l.label}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" className="btn btn-ghost" onClick={logout}>
              <LogoutIcon /> {t('auth.logout')}
            </button>
          </div>
        </header>
        {inTracker && <TrackerTabs />}
        <main className="content" id="content">
          {children}
        </main>
      </div>
    </div>
  );
}

const TABS: { path: string; key: MessageKey }[] = [
  { path: '/tracker/campaigns', key: 'nav.campaigns' },
  { path: '/tracker/postbacks', key: 'nav.postbacks' },
  { path: '/tracker/leads', key: 'nav.leads' },
  { path: '/tracker/logs', key: 'nav.logs' },
  { path: '/tracker/analytics', key: 'nav.analytics' },
  { path: '/tracker/dashboard', key: 'nav.dashboard' },
];

function TrackerTabs() {
  const { t } = useI18n();
  const { path } = useRouter();
  return (
    <nav className="tabs" aria-label={t('nav.sections')}>
      <span className="tabs-title">
        <FacebookIcon /> {t('nav.tracker')}
      </span>
      {TABS.map((tab) => {
        const active = path === tab.path || path.startsWith(`${tab.path}/`);
        return (
          <Link
            key={tab.path}
            to={tab.path}
            className={`tab ${active ? 'active' : ''}`}
            aria-current={active ? 'page' : undefined}
          >
            {t(tab.key)}
          </Link>
        );
      })}
    </nav>
  );
}

function Routes() {
  const { path, navigate } = useRouter();
  useEffect(() => {
    if (path === '/tracker') navigate('/tracker/campaigns', { replace: true });
  }, [path, navigate]);

  if (path === '/') return <HomePage />;
  if (path === '/tracker/campaigns') return <CampaignsPage />;
  if (path === '/tracker/campaigns/new') return <CampaignEdit id={null} />;
  let params = match('/tracker/campaigns/:id', path);
  if (params?.id) return <CampaignEdit key={params.id} id={params.id} />;
  params = match('/tracker/campaigns/:id/:section', path);
  if (params?.id && (params.section === 'sources' || params.section === 'auto-actions'))
    return <CampaignEdit key={params.id} id={params.id} section={params.section} />;
  if (path === '/tracker/postbacks') return <PostbacksPage />;
  if (path === '/tracker/postbacks/new') return <PostbackNew />;
  params = match('/tracker/postbacks/:id', path);
  if (params?.id) return <PostbackDetail key={params.id} id={params.id} />;
  if (path === '/tracker/leads') return <LeadsPage />;
  params = match('/tracker/leads/:clickid', path);
  if (params?.clickid) return <LeadCard key={params.clickid} clickid={params.clickid} />;
  if (path === '/tracker/logs') return <LogsPage />;
  if (path === '/tracker/logs/sources')
    return (
      <Suspense fallback={<Loading />}>
        <SourceLogsPage />
      </Suspense>
    );
  if (path === '/tracker/analytics') return <StatsPage />;
  if (path === '/tracker/dashboard')
    return (
      <Suspense fallback={<Loading />}>
        <DashboardPage />
      </Suspense>
    );
  if (path === '/tracker') return <Loading />;
  return <NotFound />;
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section className="page">
      <h1>{t('common.notFound')}</h1>
      <p>{t('common.pageNotFound')}</p>
      <Link to="/" className="btn">
        {t('common.goHome')}
      </Link>
    </section>
  );
}
