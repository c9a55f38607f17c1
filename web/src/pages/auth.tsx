// Log in and sign up: the session cookie is set by the API; we keep only {user, workspace}.
import { type FormEvent, useState } from 'react';
import { api, type Me } from '../api';
import { LANGS, type Lang, useI18n } from '../i18n';
import { Link } from '../router';
import { ErrorBox, Field } from '../ui/common';
import { LogoMark } from '../ui/icons';

export function AuthPage({
  mode,
  onSignedIn,
}: {
  mode: 'login' | 'signup';
  onSignedIn: (me: Me) => void;
}) {
  const { t, lang, setLang } = useI18n();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [workspaceName, setWorkspaceName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === 'signup';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = signup
        ? {
            email,
            password,
            ...(workspaceName.trim() ? { workspaceName: workspaceName.trim() } : {}),
          }
        : { email, password };
      const answer = await api<Me>('POST', signup ? '/auth/signup' : '/auth/login', body);
      onSignedIn({ user: answer.user, workspace: answer.workspace });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <LogoMark />
          <div>
            <div className="auth-name">{t('app.name')}</div>
            <div className="muted small">{t('auth.tagline')}</div>
          </div>
        </div>
        <h1>{signup ? t('auth.signupTitle') : t('auth.loginTitle')}</h1>
        <form onSubmit={submit} noValidate={false}>
          <Field label={t('auth.email')}>
            {(id) => (
              <input
                id={id}
                type="email"
                autoComplete="email"
                required
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            )}
          </Field>
          <Field label={t('auth.password')} hint={signup ? t('auth.passwordHint') : undefined}>
            {(id, describedBy) => (
              <input
                id={id}
                type="password"
                autoComplete={signup ? 'new-password' : 'current-password'}
                required
                minLength={signup ? 8 : undefined}
                aria-describedby={describedBy}
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            )}
          </Field>
          {signup && (
            <Field label={t('auth.workspaceName')} hint={t('auth.workspaceHint')} optional>
              {(id, describedBy) => (
                <input
                  id={id}
                  maxLength={100}
                  aria-describedby={describedBy}
                  value={workspaceName}
                  onChange={(e) => setWorkspaceName(e.target.value)}
                />
              )}
            </Field>
          )}
          <ErrorBox error={error} />
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {signup ? t('auth.signup') : t('auth.login')}
          </button>
        </form>
        <p className="auth-switch">
          {signup ? t('auth.haveAccount') : t('auth.noAccount')}{' '}
          <Link to={signup ? '/login' : '/signup'}>
            {signup ? t('auth.toLogin') : t('auth.toSignup')}
          </Link>
        </p>
        <div className="auth-lang">
          <label>
            {t('nav.language')}{' '}
            <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
              {LANGS.map((l) => (
                <option key={l.code} value={l.code}>
                  {l.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
    </main>
  );
}
