// GET /c/:campaign — an ad click: record it, give the visitor a fresh clickid,
// redirect to the campaign's destination with macros rendered. The redirect is
// sent only after the click and lead are committed. Most clicks come in by the
// direct path (direct-click.ts) to the same receiveClick.
import type { FastifyBaseLogger } from 'fastify';
import { asLocation, renderTemplate } from '../../domain/macros.js';
import { newClickid } from '../../domain/random-id.js';
import { errorBody } from '../../http/errors.js';
import { type App, Type } from '../../http/json-schema.js';
import type { LookupCache } from '../../http/lookup-cache.js';
import type { Campaign, Store } from '../../store/store.js';

const MAX_PARAMS = 50;
const MAX_KEY = 64;
const MAX_VALUE = 1024;

/** The click's query as flat strings: the first of repeated values, bounded sizes. */
export function clickParams(query: unknown): Record<string, string> {
  const params: Record<string, string> = {};
  if (query === null || typeof query !== 'object') return params;
  let count = 0;
  for (const [key, raw] of Object.entries(query as Record<string, unknown>)) {
    if (key.length === 0 || key.length > MAX_KEY || ++count > MAX_PARAMS) continue;
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value === 'string') params[key] = value.slice(0, MAX_VALUE);
  }
  return params;
}

/** What a click is answered, whoever took it in: Fastify's route or the direct path. */
export type ClickAnswer =
  | { kind: 'no_campaign' }
  /** A campaign without a destination answers with the clickid as JSON. */
  | { kind: 'clickid'; clickid: string }
  | { kind: 'redirect'; url: string };

export interface ClickCall {
  slug: string;
  /** The query as the router splits it (fast-querystring). */
  query: unknown;
  ip: string | null;
  userAgent: string | undefined;
  referrer: string | undefined;
}

export interface ClickDeps {
  store: Store;
  now: () => number;
  campaigns: LookupCache<Campaign>;
}

/** Records the click (committed before this resolves) and says what to answer. */
export async function receiveClick(
  deps: ClickDeps,
  call: ClickCall,
  log: FastifyBaseLogger,
): Promise<ClickAnswer> {
  const found = deps.campaigns.find(call.slug);
  const campaign = found instanceof Promise ? await found : found;
  if (!campaign) return { kind: 'no_campaign' };
  const params = clickParams(call.query);
  const lead = await deps.store.recordClick({
    campaign,
    params,
    ip: call.ip,
    userAgent: call.userAgent?.slice(0, 512) ?? null,
    referrer: call.referrer?.slice(0, 2048) ?? null,
    at: deps.now(),
    newClickid,
  });
  if (!campaign.destinationUrl) return { kind: 'clickid', clickid: lead.clickid };
  const rendered = renderTemplate(campaign.destinationUrl, {
    clickid: lead.clickid,
    params,
    fields: {},
  });
  if (rendered.unknownMacros.length > 0) {
    log.info(
      { campaign: campaign.id, unknown: rendered.unknownMacros },
      'destination has unknown macros',
    );
  }
  return { kind: 'redirect', url: asLocation(rendered.url) };
}

export const NO_CAMPAIGN = errorBody('not_found', 'no such campaign');

/** The slug's longest length (the route's schema). */
export const MAX_SLUG = 64;

export async function clickRoutes(app: App): Promise<void> {
  const deps: ClickDeps = { store: app.deps.store, now: app.deps.now, campaigns: app.campaigns };
  app.get(
    '/c/:campaign',
    {
      schema: {
        tags: ['clicks'],
        summary: 'An ad click: records it, creates a lead with a fresh clickid, redirects (302)',
        params: Type.Object({ campaign: Type.String({ minLength: 1, maxLength: MAX_SLUG }) }),
      },
    },
    async (request, reply) => {
      const answer = await receiveClick(
        deps,
        {
          slug: request.params.campaign,
          query: request.query,
          ip: request.ip ?? null,
          userAgent: request.headers['user-agent'],
          referrer: request.headers.referer,
        },
        request.log,
      );
      if (answer.kind === 'no_campaign') return reply.status(404).send(NO_CAMPAIGN);
      reply.header('cache-control', 'no-store');
      if (answer.kind === 'clickid') return reply.send({ clickid: answer.clickid });
      return reply.redirect(answer.url, 302);
    },
  );
}
