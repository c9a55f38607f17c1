// GET|POST /api/postbacks/:token/:event, /api/postbacks/:token/tracker-postback and
// /api/postbacks/:token — networks' server-to-server calls. Every call to a known
// token leaves a row in the postback log, whatever we answer, unless the
// database cannot take writes at all (then 503, and the network retries).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { sendErrorAnswer, toErrorAnswer } from '../../app.js';
import { countingPlan, signedAmount } from '../../domain/events.js';
import { parseInboundPostback } from '../../domain/inbound-postback.js';
import { errorBody } from '../../http/errors.js';
import type { App } from '../../http/json-schema.js';
import { LogThrottle } from '../../http/log-throttle.js';
import type { LogOutcome, LogRequest, PostbackConfig, Store } from '../../store/store.js';
import { isStorageUnavailable } from '../../store/unavailable.js';

/** Longest URL we accept (documented); the rest of the request line is refused with 414. */
export const MAX_URL_LENGTH = 8192;
/** How much of a URL and body the postback log keeps. */
const LOG_URL_LIMIT = 4096;
const LOG_BODY_LIMIT = 4096;

const TOKEN = /^[A-Za-z0-9]{8,64}$/;

/** What a network is answered with 200 (API.md): counted, a repeat, or matched to no lead. */
const ANSWER = {
  type: 'object',
  required: ['ok', 'status', 'event', 'clickid'],
  properties: {
    ok: { type: 'boolean' },
    status: { type: 'string', enum: ['recorded', 'duplicate', 'unmatched'] },
    event: { type: 'string' },
    clickid: { type: 'string' },
    conversionId: { type: 'string' },
    reason: { type: 'string' },
  },
} as const;

/** What the postback log keeps of a request: bounded URL, agent and body. */
function logRequest(
  now: () => number,
  request: FastifyRequest,
  postback: PostbackConfig,
  body: string | null,
): LogRequest {
  return {
    postbackId: postback.id,
    workspaceId: postback.workspaceId,
    at: now(),
    method: request.method,
    url: request.url.slice(0, LOG_URL_LIMIT),
    ip: request.ip ?? null,
    userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
    body: body ? body.slice(0, LOG_BODY_LIMIT) : null,
  };
}

interface Params {
  token: string;
  event?: string;
}

export async function inboundRoutes(app: App): Promise<void> {
  const { store, config, now } = app.deps;
  const unknownTokens = new LogThrottle();

  // Bodies arrive as raw text; the domain parses them so a bad body is a
  // logged 400 of ours, not a framework error without a log row.
  // A Content-Type Fastify cannot parse ("", "json", ";") would be refused
  // with 415 before our parser runs; the receiver takes any body, so it is
  // read as plain text instead (the domain still rejects what it can't parse).
  app.addHook('onRequest', (request, _reply, done) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !/^\s*[\w!#$&^.+-]+\/[\w!#$&^.+-]+\s*(;|$)/.test(type)) {
      request.headers['content-type'] = 'text/plain';
    }
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const answer = toErrorAnswer(error);
    if (answer.status >= 500) request.log.error({ err: error }, 'inbound postback failed');
    try {
      const postback = await findPostback(request);
      if (postback) {
        await store.appendPostbackLog(logRequest(now, request, postback, null), {
          httpStatus: answer.status,
          status: 'rejected',
          error: `${answer.code}: ${answer.message}`,
          event: null,
          clickid: null,
          conversionId: null,
        });
      }
    } catch (failure) {
      // The database that refused the write refuses its log row too (a full
      // disk): the answer still goes out, and the network retries.
      if (!isStorageUnavailable(failure)) throw failure;
      request.log.error({ err: failure }, 'the refused postback could not be logged');
    }
    return sendErrorAnswer(reply, answer);
  });

  /** The token's configuration; a promise only when the cache has to load it. */
  function findPostback(
    request: FastifyRequest,
  ): PostbackConfig | null | Promise<PostbackConfig | null> {
    const { token } = request.params as Params;
    if (typeof token !== 'string' || !TOKEN.test(token)) return null;
    return app.postbacks.find(token);
  }

  async function refuse(
    reply: FastifyReply,
    log: LogRequest,
    status: number,
    code: string,
    message: string,
    seen: Pick<LogOutcome, 'event' | 'clickid'> = { event: null, clickid: null },
  ) {
    await store.appendPostbackLog(log, {
      httpStatus: status,
      status: 'rejected',
      error: `${code}: ${message}`,
      conversionId: null,
      ...seen,
    });
    return reply.status(status).send(errorBody(code, message));
  }

  async function handle(request: FastifyRequest, reply: FastifyReply, pathEvent: string | null) {
    const found = findPostback(request);
    const postback = found instanceof Promise ? await found : found;
    if (!postback) {
      const held = unknownTokens.take(now());
      if (held !== null) {
        request.log.warn(
          { url: request.url.slice(0, 200), ip: request.ip, held },
          'postback to an unknown token',
        );
      }
      return reply
        .status(404)
        .send(errorBody('unknown_postback', 'no postback configuration has this token'));
    }
    const body = typeof request.body === 'string' ? request.body : '';
    const log = logRequest(now, request, postback, body);
    if (postback.deleted) {
      return refuse(reply, log, 404, 'unknown_postback', 'this postback configuration was deleted');
    }
    if (!postback.enabled) {
      return refuse(
        reply,
        log,
        403,
        'postback_disabled',
        'this postback configuration is disabled',
      );
    }
    if (request.url.length > MAX_URL_LENGTH) {
      return refuse(
        reply,
        log,
        414,
        'uri_too_long',
        `the URL is over ${MAX_URL_LENGTH} characters`,
      );
    }

    const queryAt = request.url.indexOf('?');
    // Fastify's query starts after the first `?` or `#`, ours after the first
    // `?`: its split is offered only when both are the same text.
    const hashAt = request.url.indexOf('#');
    const sameQuery = hashAt === -1 || (queryAt !== -1 && queryAt < hashAt);
    const parsed = parseInboundPostback(
      {
        pathEvent,
        query: queryAt === -1 ? '' : request.url.slice(queryAt + 1),
        splitQuery: sameQuery ? (request.query as Record<string, string | string[]>) : undefined,
        contentType: request.headers['content-type'],
        body,
      },
      { clickidParam: postback.clickidParam, currency: postback.currency },
    );
    if (!parsed.ok) {
      return refuse(reply, log, 400, parsed.code, parsed.message, {
        event: parsed.event,
        clickid: parsed.clickid,
      });
    }
    const p = parsed.postback;
    if (p.unresolvedClickid) {
      // A network's "test postback" button: worth seeing in the log, not an error.
      const reason = 'unresolved_macro';
      await store.appendPostbackLog(log, {
        httpStatus: 200,
        status: 'unmatched',
        error: reason,
        event: p.event,
        clickid: p.clickid,
        conversionId: null,
      });
      return reply.send({
        ok: true,
        status: 'unmatched',
        event: p.event,
        clickid: p.clickid,
        reason,
      });
    }

    const micros = p.micros === null ? null : signedAmount(p.event, p.micros);
    const outcome = await store.recordEvent({
      workspaceId: postback.workspaceId,
      scopeCampaignId: postback.campaignId,
      clickid: p.clickid,
      postbackId: postback.id,
      plan: countingPlan({ event: p.event, micros, currency: p.currency, tid: p.tid }),
      micros,
      currency: p.currency,
      tid: p.tid,
      fields: p.fields,
      at: log.at,
      windowMs: config.dedupWindowSeconds * 1000,
      log,
      note: p.warnings.length > 0 ? p.warnings.join('; ') : null,
    });
    if (outcome.status === 'unmatched') {
      return reply.send({
        ok: true,
        status: 'unmatched',
        event: p.event,
        clickid: p.clickid,
        reason: outcome.reason,
      });
    }
    return reply.send({
      ok: true,
      status: outcome.status,
      event: outcome.event,
      clickid: p.clickid,
      conversionId: outcome.conversionId,
    });
  }

  // No automatic HEAD: a link checker's HEAD must not count a deposit.
  // The answer's schema has it serialized by fast-json-stringify: 2,559
  // instructions a postback against JSON.stringify's 5,758 (README, Performance).
  const schema = { hide: true, response: { 200: ANSWER } };
  app.route<{ Params: Params }>({
    method: ['GET', 'POST'],
    url: '/:token/:event',
    exposeHeadRoute: false,
    schema,
    handler: (request, reply) =>
      handle(
        request,
        reply,
        request.params.event === 'tracker-postback' ? null : (request.params.event ?? null),
      ),
  });
  app.route<{ Params: Params }>({
    method: ['GET', 'POST'],
    url: '/:token',
    exposeHeadRoute: false,
    schema,
    handler: (request, reply) => handle(request, reply, null),
  });
}

const INBOUND_PATH = /^\/api\/postbacks\/([^/?]*)/;

/**
 * Requests the router refuses before any route runs (a path with broken
 * percent-encoding, an over-long path segment). On the inbound path they are
 * still answered in our envelope and, for a known token, kept in the postback log.
 */
export async function answerFrameworkError(
  store: Store,
  now: () => number,
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const badUrl = error.code === 'FST_ERR_BAD_URL';
  const inbound = INBOUND_PATH.exec(request.url);
  const token = inbound?.[1] ?? '';
  const postback = inbound && TOKEN.test(token) ? await store.findPostbackByToken(token) : null;
  if (!postback) {
    if (inbound) {
      return reply
        .status(404)
        .send(errorBody('unknown_postback', 'no postback configuration has this token'));
    }
    return badUrl
      ? reply
          .status(400)
          .send(errorBody('invalid_encoding', 'malformed percent-encoding in the path'))
      : reply.status(404).send(errorBody('not_found', 'no such route'));
  }
  const [status, code, message] = postback.deleted
    ? [404, 'unknown_postback', 'this postback configuration was deleted']
    : badUrl
      ? [400, 'invalid_encoding', 'malformed percent-encoding or invalid UTF-8 in the path']
      : [400, 'invalid_event', 'the event name in the path is too long'];
  await store.appendPostbackLog(logRequest(now, request, postback, null), {
    httpStatus: status,
    status: 'rejected',
    error: `${code}: ${message}`,
    event: null,
    clickid: null,
    conversionId: null,
  });
  return reply.status(status).send(errorBody(code, message));
}
