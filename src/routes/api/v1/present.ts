// Store records → the JSON shapes of API.md (ISO times, decimal-string money).
import { formatMicros } from '../../../domain/money.js';
import { postbackLinks } from '../../../domain/presets.js';
import type { SourceHealth } from '../../../domain/source-health.js';
import type {
  Campaign,
  DeliveryEntry,
  Destination,
  LeadDetail,
  LeadSummary,
  LogEntry,
  PostbackConfig,
} from '../../../store/store.js';

const iso = (ms: number) => new Date(ms).toISOString();
const money = (micros: bigint | null) => (micros === null ? null : formatMicros(micros));

export function presentCampaign(c: Campaign, publicUrl: string) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    buyer: c.buyer,
    destinationUrl: c.destinationUrl,
    slug: c.slug,
    clickUrl: `${publicUrl}/c/${c.slug}`,
    createdAt: iso(c.createdAt),
  };
}

export function presentPostback(p: PostbackConfig, publicUrl: string) {
  return {
    id: p.id,
    name: p.name,
    network: p.network,
    campaignId: p.campaignId,
    clickidParam: p.clickidParam,
    currency: p.currency,
    macros: p.macros,
    enabled: p.enabled,
    token: p.token,
    links: postbackLinks(publicUrl, p),
    createdAt: iso(p.createdAt),
  };
}

export function presentLead(l: LeadDetail) {
  const main = l.totals[0];
  return {
    clickid: l.clickid,
    campaignId: l.campaignId,
    externalId: l.externalId,
    username: l.username,
    params: l.params,
    fields: l.fields,
    createdAt: iso(l.createdAt),
    events: l.events.map((e) => ({
      id: e.id,
      event: e.event,
      amount: money(e.micros),
      currency: e.micros === null ? null : e.currency,
      tid: e.tid,
      postbackId: e.postbackId,
      at: iso(e.at),
    })),
    totals: totals(main),
    totalsByCurrency: l.totals.map(totals),
  };
}

function totals(t: LeadDetail['totals'][number] | undefined) {
  const deposits = t?.depositMicros ?? 0n;
  const withdrawals = t?.withdrawalMicros ?? 0n;
  return {
    deposits: formatMicros(deposits),
    withdrawals: formatMicros(withdrawals),
    balance: formatMicros(deposits - withdrawals),
    currency: t?.currency ?? null,
  };
}

export function presentLeadSummary(l: LeadSummary) {
  return {
    clickid: l.clickid,
    campaignId: l.campaignId,
    externalId: l.externalId,
    username: l.username,
    params: l.params,
    createdAt: iso(l.createdAt),
    registered: l.registered,
    firstDeposit:
      l.firstDepositMicros === null
        ? null
        : { amount: money(l.firstDepositMicros), currency: l.firstDepositCurrency },
    depositCount: l.depositCount,
    lastEventAt: l.lastEventAt === null ? null : iso(l.lastEventAt),
  };
}

export function presentLog(e: LogEntry) {
  return {
    id: e.id,
    at: iso(e.at),
    postbackId: e.postbackId,
    method: e.method,
    url: e.url,
    ip: e.ip,
    userAgent: e.userAgent,
    body: e.body,
    httpStatus: e.httpStatus,
    status: e.status,
    error: e.error,
    event: e.event,
    clickid: e.clickid,
    conversionId: e.conversionId,
    amount: money(e.micros),
    currency: e.currency,
  };
}

/** A Facebook or webhook source: its settings, never its access token or secret. */
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function presentHealth(h: SourceHealth) {
  return {
    state: h.state,
    lastDeliveredAt: isoOrNull(h.lastDeliveredAt),
    failedInARow: h.failedInARow,
    failingSince: isoOrNull(h.failingSince),
    lastFailedAt: isoOrNull(h.lastFailedAt),
    lastError: h.lastError,
    pending: h.pending,
  };
}

/** A source as the API shows it, with its health last. */
export function presentSource(d: Destination, health: SourceHealth) {
  return { ...sourceFields(d), health: presentHealth(health) };
}

function sourceFields(d: Destination) {
  const base = {
    id: d.id,
    campaignId: d.campaignId,
    type: d.settings.kind,
    name: d.name,
    enabled: d.enabled,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
  if (d.settings.kind === 'facebook') {
    const f = d.settings.facebook;
    return {
      ...base,
      pixelId: f.pixelId,
      testEventCode: f.testEventCode,
      mapping: f.mapping,
      actionSource: f.actionSource,
      hasAccessToken: d.secret !== null,
    };
  }
  if (d.settings.kind === 'webhook') {
    const w = d.settings.webhook;
    return {
      ...base,
      url: w.url,
      method: w.method,
      events: w.events,
      hasSecret: d.secret !== null,
    };
  }
  return base;
}

export function presentAutoAction(d: Destination) {
  const a = d.settings.kind === 'auto_action' ? d.settings.autoAction : null;
  return {
    id: d.id,
    campaignId: d.campaignId,
    event: a?.event ?? '',
    url: a?.url ?? '',
    payload: a?.payload ?? {},
    enabled: d.enabled,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}

export function presentDelivery(e: DeliveryEntry) {
  return {
    id: e.id,
    at: iso(e.at),
    outboxId: e.outboxId,
    campaignId: e.campaignId,
    sourceId: e.sourceId,
    sourceName: e.sourceName,
    sourceType: e.sourceType,
    event: e.event,
    destinationEvent: e.destinationEvent,
    eventId: e.eventId,
    attempt: e.attempt,
    httpStatus: e.httpStatus,
    status: e.status,
    error: e.error,
    request: e.request,
    response: e.response,
    durationMs: e.durationMs,
  };
}
