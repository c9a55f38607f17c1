// Ad clicks taken straight from node:http before Fastify routes them, as
// plain GET postbacks are (src/routes/inbound/direct-path.ts): a GET without
// a body to /c/<slug> with nothing percent-encoded in the path, on a server
// neither stopping nor full. The query is split by the library Fastify's
// router uses, and receiveClick answers as it does for the route, so the
// redirect, its headers and the recorded click are the same. Anything else
// goes to Fastify untouched.
import type { IncomingMessage, ServerResponse } from 'node:http';
import fastQuerystring from 'fast-querystring';
import type { FastifyBaseLogger } from 'fastify';
import { answerError } from '../../app.js';
import {
  clientAddress,
  type DirectPath,
  isPlainGet,
  JSON_TYPE,
  sendDirect,
} from '../../http/direct-answer.js';
import { errorBody } from '../../http/errors.js';
import type { InFlight } from '../../http/load-shedding.js';
import { type ClickAnswer, type ClickDeps, MAX_SLUG, NO_CAMPAIGN, receiveClick } from './click.js';

const PREFIX = '/c/';

/** The slug and the raw query, when the path is one the direct path takes. */
export function matchClickPath(url: string): { slug: string; query: string } | null {
  if (!url.startsWith(PREFIX)) return null;
  const from = PREFIX.length;
  // The router's split: the query starts after the first `?` or `#`.
  let end = url.indexOf('?', from);
  const hash = url.indexOf('#', from);
  if (hash !== -1 && (end === -1 || hash < end)) end = hash;
  const pathEnd = end === -1 ? url.length : end;
  if (pathEnd === from || pathEnd - from > MAX_SLUG) return null;
  const slash = url.indexOf('/', from);
  if (slash !== -1 && slash < pathEnd) return null;
  // Percent-encoding is the router's to decode (or refuse).
  const percent = url.indexOf('%', from);
  if (percent !== -1 && percent < pathEnd) return null;
  return { slug: url.slice(from, pathEnd), query: end === -1 ? '' : url.slice(end + 1) };
}

export interface DirectClickDeps extends ClickDeps {
  log: FastifyBaseLogger;
  trustProxy: boolean;
  inFlight: InFlight;
  closing: () => boolean;
}

/** The direct path for clicks, in front of Fastify's request listener. */
export function directClicks(deps: DirectClickDeps): DirectPath {
  const clientIp = clientAddress(deps.trustProxy);

  const finish = (response: ServerResponse, answer: ClickAnswer): void => {
    const closing = deps.closing();
    if (answer.kind === 'no_campaign') {
      sendDirect(
        response,
        404,
        { 'content-type': JSON_TYPE },
        JSON.stringify(NO_CAMPAIGN),
        closing,
      );
    } else if (answer.kind === 'clickid') {
      const body = JSON.stringify({ clickid: answer.clickid });
      sendDirect(
        response,
        200,
        { 'cache-control': 'no-store', 'content-type': JSON_TYPE },
        body,
        closing,
      );
    } else {
      sendDirect(response, 302, { 'cache-control': 'no-store', location: answer.url }, '', closing);
    }
    deps.inFlight.leave();
  };

  /** As the app's error handler answers a failed request. */
  const fail = (response: ServerResponse, error: unknown): void => {
    const answer = answerError(error, deps.log);
    const headers: Record<string, string> = {};
    if (answer.retryAfter !== undefined) headers['retry-after'] = String(answer.retryAfter);
    headers['content-type'] = JSON_TYPE;
    const body = JSON.stringify(errorBody(answer.code, answer.message));
    sendDirect(response, answer.status, headers, body, deps.closing());
    deps.inFlight.leave();
  };

  return (request: IncomingMessage, response: ServerResponse) => {
    const path = matchClickPath(request.url as string);
    if (path === null || !isPlainGet(request)) return false;
    if (deps.closing() || !deps.inFlight.take()) return false;
    const headers = request.headers;
    receiveClick(
      deps,
      {
        slug: path.slug,
        query: path.query.length === 0 ? {} : fastQuerystring.parse(path.query),
        ip: clientIp(request),
        userAgent: headers['user-agent'],
        referrer: headers.referer,
      },
      deps.log,
    ).then(
      (answer) => {
        // Sending throws only on a header Node refuses, which asLocation
        // prevents for the redirect; should it, the visitor gets the error
        // handler's answer rather than the process an unhandled rejection.
        try {
          finish(response, answer);
        } catch (error) {
          fail(response, error);
        }
      },
      (error: unknown) => fail(response, error),
    );
    return true;
  };
}
