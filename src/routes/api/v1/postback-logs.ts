// GET /api/v1/postback-logs — every inbound request to the workspace's tokens, newest first.
import { account } from '../../../http/auth.js';
import { type App, type TSchema, Type } from '../../../http/json-schema.js';
import { presentLog } from './present.js';
import { Cursor, Limit } from './schemas.js';

const OrNull = <S extends TSchema>(s: S, description?: string) =>
  Type.Union([s, Type.Null()], description === undefined ? {} : { description });

/** One request and our answer, as presentLog shapes it. */
const LogItem = Type.Object({
  id: Type.String(),
  at: Type.String({ description: 'ISO-8601 UTC' }),
  postbackId: Type.String(),
  method: Type.String(),
  url: Type.String(),
  ip: OrNull(Type.String()),
  userAgent: OrNull(Type.String()),
  body: OrNull(Type.String()),
  httpStatus: Type.Integer(),
  status: Type.String({ description: 'recorded, duplicate, unmatched or rejected' }),
  error: OrNull(Type.String()),
  event: OrNull(Type.String()),
  clickid: OrNull(Type.String()),
  conversionId: OrNull(
    Type.String(),
    'the conversion recorded, or for a duplicate the one it repeats',
  ),
  amount: OrNull(
    Type.String(),
    "that conversion's amount, an exact decimal string such as 150.5; null without a conversion or an amount",
  ),
  currency: OrNull(
    Type.String(),
    "that amount's currency code (USD, EUR, USDT, ...); null when amount is",
  ),
});

export async function logRoutes(app: App): Promise<void> {
  const { store } = app.deps;
  app.get(
    '/postback-logs',
    {
      schema: {
        tags: ['logs'],
        summary: 'The postback log: filter by configuration and status, search by clickid or text',
        querystring: Type.Object({
          postbackId: Type.Optional(Type.String({ maxLength: 32 })),
          status: Type.Optional(
            Type.Union(
              ['recorded', 'duplicate', 'unmatched', 'rejected'].map((s) => Type.Literal(s)),
            ),
          ),
          q: Type.Optional(Type.String({ maxLength: 200 })),
          limit: Type.Optional(Limit),
          cursor: Type.Optional(Cursor),
        }),
        response: {
          200: Type.Object({ items: Type.Array(LogItem), nextCursor: OrNull(Type.String()) }),
        },
      },
    },
    async (request) => {
      const acc = account(request);
      const q = request.query;
      const page = await store.listPostbackLogs(acc.workspace.id, {
        postbackId: q.postbackId,
        status: q.status,
        q: q.q?.trim() || undefined,
        limit: q.limit ?? 50,
        cursor: q.cursor,
      });
      return { items: page.items.map(presentLog), nextCursor: page.nextCursor };
    },
  );
}
