// GET / and every client-side route — the built web app (web/dist), with the
// SPA fallback so deep links and reloads work. Absent until `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** web/dist beside src/ or dist/: the same one level up from this file's folder. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

const NOT_APP = /^\/(api|c|healthz)(\/|$|\?)/;

export async function webAppRoutes(app: FastifyInstance, root = WEB_DIST): Promise<boolean> {
  if (!existsSync(`${root}/index.html`)) return false;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders(reply, path) {
      // Hashed assets never change; index.html always may.
      reply.header(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  return true;
}

/** A browser asking for a client-side route gets the app's index.html. */
export function isAppRoute(method: string, url: string, accept: string | undefined): boolean {
  return (
    (method === 'GET' || method === 'HEAD') &&
    !NOT_APP.test(url) &&
    (accept ?? '').includes('text/html')
  );
}
