// GET /api/v1/postback-logs — every inbound request to the workspace's tokens, newest first.
import { account } from '../../../http/auth.js';
import { type App, Type } from '../../../http/json-schema.js';
import { presentLog } from './present.js';
import { Cursor, Limit } from './schemas.js';

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
