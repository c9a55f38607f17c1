// Webhooks (S2S postbacks to another tracker, or any endpoint) and the bot's
// auto actions: the event as URL macros (GET) or JSON (POST), with an
// Idempotency-Key so a retried delivery is recognisable as the same event.
import { createHmac } from 'node:crypto';
import { type AutoActionSettings, eventId, type WebhookSettings } from '../domain/forwarding.js';
import { formatMicros } from '../domain/money.js';
import type { DeliveryJob } from '../store/store.js';
import { type PreparedDelivery, requestLogText } from './outbound-http.js';

export const SIGNATURE_HEADER = 'x-clickback-signature';

export function sign(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

/** The values a webhook URL's macros stand for. */
/** An event's money, when it has any: amount and currency travel together. */
function money(job: DeliveryJob): { amount: string; currency: string } | null {
  const c = job.conversion;
  return c && c.micros !== null ? { amount: formatMicros(c.micros), currency: c.currency } : null;
}

export function webhookValues(job: DeliveryJob): Record<string, string> {
  const conversion = job.conversion;
  const paid = money(job);
  return {
    clickid: job.lead.clickid,
    event: job.event,
    amount: paid?.amount ?? '',
    currency: paid?.currency ?? '',
    tid: conversion?.tid ?? '',
    external_id: job.lead.externalId ?? '',
    occurrence: String(job.occurrence),
    event_id: eventId(job.subject, job.subjectId),
    timestamp: String(Math.floor(job.eventAt / 1000)),
  };
}

/**
 * `{clickid}`, `{amount}`, `{fields.<key>}`...: each URL-encoded. A macro we
 * do not know is left as it is, for the receiving tracker to see.
 */
export function renderWebhookUrl(
  template: string,
  values: Record<string, string>,
  fields: Record<string, string>,
): string {
  return template.replace(/\{([a-z_]+(?:\.[A-Za-z0-9_.-]+)?)\}/g, (whole, name: string) => {
    if (name.startsWith('fields.')) {
      const key = name.slice('fields.'.length);
      return Object.hasOwn(fields, key) ? encodeURIComponent(fields[key] as string) : '';
    }
    return Object.hasOwn(values, name) ? encodeURIComponent(values[name] as string) : whole;
  });
}

function jsonEvent(job: DeliveryJob): Record<string, unknown> {
  const conversion = job.conversion;
  const paid = money(job);
  return {
    eventId: eventId(job.subject, job.subjectId),
    event: job.event,
    occurrence: job.occurrence,
    clickid: job.lead.clickid,
    externalId: job.lead.externalId,
    username: job.lead.username,
    amount: paid?.amount ?? null,
    currency: paid?.currency ?? null,
    tid: conversion?.tid ?? null,
    fields: job.fields,
    params: job.lead.params,
    campaignId: job.campaignId,
    at: new Date(job.eventAt).toISOString(),
  };
}

/**
 * The URL as it is sent: Node percent-encodes what a template left raw (a
 * `{macro}` no value filled, a non-ASCII path) and never sends a `#fragment`,
 * and a GET's signature must be of what the receiver gets. One that does not
 * parse fails when it is sent.
 */
function onTheWire(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.hash = '';
    return parsed.href;
  } catch {
    return url;
  }
}

export function webhookRequest(
  job: DeliveryJob,
  settings: WebhookSettings,
  secret: string | null,
): PreparedDelivery {
  if (settings.events.length > 0 && !settings.events.includes(job.event)) {
    const numbered = `${job.event}#${job.occurrence}`;
    if (!settings.events.includes(numbered)) {
      return { kind: 'skip', destinationEvent: null, reason: `${job.event} is not selected` };
    }
  }
  const id = eventId(job.subject, job.subjectId);
  const url = onTheWire(renderWebhookUrl(settings.url, webhookValues(job), job.fields));
  const headers: Record<string, string> = { 'idempotency-key': id, 'x-clickback-event': job.event };
  let body: string | null = null;
  if (settings.method === 'POST') {
    body = JSON.stringify(jsonEvent(job));
    headers['content-type'] = 'application/json';
  }
  // POST signs the body; GET, having none, signs the URL it calls.
  if (secret) headers[SIGNATURE_HEADER] = sign(secret, body ?? url);
  return {
    kind: 'send',
    destinationEvent: null,
    request: { method: settings.method, url, headers, body },
    logText: requestLogText(settings.method, url, body),
  };
}

export function autoActionRequest(
  job: DeliveryJob,
  settings: AutoActionSettings,
): PreparedDelivery {
  const conversion = job.conversion;
  const paid = money(job);
  const id = eventId(job.subject, job.subjectId);
  const body = JSON.stringify({
    event: job.event,
    occurrence: job.occurrence,
    clickid: job.lead.clickid,
    externalId: job.lead.externalId,
    amount: paid?.amount ?? null,
    currency: paid?.currency ?? null,
    fields: job.fields,
    payload: settings.payload,
    eventId: id,
    tid: conversion?.tid ?? null,
    at: new Date(job.eventAt).toISOString(),
  });
  return {
    kind: 'send',
    destinationEvent: null,
    request: {
      method: 'POST',
      url: settings.url,
      headers: {
        'content-type': 'application/json',
        'idempotency-key': id,
        'x-clickback-event': job.event,
      },
      body,
    },
    logText: requestLogText('POST', settings.url, body),
  };
}
