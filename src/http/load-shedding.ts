// Beyond capacity, answer 503 with Retry-After at once instead of queueing
// without bound: networks retry postbacks, and memory stays flat.
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.js';

export const RETRY_AFTER_SECONDS = 1;

export function shedLoad(app: FastifyInstance, maxInFlight: number): void {
  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
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
