// GET /c/:campaign — an ad click: record it, give the visitor a fresh clickid,
// redirect to the campaign's destination with macros rendered. The redirect is
// sent only after the click and lead are committed.
import { renderTemplate } from '../../domain/macros.js';
import { newClickid } from '../../domain/random-id.js';
import { errorBody } from '../../http/errors.js';
import { type App, Type } from '../../http/json-schema.js';

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

export async function clickRoutes(app: App): Promise<void> {
  const { store, now } = app.deps;
  const campaigns = app.campaigns;
  app.get(
    '/c/:campaign',
    {
      schema: {
        tags: ['clicks'],
        summary: 'An ad click: records it, creates a lead with a fresh clickid, redirects (302)',
        params: Type.Object({ campaign: Type.String({ minLength: 1, maxLength: 64 }) }),
      },
    },
    async (request, reply) => {
      const { campaign: slug } = request.params;
      const found = campaigns.find(slug);
      const campaign = found instanceof Promise ? await found : found;
      if (!campaign) return reply.status(404).send(errorBody('not_found', 'no such campaign'));
      const params = clickParams(request.query);
      const lead = await store.recordClick({
        campaign,
        params,
        ip: request.ip ?? null,
        userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
        referrer: request.headers.referer?.slice(0, 2048) ?? null,
        at: now(),
        newClickid,
      });
      reply.header('cache-control', 'no-store');
      if (!campaign.destinationUrl) {
        return reply.send({ clickid: lead.clickid });
      }
      const rendered = renderTemplate(campaign.destinationUrl, {
        clickid: lead.clickid,
        params,
        fields: {},
      });
      if (rendered.unknownMacros.length > 0) {
        request.log.info(
          { campaign: campaign.id, unknown: rendered.unknownMacros },
          'destination has unknown macros',
        );
      }
      return reply.redirect(rendered.url, 302);
    },
  );
}
