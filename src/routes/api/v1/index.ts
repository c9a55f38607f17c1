// /api/v1 — the management API for the UI, bots and scripts. Every route but
// signup and login needs a session; every answer is scoped to its workspace.
import type { FastifyInstance } from 'fastify';
import { bearerToken, hashToken } from '../../../http/auth.js';
import { authRoutes } from './auth.js';
import { campaignRoutes } from './campaigns.js';
import { leadRoutes } from './leads.js';
import { logRoutes } from './postback-logs.js';
import { postbackRoutes } from './postbacks.js';
import { statsRoutes } from './stats.js';

export async function apiRoutes(app: FastifyInstance): Promise<void> {
  const { store, now } = app.deps;
  app.decorateRequest('account', null);
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request);
    request.account = token ? await store.findSession(hashToken(token), now()) : null;
  });
  await app.register(authRoutes);
  await app.register(campaignRoutes);
  await app.register(postbackRoutes);
  await app.register(leadRoutes);
  await app.register(logRoutes);
  await app.register(statsRoutes);
}
