// GET|POST /api/postbacks/:token/:event, /api/postbacks/:token/tracker-postback and
// /api/postbacks/:token — networks' server-to-server calls, through Fastify.
// What they are answered is the receiver's (receiver.ts); plain GETs usually
// come in by the direct path instead (direct-path.ts), to the same receiver.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorBody, isClientAbort } from '../../http/errors.js';
import type { App } from '../../http/json-schema.js';
import type { Store } from '../../store/store.js';
import {
  ANSWER,
  type Answer,
  type InboundCall,
  logRefusal,
  logRequest,
  MAX_URL_LENGTH,
  type PostbackReceiver,
  TOKEN,
} from './receiver.js';

export { MAX_URL_LENGTH } from './receiver.js';

interface Params {
  token: string;
  event?: string;
  /** The rest of the path, for the catch-all route. */
  '*'?: string;
}

function callOf(request: FastifyRequest, pathEvent: string | null, body: string): InboundCall {
  return {
    method: request.method,
    url: request.url,
    ip: request.ip ?? null,
    userAgent: request.headers['user-agent'],
    contentType: request.headers['content-type'],
    body,
    token: (request.params as Params).token,
    pathEvent,
    splitQuery: request.query as Record<string, string | string[]>,
  };
}

function send(reply: FastifyReply, answer: Answer): FastifyReply {
  if (answer.retryAfter !== undefined) reply.header('retry-after', String(answer.retryAfter));
  return reply.status(answer.status).send(answer.body);
}

export async function inboundRoutes(app: App, options: { receiver: PostbackReceiver }) {
  const { receiver } = options;

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
    // Node ended a request that took too long with a 408 of its own: its
    // connection's end is not the client's doing.
    const failure =
      isClientAbort(error) && timedOut.has(request.raw.socket) ? REQUEST_TIMEOUT() : error;
    return send(
      reply,
      await receiver.answerFailure(failure, callOf(request, null, ''), request.log),
    );
  });

  async function handle(request: FastifyRequest, reply: FastifyReply, pathEvent: string | null) {
    const body = typeof request.body === 'string' ? request.body : '';
    return send(reply, await receiver.receive(callOf(request, pathEvent, body), request.log));
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
  app.route<{ Params: Params }>({
    method: ['GET', 'POST'],
    url: '/:token/*',
    exposeHeadRoute: false,
    schema,
    handler: async (request, reply) => {
      // One segment is an event the router found too long for `/:token/:event`.
      const rest = request.params['*'] ?? '';
      if (!rest.includes('/')) return handle(request, reply, rest);
      const body = typeof request.body === 'string' ? request.body : '';
      return send(
        reply,
        await receiver.receiveUnknownPath(callOf(request, null, body), request.log),
      );
    },
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
  const call = {
    method: request.method,
    url: request.url,
    ip: request.ip ?? null,
    userAgent: request.headers['user-agent'],
  };
  await logRefusal(store, logRequest(now, call, postback, null), status, code, message);
  return reply.status(status).send(errorBody(code, message));
}

const REQUEST_TIMEOUT = () =>
  new AppError(408, 'request_timeout', 'the request did not arrive in time');

/** Connections Node ended for a request that took too long to arrive. */
const timedOut = new WeakSet<Socket>();

/** Node's error for a request its HTTP parser refused, with the bytes it was reading. */
export type ClientError = Error & { code?: string; rawPacket?: Buffer };

/** The start of a request line, and of a header line. */
const REQUEST_LINE_START = /^[A-Z]{3,7} \//;
const HEADER_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/;

/** A postback's request line, as far as the first bytes of a request hold it. */
const POSTBACK_LINE = /^([A-Z]{3,7}) (\/api\/postbacks\/([^/?# \r\n]*)[^ \r\n]*)/;

/**
 * Requests Node's HTTP parser refuses before any route runs: over its 16 KiB
 * limit for the request line and headers, or not HTTP at all. They are
 * answered in our envelope; one to a known token whose first bytes name it is
 * kept in the postback log, with its URL as far as the log keeps URLs.
 */
export function answerClientError(
  store: Store,
  now: () => number,
  log: FastifyBaseLogger,
  error: ClientError,
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const refuse = (status: number, code: string, message: string) => {
    const body = JSON.stringify(errorBody(code, message));
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    timedOut.add(socket);
    const { statusCode, code, message } = REQUEST_TIMEOUT();
    refuse(statusCode, code, message);
    return;
  }
  if (error.code !== 'HPE_HEADER_OVERFLOW') {
    refuse(400, 'bad_request', 'the request is not valid HTTP');
    return;
  }
  // The error holds only the read that went over the limit: the request's
  // start when it came in one piece, otherwise a later part of its URL or
  // headers. The request line, when in it, says which was too long.
  const head = error.rawPacket?.toString('latin1', 0, 2 * MAX_URL_LENGTH) ?? '';
  const lineEnd = head.indexOf('\r\n');
  const urlTooLong = REQUEST_LINE_START.test(head)
    ? lineEnd === -1 || lineEnd > MAX_URL_LENGTH
    : !HEADER_START.test(head);
  const [status, code, message] = urlTooLong
    ? [414, 'uri_too_long', `the URL is over ${MAX_URL_LENGTH} characters`]
    : [431, 'headers_too_large', 'the request line and headers are over 16 KiB'];
  const line = POSTBACK_LINE.exec(head);
  const token = line?.[3] ?? '';
  if (!line || !TOKEN.test(token)) {
    refuse(status, code, message);
    return;
  }
  socket.pause();
  const logged = async () => {
    const postback = await store.findPostbackByToken(token);
    if (!postback || postback.deleted) return;
    const call = {
      method: line[1] as string,
      url: line[2] as string,
      ip: socket.remoteAddress ?? null,
      userAgent: undefined,
    };
    await logRefusal(store, logRequest(now, call, postback, null), status, code, message);
  };
  logged()
    .catch((failure: unknown) => log.error({ err: failure }, 'could not log a refused postback'))
    .finally(() => refuse(status, code, message));
}
