// /api/v1/api-keys — long-lived keys for bots and scripts (Authorization: Bearer cbk_...).
import { hashToken, newToken } from '../../../domain/passwords.js';
import { account } from '../../../http/auth.js';
import { notFound } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import type { ApiKey } from '../../../store/store.js';
import { IdParams, Name } from './schemas.js';

export const API_KEY_PREFIX = 'cbk_';

const present = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: new Date(k.createdAt).toISOString(),
  lastUsedAt: k.lastUsedAt === null ? null : new Date(k.lastUsedAt).toISOString(),
});

export async function apiKeyRoutes(app: App): Promise<void> {
  const { store, now } = app.deps;

  app.post(
    '/api-keys',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an API key; the key itself is shown only in this answer',
        body: Type.Object({ name: Name }),
      },
    },
    async (request, reply) => {
      const acc = account(request);
      const key = `${API_KEY_PREFIX}${newToken()}`;
      const created = await store.createApiKey({
        workspaceId: acc.workspace.id,
        userId: acc.user.id,
        name: request.body.name.trim(),
        keyHash: hashToken(key),
        prefix: key.slice(0, 10),
        at: now(),
      });
      return reply.status(201).send({ ...present(created), key });
    },
  );

  app.get(
    '/api-keys',
    { schema: { tags: ['accounts'], summary: 'List API keys (without the keys)' } },
    async (request) => {
      const acc = account(request);
      return { items: (await store.listApiKeys(acc.workspace.id)).map(present) };
    },
  );

  app.delete(
    '/api-keys/:id',
    { schema: { tags: ['accounts'], summary: 'Revoke an API key', params: IdParams } },
    async (request, reply) => {
      const acc = account(request);
      if (!(await store.revokeApiKey(acc.workspace.id, request.params.id, now()))) {
        throw notFound('API key');
      }
      return reply.status(204).send();
    },
  );
}
