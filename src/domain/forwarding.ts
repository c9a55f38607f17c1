// Forwarding rules, free of I/O: what a destination wants, which of our events
// reach it, how a delivery is identified, and when a failed one is tried again.

import { normaliseEvent } from './events.js';

export type DestinationKind = 'facebook' | 'webhook' | 'auto_action';

/** Where the event happened, as Facebook's `action_source` names it. */
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
export type ActionSource = (typeof ACTION_SOURCES)[number];

export interface FacebookSettings {
  pixelId: string;
  testEventCode: string | null;
  /** Our event (or `deposit#N`) → Facebook's event name. Unmapped events are not sent. */
  mapping: Record<string, string>;
  actionSource: ActionSource;
}

export interface WebhookSettings {
  url: string;
  method: 'GET' | 'POST';
  /** Our events to send; empty means every conversion event. */
  events: string[];
}

export interface AutoActionSettings {
  event: string;
  url: string;
  payload: Record<string, unknown>;
}

export type DestinationSettings =
  | { kind: 'facebook'; facebook: FacebookSettings }
  | { kind: 'webhook'; webhook: WebhookSettings }
  | { kind: 'auto_action'; autoAction: AutoActionSettings };

/** Events that are not conversions: a click on the campaign link, the first message to the bot. */
export const CLICK = 'click';
export const CONTACT = 'contact';

/** Every conversion event, for a webhook that asked for all of them. */
export const ALL_CONVERSIONS = '*';

/** Chatterfy's defaults; a repeat deposit is mapped by the user. */
export const DEFAULT_FACEBOOK_MAPPING: Readonly<Record<string, string>> = {
  click: 'Lead',
  contact: 'Contact',
  registration: 'CompleteRegistration',
  first_deposit: 'Purchase',
};

export const FACEBOOK_STANDARD_EVENTS = [
  'AddPaymentInfo',
  'AddToCart',
  'AddToWishlist',
  'CompleteRegistration',
  'Contact',
  'CustomizeProduct',
  'Donate',
  'FindLocation',
  'InitiateCheckout',
  'Lead',
  'Purchase',
  'Schedule',
  'Search',
  'StartTrial',
  'SubmitApplication',
  'Subscribe',
  'ViewContent',
] as const;

/** Our event names plus `<event>#N`, the Nth occurrence of a repeatable event. */
export const FORWARD_EVENT_PATTERN = '^[a-z0-9_]{1,32}(#[1-9][0-9]{0,5})?$';
export const FACEBOOK_EVENT_PATTERN = '^[A-Za-z0-9_]{1,50}$';

/**
 * The name an event given to a source or an auto action is recorded under:
 * the same aliases as an inbound postback's (`emailconf` and `conf` are
 * `email_confirmation`, `sale` is `first_deposit`, `resale#2` is
 * `deposit#2`), so a destination set up with the name a network sends
 * listens on the event its postbacks are counted as.
 */
export function normaliseForwardEvent(name: string): string {
  const hash = name.indexOf('#');
  const base = hash === -1 ? name : name.slice(0, hash);
  const result = normaliseEvent(base);
  if (!result.ok || result.event === base) return name;
  return hash === -1 ? result.event : result.event + name.slice(hash);
}

/**
 * A destination's settings as saved before event names were normalised (an
 * auto action on `emailconf`, a pixel mapping `sale`), named as they are now,
 * for the migration that puts saved ones right. Nothing is refused here: where
 * a mapping has an alias and its event both, the event's entry stays, since
 * it is the one that has been firing; of two aliases, the first.
 */
export function normaliseSavedSettings(settings: DestinationSettings): DestinationSettings {
  switch (settings.kind) {
    case 'facebook': {
      const entries = Object.entries(settings.facebook.mapping);
      // A Map, then fromEntries: a key such as `__proto__` stays an own property.
      const mapping = new Map<string, string>();
      for (const [key, value] of entries) {
        if (normaliseForwardEvent(key) === key) mapping.set(key, value);
      }
      for (const [key, value] of entries) {
        const event = normaliseForwardEvent(key);
        if (!mapping.has(event)) mapping.set(event, value);
      }
      return {
        kind: 'facebook',
        facebook: { ...settings.facebook, mapping: Object.fromEntries(mapping) },
      };
    }
    case 'webhook':
      return {
        kind: 'webhook',
        webhook: {
          ...settings.webhook,
          events: [...new Set(settings.webhook.events.map(normaliseForwardEvent))],
        },
      };
    case 'auto_action':
      return {
        kind: 'auto_action',
        autoAction: {
          ...settings.autoAction,
          event: normaliseForwardEvent(settings.autoAction.event),
        },
      };
  }
}

/** The route keys a destination listens on; the store indexes them by campaign. */
export function routeEvents(settings: DestinationSettings): string[] {
  switch (settings.kind) {
    case 'facebook':
      return Object.keys(settings.facebook.mapping);
    case 'webhook':
      return settings.webhook.events.length > 0 ? settings.webhook.events : [ALL_CONVERSIONS];
    case 'auto_action':
      return [settings.autoAction.event];
  }
}

/** The Facebook event for an occurrence: a `deposit#2` row wins over `deposit`. */
export function mappedFacebookEvent(
  mapping: Record<string, string>,
  event: string,
  occurrence: number,
): string | null {
  const numbered = `${event}#${occurrence}`;
  if (Object.hasOwn(mapping, numbered)) return mapping[numbered] as string;
  return Object.hasOwn(mapping, event) ? (mapping[event] as string) : null;
}

export type Subject = 'conversion' | 'click' | 'contact';

/**
 * Stable per thing that happened, whichever destination and attempt: Facebook
 * deduplicates on it (with the event name) and webhooks get it as the
 * Idempotency-Key, so a retry never becomes a second event.
 */
export function eventId(subject: Subject, subjectId: string): string {
  const prefix = subject === 'conversion' ? 'cv' : subject === 'click' ? 'ck' : 'ct';
  return `cb-${prefix}-${subjectId}`;
}

export interface RetryPolicy {
  baseMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  maxAgeMs: number;
}

/**
 * Exponential backoff with full jitter around the nominal delay (0.5×–1.5×),
 * so destinations that come back are not hit by every waiting event at once.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: number): number {
  const nominal = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(nominal * (0.5 + random));
}

/** Answers worth another try: the destination may be fine a little later. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Facebook drops (and fails the request for) events older than this. */
export const FACEBOOK_MAX_EVENT_AGE_MS = 7 * 24 * 3600 * 1000;
