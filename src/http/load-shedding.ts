// Beyond capacity, answer 503 with Retry-After at once instead of queueing
// without bound: networks retry postbacks, and memory stays flat.
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.js';

export const RETRY_AFTER_SECONDS = 1;

/**
 * Counted from preHandler, once the body is in: a client stalled mid-upload
 * holds no slot (Node's requestTimeout ends it). /healthz is never shed, so a
 * balancer does not take a busy node for a dead one.
 */
export function shedLoad(app: FastifyInstance, maxInFlight: number): void {
  let inFlight = 0;
  app.addHook('preHandler', async (request, reply) => {
    if (request.url === '/healthz') return;
    if (inFlight >= maxInFlight) {
      request.log.warn({ inFlight }, 'overloaded: request shed');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply
        .status(503)
        .send(errorBody('overloaded', 'too many requests in flight; retry shortly'));
    }
    inFlight++;
    let done = false;
    const release = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  });
}
