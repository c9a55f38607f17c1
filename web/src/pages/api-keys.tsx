// API keys for the bot and scripts: listed, created (the key shown once) and
// revoked. The bot needs one to create leads and bind chats.
import { type FormEvent, useState } from 'react';
import { api, get } from '../api';
import { useI18n } from '../i18n';
import { CopyField, ErrorBox, Field } from '../ui/common';
import { useLoad } from '../ui/use-load';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function ApiKeys() {
  const { t, dateTime } = useI18n();
  const keys = useLoad((signal) => get<{ items: ApiKey[] }>('/api-keys', undefined, signal), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api<ApiKey & { key: string }>('POST', '/api-keys', {
        name: name.trim(),
      });
      setCreated({ name: answer.name, key: answer.key });
      setName('');
      keys.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (key: ApiKey) => {
    if (!window.confirm(t('apiKeys.confirmRevoke', { name: key.name }))) return;
    setError(null);
    try {
      await api('DELETE', `/api-keys/${encodeURIComponent(key.id)}`);
      keys.reload();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <section className="card api-keys" aria-labelledby="api-keys-title">
      <h2 id="api-keys-title">{t('apiKeys.title')}</h2>
      <p className="hint">
        {t('apiKeys.lead')} <a href="/api/docs">{t('apiKeys.docs')}</a>
      </p>
      {created && (
        <div className="alert alert-success" role="status">
          <CopyField label={t('apiKeys.createdKey', { name: created.name })} value={created.key} />
          <p className="hint">{t('apiKeys.shownOnce')}</p>
        </div>
      )}
      <form className="api-key-form" onSubmit={create}>
        <Field label={t('apiKeys.name')}>
          {(id) => (
            <input
              id={id}
              required
              maxLength={200}
              placeholder={t('apiKeys.namePlaceholder')}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="btn" disabled={busy}>
          {t('apiKeys.create')}
        </button>
      </form>
      <ErrorBox error={error ?? keys.error} onRetry={error ? undefined : keys.reload} />
      {keys.data && keys.data.items.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('apiKeys.name')}</th>
                <th scope="col">{t('apiKeys.key')}</th>
                <th scope="col">{t('apiKeys.created')}</th>
                <th scope="col">{t('apiKeys.lastUsed')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('apiKeys.revoke')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((key) => (
                <tr key={key.id}>
                  <th scope="row">{key.name}</th>
                  <td className="mono">{key.prefix}…</td>
                  <td>{dateTime(key.createdAt)}</td>
                  <td>{key.lastUsedAt ? dateTime(key.lastUsedAt) : t('apiKeys.never')}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-small btn-danger-ghost"
                      onClick={() => revoke(key)}
                    >
                      {t('apiKeys.revoke')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
