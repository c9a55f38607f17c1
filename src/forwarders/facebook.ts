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
import { formatMicros } from '../domain/money.js';
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

/** Stands in for the amount until the JSON is written; no event text can contain it. */
const VALUE_SLOT = '\u0000value\u0000';

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

  const event: Record<string, unknown> = {
    event_name: eventName,
    event_time: Math.floor(job.eventAt / 1000),
    event_id: eventId(job.subject, job.subjectId),
    action_source: settings.actionSource,
    user_data: userData,
  };
  if (settings.actionSource === 'website') {
    event.event_source_url = `${context.publicUrl}/c/${job.campaignSlug}`;
  }
  let value: string | null = null;
  const conversion = job.conversion;
  if (conversion && conversion.micros !== null && conversion.micros >= 0n) {
    value = formatMicros(conversion.micros);
    event.custom_data = {
      value: VALUE_SLOT,
      currency: FACEBOOK_CURRENCY[conversion.currency] ?? conversion.currency,
    };
  } else if (isMoneyEvent(job.event) && conversion) {
    event.custom_data = { currency: FACEBOOK_CURRENCY[conversion.currency] ?? conversion.currency };
  }
  // The amount goes out as the exact decimal the network sent, never through a float.
  let json = JSON.stringify(event);
  if (value !== null) json = json.replace(JSON.stringify(VALUE_SLOT), value);
  return { kind: 'event', eventName, json };
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

/** Facebook marks some errors as transient: worth a retry though the status is 4xx. */
export function isTransientFacebookError(body: string | null): boolean {
  if (!body) return false;
  try {
    const parsed = JSON.parse(body) as { error?: { is_transient?: boolean; code?: number } };
    return (
      parsed.error?.is_transient === true || parsed.error?.code === 2 || parsed.error?.code === 4
    );
  } catch {
    return false;
  }
}
