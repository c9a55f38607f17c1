// Facebook Conversions API: one event per request, built from the conversion
// and the click that started the lead (fbc, fbp, IP, user agent).
import { createHash } from 'node:crypto';
import { isMoneyEvent } from '../domain/events.js';
import {
  eventId,
  FACEBOOK_MAX_EVENT_AGE_MS,
  type FacebookSettings,
  mappedFacebookEvent,
} from '../domain/forwarding.js';
import { formatMicros, isIsoCurrency } from '../domain/money.js';
import type { DeliveryJob } from '../store/store.js';
import { type PreparedDelivery, requestLogText } from './outbound-http.js';

export interface FacebookContext {
  graphUrl: string;
  graphVersion: string;
  publicUrl: string;
  now: number;
}

/** Facebook takes ISO 4217 only; stablecoins are dollars to it. */
const FACEBOOK_CURRENCY: Record<string, string> = { USDT: 'USD', USDC: 'USD' };

export function sha256(text: string): string {
  return createHash('sha256').update(text.trim().toLowerCase()).digest('hex');
}

/** `fb.1.<click time in ms>.<fbclid>`; fbclid is case-sensitive and kept as is. */
export function fbcFor(clickAt: number, fbclid: string): string {
  return `fb.1.${clickAt}.${fbclid}`;
}

/** One job as a Conversions API event (JSON text), or why it is not sent. */
export type FacebookEvent =
  | { kind: 'event'; eventName: string; json: string }
  | { kind: 'skip' | 'expire'; destinationEvent: string | null; reason: string };

/** Events per request; the API takes up to 1,000. */
export const FACEBOOK_BATCH = 100;

export function facebookEvent(
  job: DeliveryJob,
  settings: FacebookSettings,
  context: FacebookContext,
): FacebookEvent {
  const eventName = mappedFacebookEvent(settings.mapping, job.event, job.occurrence);
  if (eventName === null) {
    return { kind: 'skip', destinationEvent: null, reason: `${job.event} is not mapped` };
  }
  // Sent, it would fail the whole request, other events with it.
  if (context.now - job.eventAt > FACEBOOK_MAX_EVENT_AGE_MS) {
    return {
      kind: 'expire',
      destinationEvent: eventName,
      reason: 'older than 7 days: Facebook would refuse it',
    };
  }

  const conversion = job.conversion;
  const currency = conversion && (FACEBOOK_CURRENCY[conversion.currency] ?? conversion.currency);
  // Facebook refuses a whole request for one event in another currency.
  if (
    conversion &&
    currency &&
    !isIsoCurrency(currency) &&
    hasMoney(job.event, conversion.micros)
  ) {
    return {
      kind: 'skip',
      destinationEvent: eventName,
      reason: `Facebook takes ISO 4217 currencies only, and ${conversion.currency} is not one`,
    };
  }

  const click = job.click;
  const clickParams = click?.params ?? {};
  const userData: Record<string, unknown> = {};
  const fbclid = clickParams.fbclid;
  if (clickParams.fbc) userData.fbc = clickParams.fbc;
  else if (fbclid && click) userData.fbc = fbcFor(click.at, fbclid);
  const fbp = clickParams.fbp ?? clickParams._fbp;
  if (fbp) userData.fbp = fbp;
  if (click?.ip) userData.client_ip_address = click.ip;
  if (click?.userAgent) userData.client_user_agent = click.userAgent;
  userData.external_id = [sha256(job.lead.clickid)];

  // Facebook requires a website event's user agent. A lead the bot made,
  // with no click to take one from, came to us through the chat.
  const actionSource =
    settings.actionSource === 'website' && !userData.client_user_agent
      ? 'chat'
      : settings.actionSource;
  const event: Record<string, unknown> = {
    event_name: eventName,
    event_time: Math.floor(job.eventAt / 1000),
    event_id: eventId(job.subject, job.subjectId),
    action_source: actionSource,
    user_data: userData,
  };
  if (actionSource === 'website') {
    event.event_source_url = `${context.publicUrl}/c/${job.campaignSlug}`;
  }
  let json = JSON.stringify(event);
  if (conversion && currency && hasMoney(job.event, conversion.micros)) {
    // Written by hand, last: the amount goes out as the exact decimal the
    // network sent, a JSON number never made from a float.
    const micros = conversion.micros;
    const value = micros !== null && micros >= 0n ? `"value":${formatMicros(micros)},` : '';
    json = `${json.slice(0, -1)},"custom_data":{${value}"currency":${JSON.stringify(currency)}}}`;
  }
  return { kind: 'event', eventName, json };
}

/** Whether an event carries money to Facebook: a non-negative amount, or a deposit without one. */
function hasMoney(event: string, micros: bigint | null): boolean {
  return (micros !== null && micros >= 0n) || isMoneyEvent(event);
}

/** One request carrying `events` (JSON texts from facebookEvent) to the pixel. */
export function facebookBatch(
  events: string[],
  settings: FacebookSettings,
  accessToken: string,
  context: FacebookContext,
): { request: Extract<PreparedDelivery, { kind: 'send' }>['request']; loggedUrl: string } {
  const testCode = settings.testEventCode
    ? `,"test_event_code":${JSON.stringify(settings.testEventCode)}`
    : '';
  const base = `${context.graphUrl}/${context.graphVersion}/${encodeURIComponent(settings.pixelId)}/events`;
  return {
    request: {
      method: 'POST',
      url: `${base}?access_token=${encodeURIComponent(accessToken)}`,
      headers: { 'content-type': 'application/json' },
      body: `{"data":[${events.join(',')}]${testCode}}`,
    },
    loggedUrl: `${base}?access_token=[redacted]`,
  };
}

/** A request for one job alone. */
export function facebookRequest(
  job: DeliveryJob,
  settings: FacebookSettings,
  accessToken: string,
  context: FacebookContext,
): PreparedDelivery {
  const event = facebookEvent(job, settings, context);
  if (event.kind !== 'event') return event;
  const { request, loggedUrl } = facebookBatch([event.json], settings, accessToken, context);
  return {
    kind: 'send',
    destinationEvent: event.eventName,
    request,
    logText: requestLogText('POST', loggedUrl, request.body),
  };
}

/**
 * Graph API errors that pass, from its error-handling guide: an unknown or
 * service error (1, 2), throttling of the app, user, page or pixel (4, 17, 32,
 * 613, and 80000-80014 for business use), the application's limit (341).
 */
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 341, 613]);

/** Facebook marks some errors as transient: worth a retry though the status is 4xx. */
export function isTransientFacebookError(body: string | null): boolean {
  const error = graphError(body);
  if (error === null) return false;
  const code = error.code;
  return (
    error.is_transient === true ||
    (typeof code === 'number' && (TRANSIENT_CODES.has(code) || (code >= 80000 && code <= 80014)))
  );
}

/**
 * Facebook's answer to a request with an invalid event in it (code 100,
 * "Invalid parameter"): it refuses the whole request, the valid events too.
 * A pixel that does not exist is code 100 as well, with subcode 33; it, an
 * expired token and a missing permission (other codes) fail every event
 * alike, and are not worth sending again in parts.
 */
export function refusesAnEvent(body: string | null): boolean {
  const error = graphError(body);
  return error?.code === 100 && error.error_subcode !== 33;
}

/**
 * What a Graph API error says, for the delivery log: its message, the text
 * meant for the user when there is one, and its codes (`Invalid OAuth access
 * token (code 190)`); null when the body is not such an error.
 */
export function facebookErrorText(body: string): string | null {
  const error = graphError(body);
  if (error === null || typeof error.message !== 'string') return null;
  const detail = typeof error.error_user_msg === 'string' ? ` ${error.error_user_msg}` : '';
  const codes = [
    typeof error.code === 'number' ? `code ${error.code}` : '',
    typeof error.error_subcode === 'number' ? `subcode ${error.error_subcode}` : '',
  ].filter(Boolean);
  const text = `${error.message}${detail}${codes.length > 0 ? ` (${codes.join(', ')})` : ''}`;
  return text.slice(0, 500);
}

/** The `error` object of a Graph API answer; null for any other body. */
function graphError(body: string | null): Record<string, unknown> | null {
  if (!body) return null;
  try {
    const error = (JSON.parse(body) as { error?: unknown } | null)?.error;
    return error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
