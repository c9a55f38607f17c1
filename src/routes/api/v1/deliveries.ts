// /api/v1/deliveries — the source logs: every outbound attempt to a Facebook
// pixel, a webhook or an auto action, and a manual retry of any of them.
import { account } from '../../../http/auth.js';
import { AppError, notFound } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import { presentDelivery } from './present.js';
import { Cursor, IdParams, Limit } from './schemas.js';

const STATUSES = ['delivered', 'retrying', 'failed', 'expired', 'skipped'] as const;

export async function deliveryRoutes(app: App): Promise<void> {
  const { store, now } = app.deps;

  app.get(
    '/deliveries',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Outbound attempts, newest first',
        querystring: Type.Object({
          sourceId: Type.Optional(Type.String({ maxLength: 32 })),
          campaignId: Type.Optional(Type.String({ maxLength: 32 })),
          event: Type.Optional(Type.String({ maxLength: 40 })),
          status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
          limit: Type.Optional(Limit),
          cursor: Type.Optional(Cursor),
        }),
      },
    },
    async (request) => {
      const ws = account(request).workspace.id;
      const query = request.query;
      const page = await store.listDeliveries(ws, { ...query, limit: query.limit ?? 50 });
      return { items: page.items.map(presentDelivery), nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/deliveries/:id/retry',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Send this delivery’s event again now (same event id, a fresh attempt budget)',
        params: IdParams,
      },
    },
    async (request, reply) => {
      const ws = account(request).workspace.id;
      const { id } = request.params;
      const outboxId = await store.retryDelivery(ws, id, now());
      if (outboxId === null) throw notFound('delivery');
      if (outboxId === 'in_flight') {
        throw new AppError(
          409,
          'in_flight',
          'this event is being sent right now; retry it once that attempt is logged, if it fails',
        );
      }
      return reply.status(202).send({ outboxId, status: 'pending' });
    },
  );
}
