// GET /c/:campaign — an ad click: record it, give the visitor a fresh clickid,
// redirect to the campaign's destination with macros rendered. The redirect is
// sent only after the click and lead are committed. Most clicks come in by the
// direct path (direct-click.ts) to the same receiveClick.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
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
  // Awaited only on a cache miss: a hit answers in the same turn.
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
  return answerFor(campaign, lead.clickid, params, log);
}

function answerFor(
  campaign: Campaign,
  clickid: string,
  params: Record<string, string>,
  log: FastifyBaseLogger,
): ClickAnswer {
  if (!campaign.destinationUrl) return { kind: 'clickid', clickid };
  const rendered = renderTemplate(campaign.destinationUrl, { clickid, params, fields: {} });
  if (rendered.unknownMacros.length > 0) {
    log.info(
      { campaign: campaign.id, unknown: rendered.unknownMacros },
      'destination has unknown macros',
    );
  }
  return { kind: 'redirect', url: asLocation(rendered.url) };
}

/**
 * What a HEAD to the click URL is answered: the GET's status and headers,
 * with nothing recorded and no clickid handed out (an empty one in the
 * destination). Link checkers, ad reviewers and chat previews send HEADs;
 * none of them is a visitor.
 */
export async function previewClick(
  deps: ClickDeps,
  call: ClickCall,
  log: FastifyBaseLogger,
): Promise<ClickAnswer> {
  const campaign = await deps.campaigns.find(call.slug);
  if (!campaign) return { kind: 'no_campaign' };
  return answerFor(campaign, '', clickParams(call.query), log);
}

export const NO_CAMPAIGN = errorBody('not_found', 'no such campaign');

/** The slug's longest length (the route's schema). */
export const MAX_SLUG = 64;

export async function clickRoutes(app: App): Promise<void> {
  const deps: ClickDeps = { store: app.deps.store, now: app.deps.now, campaigns: app.campaigns };
  const params = Type.Object({ campaign: Type.String({ minLength: 1, maxLength: MAX_SLUG }) });
  const answerWith =
    (take: typeof receiveClick) =>
    async (request: FastifyRequest<{ Params: { campaign: string } }>, reply: FastifyReply) => {
      const answer = await take(
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
    };
  app.get(
    '/c/:campaign',
    {
      // Fastify's automatic HEAD would run this handler and record a click.
      exposeHeadRoute: false,
      schema: {
        tags: ['clicks'],
        summary: 'An ad click: records it, creates a lead with a fresh clickid, redirects (302)',
        params,
      },
    },
    answerWith(receiveClick),
  );
  app.head(
    '/c/:campaign',
    {
      schema: {
        tags: ['clicks'],
        summary:
          'A link check: the same status and headers as the click, with nothing recorded and an empty clickid',
        params,
      },
    },
    answerWith(previewClick),
  );
}
