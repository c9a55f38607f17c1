// /api/v1 — the management API for the UI, bots and scripts. Every route but
// signup and login needs a session; every answer is scoped to its workspace.
import cookie from '@fastify/cookie';
import { hashToken } from '../../../domain/passwords.js';
import { account, bearerToken } from '../../../http/auth.js';
import type { App } from '../../../http/json-schema.js';
import { API_KEY_PREFIX, apiKeyRoutes } from './api-keys.js';
import { authRoutes } from './auth.js';
import { autoActionRoutes } from './auto-actions.js';
import { campaignRoutes } from './campaigns.js';
import { deliveryRoutes } from './deliveries.js';
import { leadRoutes } from './leads.js';
import { logRoutes } from './postback-logs.js';
import { postbackRoutes } from './postbacks.js';
import { sourceRoutes } from './sources.js';
import { statsRoutes } from './stats.js';

export async function apiRoutes(app: App): Promise<void> {
  const { store, now } = app.deps;
  // Sessions are cookies only here: the click and postback paths skip its hooks.
  await app.register(cookie);
  app.decorateRequest('account', null);
  app.addHook('onRequest', async (request) => {
    const token = bearerToken(request);
    if (!token) request.account = null;
    else if (token.startsWith(API_KEY_PREFIX))
      request.account = await store.findApiKey(hashToken(token), now());
    else request.account = await store.findSession(hashToken(token), now());
  });
  // An empty JSON body is no body: some clients send the header on every
  // request, a DELETE's too, and Fastify's own parser refuses that as invalid.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(request, body as string, done);
  });
  // Before validation: an anonymous call learns nothing about a route's schema.
  app.addHook('preValidation', async (request) => {
    if (!request.routeOptions.config.public) account(request);
  });
  await app.register(authRoutes);
  await app.register(apiKeyRoutes);
  await app.register(campaignRoutes);
  await app.register(postbackRoutes);
  await app.register(leadRoutes);
  await app.register(logRoutes);
  await app.register(statsRoutes);
  await app.register(sourceRoutes);
  await app.register(autoActionRoutes);
  await app.register(deliveryRoutes);
}
