// buildApp(deps) → a Fastify instance without listen(): main.ts listens, tests inject.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Config } from './config.js';
import { OutboxWorker } from './forwarders/outbox-worker.js';
import { loadSecretBox, type SecretBox } from './forwarders/secret-box.js';
import { AppError, errorBody, isClientAbort } from './http/errors.js';
import type { SchemaTypeProvider } from './http/json-schema.js';
import { LazyValidators, lazySerializers } from './http/lazy-compilers.js';
import { LazyChildLogger } from './http/lazy-logger.js';
import {
  BodyBudget,
  boundBodies,
  InFlight,
  RETRY_AFTER_SECONDS,
  shedLoad,
} from './http/load-shedding.js';
import { LookupCache } from './http/lookup-cache.js';
import { apiRoutes } from './routes/api/v1/index.js';
import { clickRoutes } from './routes/clicks/click.js';
import { directClicks } from './routes/clicks/direct-click.js';
import { directPostbacks } from './routes/inbound/direct-path.js';
import {
  answerClientError,
  answerFrameworkError,
  type ClientError,
  inboundRoutes,
} from './routes/inbound/postback.js';
import { PostbackReceiver } from './routes/inbound/receiver.js';
import { isAppRoute, webAppRoutes } from './routes/web-app.js';
import { LogRetention } from './store/log-retention.js';
import { type Campaign, type PostbackConfig, type Store, StoreRefusal } from './store/store.js';
import { isStorageUnavailable } from './store/unavailable.js';

export interface AppDeps {
  config: Config;
  store: Store;
  /** The clock; tests move it to cross the duplicate window. */
  now?: () => number;
  logger?: FastifyServerOptions['logger'];
  /** The built web app; defaults to web/dist. */
  webRoot?: string;
  /** Seals access tokens and webhook secrets; defaults to SECRET_KEY or the data directory's key. */
  secrets?: SecretBox;
  /**
   * Plain GET postbacks and clicks answered before Fastify routes them
   * (direct-path.ts, direct-click.ts); on unless false. Either way the
   * answers are the same: tests turn it off to compare.
   */
  directPaths?: boolean;
  /** How long a request (headers and body) may take to arrive; 30 s unless a test shortens it. */
  requestTimeoutMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: Required<Pick<AppDeps, 'config' | 'store' | 'now' | 'secrets'>>;
    postbacks: LookupCache<PostbackConfig>;
    /** Campaigns by slug or id, for the click route. */
    campaigns: LookupCache<Campaign>;
    /** Delivers the outbox; main.ts starts it, tests drive it. */
    forwarder: OutboxWorker;
    /** Deletes old log rows; main.ts starts it, tests drive it. */
    retention: LogRetention;
    /** Request schemas, compiled on first use or by compileRest once listening. */
    validators: LazyValidators;
    /** Requests being answered (their bodies are in); main.ts waits for them on a stop. */
    inFlight: InFlight;
  }
}

/** Bodies above this are refused with 413 (inbound postbacks and the API alike). */
export const BODY_LIMIT = 64 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now;
  const validators = new LazyValidators();
  /** Set once the app is built: until then, and when turned off, Fastify takes every request. */
  let direct: ((request: IncomingMessage, response: ServerResponse) => boolean) | null = null;
  const requestTimeout = deps.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    // Fastify's own HTTP/1 server, with the direct paths for plain GET
    // postbacks and clicks in front of its request listener.
    serverFactory: (handler, options) => {
      // Node looks for requests past their time every so often: 30 s by default.
      const checking = { connectionsCheckingInterval: Math.min(30_000, requestTimeout) };
      const server = createServer({ ...(options.http ?? {}), ...checking }, (request, response) => {
        if (direct === null || !direct(request, response)) handler(request, response);
      });
      server.keepAliveTimeout = options.keepAliveTimeout as number;
      server.requestTimeout = options.requestTimeout as number;
      server.setTimeout(options.connectionTimeout as number);
      const perSocket = Number(options.maxRequestsPerSocket ?? 0);
      if (perSocket > 0) server.maxRequestsPerSocket = perSocket;
      return server;
    },
    schemaController: {
      compilersFactory: { buildValidator: validators.factory, buildSerializer: lazySerializers },
    },
    clientErrorHandler: (error, socket) => {
      answerClientError(deps.store, now, app.log, error as unknown as ClientError, socket);
    },
    frameworkErrors: (error, request, reply) => {
      answerFrameworkError(deps.store, now, error, request, reply).catch((failure: unknown) => {
        request.log.error({ err: failure }, 'could not answer a refused request');
        const answer = toErrorAnswer(
          (failure instanceof Error ? failure : new Error(String(failure))) as FastifyError,
        );
        sendErrorAnswer(reply as FastifyReply, answer);
      });
    },
    logger: deps.logger ?? false,
    trustProxy: deps.config.trustProxy,
    bodyLimit: BODY_LIMIT,
    // `/registration/` and `//registration` are `/registration`: a network's
    // form may add a slash to the URL pasted into it.
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    return503OnClosing: true,
    // A request (headers and body) must arrive within this; slow uploads end.
    requestTimeout,
    // The postback log already keeps every inbound request; a log line per
    // request would cost more than the request itself.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) =>
      new LazyChildLogger(logger, bindings, options),
  }).withTypeProvider<SchemaTypeProvider>();
  app.decorate('validators', validators);

  const secrets = deps.secrets ?? loadSecretBox(deps.config);
  app.decorate('deps', { config: deps.config, store: deps.store, now, secrets });
  app.decorate(
    'forwarder',
    new OutboxWorker({ store: deps.store, config: deps.config, secrets, now, log: app.log }),
  );
  app.decorate(
    'retention',
    new LogRetention({
      store: deps.store,
      days: deps.config.logRetentionDays,
      now,
      log: app.log,
    }),
  );
  app.addHook('onClose', async () => {
    await app.retention.stop();
    await app.forwarder.stop();
  });
  app.decorate('postbacks', new LookupCache((token) => deps.store.findPostbackByToken(token), now));
  app.decorate(
    'campaigns',
    new LookupCache((slugOrId) => deps.store.findCampaignForClick(slugOrId), now),
  );
  const inFlight = new InFlight(deps.config.maxInFlight);
  app.decorate('inFlight', inFlight);
  shedLoad(app, inFlight);
  boundBodies(app, new BodyBudget());

  // While stopping, every answer ends its keep-alive connection, so an idle
  // client pool cannot hold the shutdown open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  app.setErrorHandler((error: FastifyError, request, reply) =>
    sendErrorAnswer(reply, answerError(error, request.log)),
  );
  let hasWebApp = false;
  app.setNotFoundHandler((request, reply) => {
    if (hasWebApp && isAppRoute(request.method, request.url, request.headers.accept)) {
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    }
    return reply
      .status(404)
      .send(errorBody('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Clickback API',
        version: '0.1.0',
        description:
          'Conversion tracking for chat-bot funnels: campaigns and clicks, leads with clickids, network postbacks counted exactly once, logs and statistics. Money is always a decimal string.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'cb_session' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });

  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    await app.deps.store.ping();
    return reply.send({ ok: true });
  });

  const receiver = new PostbackReceiver({
    store: deps.store,
    config: deps.config,
    now,
    postbacks: app.postbacks,
  });
  await app.register(inboundRoutes, { prefix: '/api/postbacks', receiver });
  await app.register(clickRoutes);
  await app.register(apiRoutes, { prefix: '/api/v1' });
  hasWebApp = await webAppRoutes(app, deps.webRoot);
  if (deps.directPaths !== false) {
    const common = {
      log: app.log,
      trustProxy: deps.config.trustProxy,
      inFlight,
      closing: () => closing,
    };
    const postbacks = directPostbacks({ ...common, receiver });
    const clicks = directClicks({
      ...common,
      store: deps.store,
      now,
      campaigns: app.campaigns,
    });
    direct = (request, response) => postbacks(request, response) || clicks(request, response);
  }
  return app;
}

export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  /** Seconds, for a Retry-After header: the request may succeed if sent again. */
  retryAfter?: number;
}

/** A failed request's answer, and its log line: an error for a 5xx, a note for a refusal. */
export function answerError(error: unknown, log: FastifyBaseLogger): ErrorAnswer {
  const answer = toErrorAnswer(error as FastifyError);
  if (isFailure(answer)) log.error({ err: error }, 'request failed');
  // `reason`, not `msg`: pino writes the line's own message under `msg`.
  else log.info({ code: answer.code, reason: answer.message }, 'request refused');
  return answer;
}

/** A 5xx worth an error line: shedding load is logged at warn where it happens. */
export function isFailure(answer: ErrorAnswer): boolean {
  return answer.status >= 500 && answer.code !== 'overloaded';
}

/** The answer in the error envelope, with Retry-After when sending again may work. */
export function sendErrorAnswer(reply: FastifyReply, answer: ErrorAnswer): FastifyReply {
  if (answer.retryAfter !== undefined) reply.header('retry-after', String(answer.retryAfter));
  return reply.status(answer.status).send(errorBody(answer.code, answer.message));
}

export function toErrorAnswer(error: FastifyError | AppError): ErrorAnswer {
  // Nobody reads this answer; the status is the one proxies log for it.
  if (isClientAbort(error)) {
    return {
      status: 499,
      code: 'client_closed',
      message: 'the client closed the connection before its request was complete',
    };
  }
  if (isStorageUnavailable(error)) {
    return {
      status: 503,
      code: 'storage_unavailable',
      message: 'the database cannot take this write right now; retry shortly',
      retryAfter: RETRY_AFTER_SECONDS,
    };
  }
  if (error instanceof StoreRefusal) {
    return { status: 400, code: error.code, message: error.message };
  }
  if (error instanceof AppError) {
    const answer = { status: error.statusCode, code: error.code, message: error.message };
    return error.statusCode === 503 ? { ...answer, retryAfter: RETRY_AFTER_SECONDS } : answer;
  }
  if (error.validation) {
    return { status: 400, code: 'invalid_request', message: error.message };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'body_too_large',
        message: `the body is over ${BODY_LIMIT} bytes`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', message: 'send application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'invalid_json', message: 'the JSON body does not parse' };
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, code: 'invalid_request', message: error.message };
  }
  return { status: 500, code: 'internal_error', message: 'something went wrong on our side' };
}
