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
  // A callback hook, not an async one: it runs on every request, and needs
  // no promise to do its counting.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.url === '/healthz') return done();
    if (inFlight >= maxInFlight) {
      request.log.warn({ inFlight }, 'overloaded: request shed');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      reply.status(503).send(errorBody('overloaded', 'too many requests in flight; retry shortly'));
      return;
    }
    inFlight++;
    // A response emits 'close' once, after 'finish' or when its connection ends.
    reply.raw.once('close', () => {
      inFlight--;
    });
    done();
  });
}
