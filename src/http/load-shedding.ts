// Beyond capacity, answer 503 with Retry-After at once instead of queueing
// without bound: networks retry postbacks, and memory stays flat.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.js';

export const RETRY_AFTER_SECONDS = 1;

/** The requests being answered, counted by Fastify's hook and by the direct paths alike. */
export class InFlight {
  private count = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.count;
  }

  /** Counts a request until its response closes; false (not counted) when full. */
  enter(response: ServerResponse): boolean {
    if (!this.take()) return false;
    // A response emits 'close' once, after 'finish' or when its connection ends.
    response.once('close', this.leave);
    return true;
  }

  /** Counts a request until leave() is called; false (not counted) when full. */
  take(): boolean {
    if (this.count >= this.max) return false;
    this.count++;
    return true;
  }

  readonly leave = (): void => {
    this.count--;
  };
}

/**
 * Counted from preHandler, once the body is in: a client stalled mid-upload
 * holds no slot (Node's requestTimeout ends it). /healthz is never shed, so a
 * balancer does not take a busy node for a dead one.
 */
export function shedLoad(app: FastifyInstance, inFlight: InFlight): void {
  // A callback hook, not an async one: it runs on every request, and needs
  // no promise to do its counting.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.url === '/healthz') return done();
    if (!inFlight.enter(reply.raw)) {
      request.log.warn({ inFlight: inFlight.size }, 'overloaded: request shed');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      reply.status(503).send(errorBody('overloaded', 'too many requests in flight; retry shortly'));
      return;
    }
    done();
  });
}
