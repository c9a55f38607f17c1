// /api/v1/leads and /api/v1/links/render — leads (clients) with their clickids,
// manual events counted by the same rules as postbacks, and macro rendering.
import {
  countingPlan,
  isBuiltInEvent,
  isMoneyEvent,
  normaliseEvent,
  signedAmount,
} from '../../../domain/events.js';
import { parseJsonNumbersAsText } from '../../../domain/inbound-postback.js';
import { renderTemplate } from '../../../domain/macros.js';
import { parseAmount, parseCurrency } from '../../../domain/money.js';
import { newClickid } from '../../../domain/random-id.js';
import { account } from '../../../http/auth.js';
import { AppError, notFound } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import { presentLead, presentLeadSummary } from './present.js';
import { Amount, ClickidParams, Currency, Cursor, Limit } from './schemas.js';

const Params = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1024 }), {
  maxProperties: 50,
});

export async function leadRoutes(app: App): Promise<void> {
  const { store, config, now } = app.deps;

  // Every value these routes take is text: an amount, a tid or a chat id sent
  // as a JSON number is read as written, never through a binary double
  // (123456789012.123456 would have been counted as 123456789012.12346).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    // Empty, no body, as on every management route (see apiRoutes).
    if (text === '') return done(null, undefined);
    // Fastify's own parser first, so what it refuses elsewhere (a byte-order
    // mark aside, `__proto__` and `constructor.prototype` keys) is refused here.
    parseJson(request, text, (error) => {
      if (error) return done(error, undefined);
      done(null, parseJsonNumbersAsText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
    });
  });

  app.post(
    '/leads',
    {
      schema: {
        tags: ['leads'],
        summary:
          'With an existing clickid: bind the bot chat to it (idempotent, 200). Without: create a lead (201, organic without a campaign)',
        body: Type.Object({
          campaignId: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
          clickid: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          externalId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          username: Type.Optional(Type.String({ maxLength: 128 })),
          params: Type.Optional(Params),
        }),
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const body = request.body;
      const ws = acc.workspace.id;
      if (body.clickid !== undefined) {
        const bound = await store.bindLead(ws, body.clickid, {
          externalId: body.externalId ?? null,
          username: body.username ?? null,
          at: now(),
        });
        if (bound === 'not_found')
          throw new AppError(404, 'unknown_clickid', 'no lead has this clickid');
        if (bound === 'bound_elsewhere') {
          throw new AppError(
            409,
            'lead_bound',
            'this clickid is already bound to another externalId',
          );
        }
        const lead = await store.getLead(ws, bound.clickid);
        if (!lead) throw notFound('lead');
        return reply.status(200).send(presentLead(lead));
      }
      if (body.campaignId && !(await store.getCampaign(ws, body.campaignId)))
        throw notFound('campaign');
      const created = await store.createLead(ws, {
        campaignId: body.campaignId || null,
        externalId: body.externalId ?? null,
        username: body.username ?? null,
        params: body.params ?? {},
        at: now(),
        newClickid,
      });
      const lead = await store.getLead(ws, created.clickid);
      if (!lead) throw notFound('lead');
      return reply.status(201).send(presentLead(lead));
    },
  );

  app.get(
    '/leads',
    {
      schema: {
        tags: ['leads'],
        summary:
          'Leads, newest first; q matches the start of a clickid (case-sensitive; a whole one too), an externalId or part of a username',
        querystring: Type.Object({
          campaignId: Type.Optional(Type.String({ maxLength: 32 })),
          q: Type.Optional(Type.String({ maxLength: 128 })),
          limit: Type.Optional(Limit),
          cursor: Type.Optional(Cursor),
        }),
      },
    },
    async (request) => {
      const acc = account(request);
      const q = request.query;
      const page = await store.listLeads(acc.workspace.id, {
        campaignId: q.campaignId,
        q: q.q?.trim() || undefined,
        limit: q.limit ?? 50,
        cursor: q.cursor,
      });
      return { items: page.items.map(presentLeadSummary), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/leads/:clickid',
    {
      schema: {
        tags: ['leads'],
        summary: 'A lead with its events, custom fields and totals',
        params: ClickidParams,
      },
    },
    async (request) => {
      const acc = account(request);
      const lead = await store.getLead(acc.workspace.id, request.params.clickid);
      if (!lead) throw notFound('lead');
      return presentLead(lead);
    },
  );

  app.post(
    '/leads/:clickid/events',
    {
      schema: {
        tags: ['leads'],
        summary: 'A manual event, counted by the same rules as an inbound postback',
        params: ClickidParams,
        body: Type.Object({
          event: Type.String({ minLength: 1, maxLength: 32 }),
          amount: Type.Optional(Type.Union([Amount, Type.Null()])),
          currency: Type.Optional(Currency),
          tid: Type.Optional(Type.String({ maxLength: 128 })),
        }),
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const { clickid } = request.params;
      const body = request.body;
      const event = normaliseEvent(body.event);
      if (!event.ok) throw new AppError(400, 'invalid_event', event.reason);
      let micros: bigint | null = null;
      if (body.amount !== undefined && body.amount !== null && body.amount.trim() !== '') {
        const parsed = parseAmount(body.amount);
        if (!parsed.ok) throw new AppError(400, 'invalid_amount', parsed.reason);
        micros = parsed.micros;
      }
      if (isMoneyEvent(event.event) && micros === null) {
        throw new AppError(400, 'invalid_amount', `a ${event.event} needs a non-negative amount`);
      }
      if (micros !== null && micros < 0n && isBuiltInEvent(event.event)) {
        throw new AppError(400, 'invalid_amount', `a ${event.event} cannot have a negative amount`);
      }
      let currency = 'USD';
      if (body.currency) {
        const parsed = parseCurrency(body.currency);
        if (!parsed.ok) throw new AppError(400, 'invalid_currency', parsed.reason);
        currency = parsed.code;
      }
      if (micros !== null) micros = signedAmount(event.event, micros);
      const tid = body.tid?.trim() || null;
      const outcome = await store.recordEvent({
        workspaceId: acc.workspace.id,
        scopeCampaignId: null,
        clickid,
        postbackId: null,
        plan: countingPlan({ event: event.event, micros, currency, tid }),
        micros,
        currency,
        tid,
        fields: {},
        at: now(),
        windowMs: config.dedupWindowSeconds * 1000,
        log: null,
        note: null,
      });
      if (outcome.status === 'unmatched') throw notFound('lead');
      return reply.status(outcome.status === 'recorded' ? 201 : 200).send({
        ok: true,
        status: outcome.status,
        event: outcome.event,
        clickid,
        conversionId: outcome.conversionId,
      });
    },
  );

  app.post(
    '/links/render',
    {
      schema: {
        tags: ['leads'],
        summary:
          'Render a link template for a lead ({{tracker.clickid}}, {{tracker.<param>}}, {{fields.<key>}})',
        body: Type.Object({
          template: Type.String({ minLength: 1, maxLength: 4096 }),
          clickid: Type.String({ minLength: 1, maxLength: 64 }),
        }),
      },
    },
    async (request) => {
      const acc = account(request);
      const body = request.body;
      const lead = await store.getLead(acc.workspace.id, body.clickid);
      if (!lead) throw notFound('lead');
      return renderTemplate(body.template, {
        clickid: lead.clickid,
        params: lead.params,
        fields: lead.fields,
      });
    },
  );
}
