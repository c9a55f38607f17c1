// The common inbound postback, taken straight from node:http before Fastify
// routes it: a GET without a body to /api/postbacks/<token> or
// /api/postbacks/<token>/<event>, with a plain path. Fastify's router,
// request and reply objects, hooks and serializer cost a postback about
// 13,500 instructions of its 151,000 (npm run bench:instructions; README,
// Performance); here it is answered by the same receiver as the Fastify
// routes, with the same status, headers and JSON. Anything else goes to
// Fastify untouched: other paths and methods, a body, a percent-encoded or odd
// path, a server stopping or over capacity.
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import {
  clientAddress,
  type DirectPath,
  isPlainGet,
  JSON_TYPE,
  sendDirect,
} from '../../http/direct-answer.js';
import { errorBody } from '../../http/errors.js';
import type { InFlight } from '../../http/load-shedding.js';
import {
  type Answer,
  type InboundCall,
  type PostbackAnswer,
  type PostbackReceiver,
  postbackAnswerJson,
} from './receiver.js';

const PREFIX = '/api/postbacks/';
/** The router's longest path parameter (Fastify's routerOptions.maxParamLength). */
export const MAX_PARAM_LENGTH = 256;

export interface DirectPathDeps {
  receiver: PostbackReceiver;
  log: FastifyBaseLogger;
  /** Fastify's trustProxy: the client's address from X-Forwarded-For. */
  trustProxy: boolean;
  inFlight: InFlight;
  /** True once the server is stopping: Fastify then answers 503 and closes connections. */
  closing: () => boolean;
}

/** The path's token and event, when the path is one the direct path takes. */
export function matchPostbackPath(url: string): { token: string; pathEvent: string | null } | null {
  if (!url.startsWith(PREFIX)) return null;
  const from = PREFIX.length;
  // The path ends at the query or a fragment, as the router has it. A few
  // searches of the string cost less than a loop over its characters.
  let end = url.indexOf('?', from);
  if (end === -1) end = url.length;
  const hash = url.indexOf('#', from);
  if (hash !== -1 && hash < end) end = hash;
  // Percent-encoding is the router's to decode (or refuse).
  const percent = url.indexOf('%', from);
  if (percent !== -1 && percent < end) return null;
  let slash = url.indexOf('/', from);
  if (slash >= end) slash = -1;
  const tokenEnd = slash === -1 ? end : slash;
  const tokenLength = tokenEnd - from;
  if (tokenLength === 0 || tokenLength > MAX_PARAM_LENGTH) return null;
  const token = url.slice(from, tokenEnd);
  if (slash === -1) return { token, pathEvent: null };
  const eventLength = end - slash - 1;
  if (eventLength === 0 || eventLength > MAX_PARAM_LENGTH) return null;
  const second = url.indexOf('/', slash + 1);
  if (second !== -1 && second < end) return null;
  const event = url.slice(slash + 1, end);
  return { token, pathEvent: event === 'tracker-postback' ? null : event };
}

/** The direct path for postbacks, in front of Fastify's request listener. */
export function directPostbacks(deps: DirectPathDeps): DirectPath {
  const clientIp = clientAddress(deps.trustProxy);

  const send = (response: ServerResponse, answer: Answer): void => {
    const payload =
      answer.status === 200
        ? postbackAnswerJson(answer.body as PostbackAnswer)
        : JSON.stringify(answer.body);
    const headers: Record<string, string> = {};
    if (answer.retryAfter !== undefined) headers['retry-after'] = String(answer.retryAfter);
    headers['content-type'] = JSON_TYPE;
    sendDirect(response, answer.status, headers, payload, deps.closing());
  };

  /** Sends the answer; counted until then, whether or not the client is still there. */
  const finish = (response: ServerResponse, result: Answer): void => {
    send(response, result);
    deps.inFlight.leave();
  };

  const fail = async (error: unknown, call: InboundCall, response: ServerResponse) => {
    let result: Answer;
    try {
      result = await deps.receiver.answerFailure(error, call, deps.log);
    } catch (failure) {
      deps.log.error({ err: failure }, 'a failed postback could not be answered');
      result = {
        status: 500,
        body: errorBody('internal_error', 'something went wrong on our side'),
      };
    }
    finish(response, result);
  };

  // One reaction to the receiver's promise, not an async function awaiting
  // it: a postback's answer is one microtask after its commit, not two.
  const answer = (call: InboundCall, response: ServerResponse): void => {
    deps.receiver.receive(call, deps.log).then(
      (result) => finish(response, result),
      (error: unknown) => fail(error, call, response),
    );
  };

  return (request, response) => {
    const url = request.url as string;
    const path = matchPostbackPath(url);
    if (path === null || !isPlainGet(request)) return false;
    if (deps.closing() || !deps.inFlight.take()) return false;
    const headers = request.headers;
    answer(
      {
        method: 'GET',
        url,
        ip: clientIp(request),
        userAgent: headers['user-agent'],
        contentType: headers['content-type'],
        body: '',
        token: path.token,
        pathEvent: path.pathEvent,
      },
      response,
    );
    return true;
  };
}
