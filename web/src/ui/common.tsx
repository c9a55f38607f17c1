// Small shared pieces: copy button, empty state, error message, field wrapper, pager.
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { ApiError } from '../api';
import { useI18n } from '../i18n';

/** An API error in words, in the user's language when we know the code. */
export function useErrorText(): (error: unknown) => string {
  const { t, tMaybe } = useI18n();
  return (error) => {
    if (error instanceof ApiError) {
      if (error.status === 401 && error.code !== 'invalid_credentials')
        return t('err.unauthorized');
      return tMaybe(`err.${error.code}`, error.message);
    }
    if (error instanceof Error) return error.message;
    return t('common.error');
  };
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const text = useErrorText();
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      <span>{text(error)}</span>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function Notice({
  children,
  kind = 'success',
}: {
  children: ReactNode;
  kind?: 'success' | 'info' | 'warn';
}) {
  return (
    <div className={`alert alert-${kind}`} role="status">
      {children}
    </div>
  );
}

export function Empty({
  title,
  children,
  action,
  icon,
}: {
  title: string;
  children: ReactNode;
  action?: ReactNode;
  icon?: ReactNode;
}) {
  return (
    <div className="empty">
      {icon && <div className="empty-icon">{icon}</div>}
      <h3>{title}</h3>
      <div className="empty-text">{children}</div>
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {t('common.loading')}
    </div>
  );
}

async function writeClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Insecure origin or no permission: the old way still works in most browsers.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy failed');
}

/**
 * `label` names the button ("Copy: <label>") where no visible label is near;
 * `describedBy` ties it to a visible label instead, so that label names only its input.
 */
export function CopyButton({
  text,
  label,
  describedBy,
}: {
  text: string;
  label?: string;
  describedBy?: string;
}) {
  const { t } = useI18n();
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<number>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = async () => {
    window.clearTimeout(timer.current);
    try {
      await writeClipboard(text);
      setState('copied');
    } catch {
      setState('failed');
    }
    timer.current = window.setTimeout(() => setState('idle'), 2000);
  };
  return (
    <span className="copy-wrap">
      <button
        type="button"
        className={`btn btn-small ${state === 'copied' ? 'btn-done' : ''}`}
        onClick={copy}
        aria-label={label ? `${t('common.copy')}: ${label}` : undefined}
        aria-describedby={describedBy}
      >
        {state === 'copied' ? `✓ ${t('common.copied')}` : t('common.copy')}
      </button>
      <span className="visually-hidden" role="status">
        {state === 'copied' ? t('common.copied') : state === 'failed' ? t('common.copyFailed') : ''}
      </span>
      {state === 'failed' && <span className="copy-failed">{t('common.copyFailed')}</span>}
    </span>
  );
}

/** A read-only link with its copy button; long links wrap so they can be checked whole. */
export function CopyField({ label, value, id }: { label: string; value: string; id?: string }) {
  const autoId = useId();
  const inputId = id ?? autoId;
  const rows = Math.min(4, Math.max(1, Math.ceil(value.length / 64)));
  return (
    <div className="copy-field">
      <label htmlFor={inputId} id={`${inputId}-label`}>
        {label}
      </label>
      <div className="copy-row">
        <textarea
          id={inputId}
          className="mono copy-text"
          readOnly
          rows={rows}
          value={value}
          spellCheck={false}
          onFocus={(event) => event.currentTarget.select()}
        />
        <CopyButton text={value} describedBy={`${inputId}-label`} />
      </div>
    </div>
  );
}

/** A labelled control: the label, the control (given its id), a hint under it. */
export function Field({
  label,
  hint,
  optional,
  children,
}: {
  label: string;
  hint?: ReactNode;
  optional?: boolean;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const { t } = useI18n();
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {optional && <span className="optional"> ({t('common.optional')})</span>}
      </label>
      {children(id, hintId)}
      {hint && (
        <div className="hint" id={hintId}>
          {hint}
        </div>
      )}
    </div>
  );
}

/** Cursor pagination: a stack of the cursors that led to each page. */
export function usePager() {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const cursor = stack[stack.length - 1] ?? null;
  return {
    cursor,
    page: stack.length,
    next: (nextCursor: string) => setStack((s) => [...s, nextCursor]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

export function Pager({
  page,
  hasNext,
  onPrev,
  onNext,
}: {
  page: number;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
}) {
  const { t } = useI18n();
  if (page === 1 && !hasNext) return null;
  return (
    <nav className="pager" aria-label={t('common.pageN', { n: page })}>
      <button type="button" className="btn btn-small" disabled={page === 1} onClick={onPrev}>
        ← {t('common.prev')}
      </button>
      <span>{t('common.pageN', { n: page })}</span>
      <button type="button" className="btn btn-small" disabled={!hasNext} onClick={onNext}>
        {t('common.next')} →
      </button>
    </nav>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const { tMaybe } = useI18n();
  return <span className={`badge badge-${status}`}>{tMaybe(`status.${status}`, status)}</span>;
}

export function eventLabel(tMaybe: (key: string, fallback: string) => string, event: string) {
  return tMaybe(`event.${event}`, event);
}

export function linkLabel(tMaybe: (key: string, fallback: string) => string, key: string) {
  const fallback = key.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
  return tMaybe(`link.${key}`, fallback);
}
