// What the forwarding screens (sources, auto actions, source logs) share: their
// messages, the event names they offer, an event picker, a switch, a status badge.
import { type ReactNode, useId } from 'react';
import type { DeliveryStatus } from '../api';
import { useI18n, useMessages } from '../i18n';
import { type ForwardingKey, forwardingMessages } from './forwarding-messages';
import './forwarding.css';

export function useForwardingText() {
  return useMessages(forwardingMessages);
}
export type ForwardingText = ReturnType<typeof useForwardingText>;
/** A message to show later, kept as a key so it follows a change of language. */
export interface Said {
  key: ForwardingKey;
  vars?: Record<string, string>;
}

/** Facebook's standard events, most used first. */
export const FACEBOOK_EVENTS = [
  'Lead',
  'Contact',
  'CompleteRegistration',
  'Purchase',
  'Subscribe',
  'ViewContent',
  'AddToCart',
  'InitiateCheckout',
  'StartTrial',
  'AddPaymentInfo',
  'Search',
  'SubmitApplication',
  'Schedule',
  'Donate',
  'FindLocation',
  'CustomizeProduct',
] as const;
export const FACEBOOK_CUSTOM_EVENT = /^[A-Za-z0-9_]{1,50}$/;

export const ACTION_SOURCES = [
  'website',
  'chat',
  'system_generated',
  'app',
  'email',
  'phone_call',
  'physical_store',
  'other',
] as const;

/** Our custom event names, as the API accepts them. */
export const CUSTOM_EVENT = /^[a-z0-9_]{1,32}$/;
const NTH_DEPOSIT = /^deposit#([1-9][0-9]{0,5})$/;

/** Picker kinds beyond plain event names. */
export const KIND_NTH_DEPOSIT = 'deposit#';
export const KIND_CUSTOM = '*custom';

/** Our event in words: "Repeat deposit #2", "Registration", or a custom name as is. */
export function useEventName(): (event: string) => string {
  const { tMaybe } = useI18n();
  const f = useForwardingText();
  return (event) => {
    const nth = NTH_DEPOSIT.exec(event);
    if (nth) return f('event.depositN', { n: nth[1] ?? '' });
    if (event === 'deposit') return f('event.depositEvery');
    if (event === 'click') return f('event.click');
    if (event === 'contact') return f('event.contact');
    return tMaybe(`event.${event}`, event);
  };
}

/** Events in a stable, meaningful order: the funnel first, Nth deposits by N, the rest by name. */
export function sortEvents(events: string[]): string[] {
  const funnel = ['click', 'contact', 'registration', 'first_deposit', 'deposit'];
  const rank = (e: string) => {
    const i = funnel.indexOf(e);
    if (i >= 0) return [i, 0, e] as const;
    const nth = NTH_DEPOSIT.exec(e);
    if (nth) return [funnel.length, Number(nth[1]), e] as const;
    return [funnel.length + 1, 0, e] as const;
  };
  return [...events].sort((a, b) => {
    const [ra, na, ea] = rank(a);
    const [rb, nb, eb] = rank(b);
    return ra - rb || na - nb || ea.localeCompare(eb);
  });
}

export interface EventChoice {
  /** An event name, KIND_NTH_DEPOSIT or KIND_CUSTOM. */
  kind: string;
  n: string;
  name: string;
}

export function choiceOf(event: string, kinds: readonly string[]): EventChoice {
  const nth = NTH_DEPOSIT.exec(event);
  if (nth && kinds.includes(KIND_NTH_DEPOSIT))
    return { kind: KIND_NTH_DEPOSIT, n: nth[1] ?? '', name: '' };
  if (kinds.includes(event)) return { kind: event, n: '2', name: '' };
  return { kind: KIND_CUSTOM, n: '2', name: event };
}

/** The event a choice names, or null while it is incomplete or invalid. */
export function pickedEvent(choice: EventChoice): string | null {
  if (choice.kind === KIND_NTH_DEPOSIT) {
    const n = choice.n.trim();
    return /^[1-9][0-9]{0,5}$/.test(n) ? `deposit#${n}` : null;
  }
  if (choice.kind === KIND_CUSTOM) {
    const name = choice.name.trim().toLowerCase();
    return CUSTOM_EVENT.test(name) ? name : null;
  }
  return choice.kind;
}

/** Our event: a select of `kinds`, plus the deposit's number or a custom name when chosen. */
export function EventPicker({
  label,
  kinds,
  value,
  onChange,
}: {
  label: string;
  kinds: readonly string[];
  value: EventChoice;
  onChange: (next: EventChoice) => void;
}) {
  const f = useForwardingText();
  const eventName = useEventName();
  const id = useId();
  return (
    <div className="picker">
      <div className="field">
        <label htmlFor={`${id}-kind`}>{label}</label>
        <select
          id={`${id}-kind`}
          value={value.kind}
          onChange={(e) => onChange({ ...value, kind: e.target.value })}
        >
          {kinds.map((kind) => (
            <option key={kind} value={kind}>
              {kind === KIND_NTH_DEPOSIT
                ? f('picker.nthDeposit')
                : kind === KIND_CUSTOM
                  ? f('picker.custom')
                  : eventName(kind)}
            </option>
          ))}
        </select>
      </div>
      {value.kind === KIND_NTH_DEPOSIT && (
        <div className="field">
          <label htmlFor={`${id}-n`}>{f('picker.depositNumber')}</label>
          <input
            id={`${id}-n`}
            className="short"
            type="number"
            required
            min={1}
            max={999999}
            step={1}
            aria-describedby={`${id}-n-hint`}
            value={value.n}
            onChange={(e) => onChange({ ...value, n: e.target.value })}
          />
          <div className="hint" id={`${id}-n-hint`}>
            {f('picker.depositNumberHint')}
          </div>
        </div>
      )}
      {value.kind === KIND_CUSTOM && (
        <div className="field">
          <label htmlFor={`${id}-name`}>{f('picker.customName')}</label>
          <input
            id={`${id}-name`}
            className="mono"
            required
            maxLength={32}
            pattern="[a-z0-9_]{1,32}"
            placeholder="emailconf"
            aria-describedby={`${id}-name-hint`}
            value={value.name}
            onChange={(e) => onChange({ ...value, name: e.target.value })}
          />
          <div className="hint" id={`${id}-name-hint`}>
            {f('picker.customNameHint')}
          </div>
        </div>
      )}
    </div>
  );
}

/** An on/off switch (a checkbox underneath) that saves at once. */
export function Switch({
  checked,
  onChange,
  label,
  busy,
}: {
  checked: boolean;
  onChange: (next: boolean) => void;
  label: string;
  busy?: boolean;
}) {
  const f = useForwardingText();
  return (
    <label className={`switch ${checked ? 'on' : ''}`}>
      <input
        type="checkbox"
        role="switch"
        aria-checked={checked}
        checked={checked}
        disabled={busy}
        aria-label={label}
        onChange={(e) => onChange(e.target.checked)}
      />
      <span className="switch-track" aria-hidden="true" />
      <span className="switch-text">{checked ? f('switch.on') : f('switch.off')}</span>
    </label>
  );
}

export function DeliveryBadge({ status }: { status: DeliveryStatus | string }) {
  const f = useForwardingText();
  const known = ['delivered', 'retrying', 'failed', 'expired', 'skipped'].includes(status);
  return (
    <span className={`badge badge-${status}`}>
      {known ? f(`status.${status as DeliveryStatus}`) : status}
    </span>
  );
}

export function SourceTypeBadge({ type }: { type: 'facebook' | 'webhook' | 'auto_action' }) {
  const f = useForwardingText();
  return <span className={`src-type src-${type}`}>{f(`type.${type}`)}</span>;
}

/** A section heading with its explanation and actions on the right. */
export function SectionHead({
  title,
  children,
  actions,
}: {
  title: string;
  children?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="section-head">
      <div>
        <h2>{title}</h2>
        {children && <p className="hint">{children}</p>}
      </div>
      {actions && <div className="head-actions">{actions}</div>}
    </div>
  );
}
