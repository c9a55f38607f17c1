// Beyond capacity, answer 503 with Retry-After at once instead of queueing
// without bound: networks retry postbacks, and memory stays flat.
import type { ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppError, errorBody } from './errors.js';

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

/**
 * Bodies still arriving are held in memory until they are complete (up to
 * BODY_LIMIT each), and a client may stall mid-upload for as long as the
 * request timeout. Their total is bounded here: past it, a request whose body
 * would add to it is answered 503 with Retry-After. 512 full bodies.
 */
export const BODIES_ARRIVING_LIMIT = 32 * 1024 * 1024;

export class BodyBudget {
  private used = 0;

  constructor(readonly limit = BODIES_ARRIVING_LIMIT) {}

  get bytes(): number {
    return this.used;
  }

  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** Refused because the bodies arriving already hold the budget. */
export class BodiesFullError extends AppError {
  constructor() {
    super(503, 'overloaded', 'too many request bodies arriving at once; retry shortly');
  }
}

/**
 * Counts each body's bytes against the budget as they arrive, until its
 * response closes. Requests without a body pass untouched.
 */
export function boundBodies(app: FastifyInstance, budget: BodyBudget): void {
  app.addHook('preParsing', (request, reply, payload, done) => {
    const headers = request.headers;
    if (headers['transfer-encoding'] === undefined) {
      const length = headers['content-length'];
      if (length === undefined || length === '0') return done(null, payload);
    }
    let held = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, next) {
        if (!budget.take(chunk.length)) {
          request.log.warn({ bodyBytes: budget.bytes }, 'overloaded: body refused');
          next(new BodiesFullError());
          return;
        }
        held += chunk.length;
        counted.receivedEncodedLength += chunk.length;
        next(null, chunk);
      },
    }) as Transform & { receivedEncodedLength: number };
    counted.receivedEncodedLength = 0;
    // Fastify listens for errors while it reads the body; an answer sent
    // without reading it (a 415, say) leaves nobody else to.
    counted.on('error', () => {});
    payload.on('error', (error) => counted.destroy(error));
    payload.pipe(counted);
    reply.raw.once('close', () => {
      // The answer is out: what is left of the body is read and dropped,
      // uncounted, so a keep-alive connection can carry the next request.
      payload.unpipe(counted);
      payload.resume();
      budget.give(held);
      held = 0;
    });
    done(null, counted);
  });
}
