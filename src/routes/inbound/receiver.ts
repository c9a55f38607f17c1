// What an inbound postback is answered, whoever carried it in: the Fastify
// routes (postback.ts) and the direct path for plain GETs (direct-path.ts)
// both hand a call to receivePostback and send the answer it gives. Every
// call to a known token leaves a row in the postback log, whatever we answer,
// unless the database cannot take writes at all (then 503, and the network
// retries).
import type { FastifyBaseLogger } from 'fastify';
import { isFailure, toErrorAnswer } from '../../app.js';
import type { Config } from '../../config.js';
import { countingPlan, signedAmount } from '../../domain/events.js';
import { parseInboundPostback } from '../../domain/inbound-postback.js';
import { errorBody } from '../../http/errors.js';
import { LogThrottle } from '../../http/log-throttle.js';
import type { LookupCache } from '../../http/lookup-cache.js';
import type { LogOutcome, LogRequest, PostbackConfig, Store } from '../../store/store.js';
import { isStorageUnavailable } from '../../store/unavailable.js';

/** Longest URL we accept (documented); the rest of the request line is refused with 414. */
export const MAX_URL_LENGTH = 8192;
/** How much of a URL and body the postback log keeps. */
const LOG_URL_LIMIT = 4096;
const LOG_BODY_LIMIT = 4096;

export const TOKEN = /^[A-Za-z0-9]{8,64}$/;

/** What a network is answered with 200 (API.md): counted, a repeat, or matched to no lead. */
export const ANSWER = {
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

/** An inbound request as the receiver needs it, from whichever server took it. */
export interface InboundCall {
  method: string;
  url: string;
  ip: string | null;
  userAgent: string | undefined;
  contentType: string | undefined;
  /** The body as text ('' without one). */
  body: string;
  /** The path's token segment, decoded. */
  token: string | undefined;
  /** The event from the path, or null when it comes in a parameter. */
  pathEvent: string | null;
  /** The query as the server already split it, if it did (see parseInboundPostback). */
  splitQuery?: Readonly<Record<string, string | string[]>>;
}

/** The 200 answer, as ANSWER describes it. */
export interface PostbackAnswer {
  ok: true;
  status: 'recorded' | 'duplicate' | 'unmatched';
  event: string;
  clickid: string;
  conversionId?: string;
  reason?: string;
}

/** A status and the JSON to send with it. */
export type Answer =
  | { status: 200; body: PostbackAnswer; retryAfter?: undefined }
  | {
      status: number;
      body: ReturnType<typeof errorBody>;
      /** Seconds, for a Retry-After header. */
      retryAfter?: number;
    };

/**
 * The 200 answer's JSON, keys in ANSWER's order: what the route's
 * fast-json-stringify serializer writes, in fewer instructions. The status is
 * one of three words.
 */
export function postbackAnswerJson(answer: PostbackAnswer): string {
  let json = `{"ok":true,"status":"${answer.status}","event":${jsonString(answer.event)},"clickid":${jsonString(answer.clickid)}`;
  if (answer.conversionId !== undefined) {
    json += `,"conversionId":${jsonString(answer.conversionId)}`;
  }
  if (answer.reason !== undefined) json += `,"reason":${jsonString(answer.reason)}`;
  return `${json}}`;
}

/** Nothing JSON escapes: no quote, backslash, control character or lone surrogate half. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes are what it looks for.
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * A JSON string. Almost every event, clickid and id is plain and only needs
 * quotes; JSON.stringify, a call into the runtime, costs twice the check.
 */
export function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

export interface ReceiverDeps {
  store: Store;
  config: Config;
  now: () => number;
  postbacks: LookupCache<PostbackConfig>;
}

export class PostbackReceiver {
  private readonly unknownTokens = new LogThrottle();

  constructor(private readonly deps: ReceiverDeps) {}

  /** The token's configuration; a promise only when the cache has to load it. */
  findPostback(token: string | undefined): PostbackConfig | null | Promise<PostbackConfig | null> {
    if (typeof token !== 'string') return null;
    // Only tokens of the right form are ever looked up, so a cached one
    // needs no second look at its form.
    const cached = this.deps.postbacks.cached(token);
    if (cached !== undefined) return cached;
    if (!TOKEN.test(token)) return null;
    return this.deps.postbacks.find(token);
  }

  /**
   * Counts the call and says what to answer. Throws only when the store
   * fails; answerFailure then says what to answer instead.
   */
  async receive(call: InboundCall, log: FastifyBaseLogger): Promise<Answer> {
    const { store, config, now } = this.deps;
    const found = this.findPostback(call.token);
    const postback = found instanceof Promise ? await found : found;
    if (!postback) {
      const held = this.unknownTokens.take(now());
      if (held !== null) {
        log.warn(
          { url: call.url.slice(0, 200), ip: call.ip, held },
          'postback to an unknown token',
        );
      }
      return {
        status: 404,
        body: errorBody('unknown_postback', 'no postback configuration has this token'),
      };
    }
    const entry = logRequest(now, call, postback, call.body);
    if (postback.deleted) {
      return this.refuse(entry, 404, 'unknown_postback', 'this postback configuration was deleted');
    }
    if (!postback.enabled) {
      return this.refuse(
        entry,
        403,
        'postback_disabled',
        'this postback configuration is disabled',
      );
    }
    const url = call.url;
    if (url.length > MAX_URL_LENGTH) {
      return this.refuse(
        entry,
        414,
        'uri_too_long',
        `the URL is over ${MAX_URL_LENGTH} characters`,
      );
    }

    const queryAt = url.indexOf('?');
    // A server's query may start after the first `?` or `#`, ours after the
    // first `?`: its split is used only when both are the same text.
    const hashAt = url.indexOf('#');
    const sameQuery = hashAt === -1 || (queryAt !== -1 && queryAt < hashAt);
    const parsed = parseInboundPostback(
      {
        pathEvent: call.pathEvent,
        query: queryAt === -1 ? '' : url.slice(queryAt + 1),
        splitQuery: sameQuery ? call.splitQuery : undefined,
        contentType: call.contentType,
        body: call.body,
      },
      { clickidParam: postback.clickidParam, currency: postback.currency },
    );
    if (!parsed.ok) {
      return this.refuse(entry, 400, parsed.code, parsed.message, {
        event: parsed.event,
        clickid: parsed.clickid,
      });
    }
    const p = parsed.postback;
    if (p.unresolvedClickid) {
      // A network's "test postback" button: worth seeing in the log, not an error.
      const reason = 'unresolved_macro';
      await store.appendPostbackLog(entry, {
        httpStatus: 200,
        status: 'unmatched',
        error: reason,
        event: p.event,
        clickid: p.clickid,
        conversionId: null,
      });
      return {
        status: 200,
        body: { ok: true, status: 'unmatched', event: p.event, clickid: p.clickid, reason },
      };
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
      at: entry.at,
      windowMs: config.dedupWindowSeconds * 1000,
      log: entry,
      note: p.warnings.length > 0 ? p.warnings.join('; ') : null,
    });
    if (outcome.status === 'unmatched') {
      return {
        status: 200,
        body: {
          ok: true,
          status: 'unmatched',
          event: p.event,
          clickid: p.clickid,
          reason: outcome.reason,
        },
      };
    }
    return {
      status: 200,
      body: {
        ok: true,
        status: outcome.status,
        event: outcome.event,
        clickid: p.clickid,
        conversionId: outcome.conversionId,
      },
    };
  }

  /**
   * What to answer when receiving failed (the store refused, or a request
   * the server could not take in): the error envelope, and a log row for a
   * known token when the database takes one.
   */
  async answerFailure(error: unknown, call: InboundCall, log: FastifyBaseLogger): Promise<Answer> {
    const answer = toErrorAnswer(error as Parameters<typeof toErrorAnswer>[0]);
    if (isFailure(answer)) log.error({ err: error }, 'inbound postback failed');
    try {
      const found = this.findPostback(call.token);
      const postback = found instanceof Promise ? await found : found;
      if (postback) {
        const entry = logRequest(this.deps.now, call, postback, null);
        await logRefusal(this.deps.store, entry, answer.status, answer.code, answer.message);
      }
    } catch (failure) {
      // The database that refused the write refuses its log row too (a full
      // disk): the answer still goes out, and the network retries.
      if (!isStorageUnavailable(failure)) throw failure;
      log.error({ err: failure }, 'the refused postback could not be logged');
    }
    return {
      status: answer.status,
      body: errorBody(answer.code, answer.message),
      retryAfter: answer.retryAfter,
    };
  }

  /**
   * A path under a token that no postback route has (`/<token>/a/b`): 404,
   * kept in the log when the token is known.
   */
  async receiveUnknownPath(call: InboundCall, log: FastifyBaseLogger): Promise<Answer> {
    const found = this.findPostback(call.token);
    const postback = found instanceof Promise ? await found : found;
    if (!postback || postback.deleted) return this.receive(call, log);
    return this.refuse(
      logRequest(this.deps.now, call, postback, call.body),
      404,
      'not_found',
      'no postback route has this path: /<token>, /<token>/<event> or /<token>/tracker-postback',
    );
  }

  private async refuse(
    entry: LogRequest,
    status: number,
    code: string,
    message: string,
    seen: Pick<LogOutcome, 'event' | 'clickid'> = { event: null, clickid: null },
  ): Promise<Answer> {
    await logRefusal(this.deps.store, entry, status, code, message, seen);
    return { status, body: errorBody(code, message) };
  }
}

/** The postback-log row of a refused request: nothing counted. */
export function logRefusal(
  store: Store,
  entry: LogRequest,
  status: number,
  code: string,
  message: string,
  seen: Pick<LogOutcome, 'event' | 'clickid'> = { event: null, clickid: null },
): Promise<void> {
  return store.appendPostbackLog(entry, {
    httpStatus: status,
    status: 'rejected',
    error: `${code}: ${message}`,
    conversionId: null,
    ...seen,
  });
}

/** What the postback log keeps of a request: bounded URL, agent and body. */
export function logRequest(
  now: () => number,
  call: Pick<InboundCall, 'method' | 'url' | 'ip' | 'userAgent'>,
  postback: PostbackConfig,
  body: string | null,
): LogRequest {
  return {
    postbackId: postback.id,
    workspaceId: postback.workspaceId,
    at: now(),
    method: call.method,
    url: call.url.slice(0, LOG_URL_LIMIT),
    ip: call.ip ?? null,
    userAgent: call.userAgent?.slice(0, 512) ?? null,
    body: body ? body.slice(0, LOG_BODY_LIMIT) : null,
  };
}
