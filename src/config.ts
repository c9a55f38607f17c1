// The environment, validated once at boot: a bad value stops the process with
// a message naming the variable, instead of failing later on a request.

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  publicUrl: string;
  allowSignup: boolean;
  trustProxy: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Window in which an event without a transaction id is a duplicate. */
  dedupWindowSeconds: number;
  /** How long a session token lives. */
  sessionDays: number;
  /** PostgreSQL connections per node. */
  databasePoolSize: number;
  /**
   * How long a write or read waits for a PostgreSQL connection (a new one, or
   * a free one of the pool) before it fails: a request then gets 503 instead
   * of hanging on a database that is unreachable.
   */
  databaseConnectTimeoutMs: number;
  /**
   * How long one PostgreSQL statement may go unanswered: past it the request
   * gets 503 and the connection is dropped (the database rolls back what it
   * had open), instead of waiting on a network that stopped carrying anything.
   */
  databaseQueryTimeoutMs: number;
  /** Postback-log rows and delivery attempts older than this are deleted; 0 keeps them. */
  logRetentionDays: number;
  /** Requests handled at once; beyond it the server answers 503 + Retry-After. */
  maxInFlight: number;
  /** Where files of ours live besides the database: the generated secret key. */
  dataDir: string;
  /** 32-byte key (base64 or hex) that encrypts access tokens and webhook secrets at rest. */
  secretKey: string | null;
  facebookGraphUrl: string;
  facebookGraphVersion: string;
  /** Webhooks to loopback, private and link-local addresses; off except in tests and labs. */
  allowPrivateWebhooks: boolean;
  forward: {
    /** One outbound request's limit, connection to last byte. */
    timeoutMs: number;
    /** The first retry's nominal delay; each next one doubles, up to an hour. */
    retryBaseMs: number;
    maxAttempts: number;
    /** Older queued events are given up (failed). */
    maxAgeMs: number;
    /** Requests in flight to one destination from one server process. */
    concurrency: number;
    /** How often the worker looks for due retries (new events wake it at once). */
    pollMs: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `"${raw}" is not a whole number`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `${value} is outside ${min}..${max}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(name, `"${raw}" is not true or false`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const host = env.HOST?.trim() || '0.0.0.0';

  const databaseUrl = env.DATABASE_URL?.trim() || 'sqlite:./data/clickback.db';
  if (!/^sqlite:.+/.test(databaseUrl) && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be sqlite:<path> or postgres://...');
  }

  const publicUrl = (env.PUBLIC_URL?.trim() || `http://localhost:${port}`).replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(publicUrl);
  } catch {
    throw new ConfigError('PUBLIC_URL', `"${publicUrl}" is not an absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError('PUBLIC_URL', 'must start with http:// or https://');
  }
  if (parsed.search || parsed.hash) {
    throw new ConfigError('PUBLIC_URL', 'must not have a query or fragment');
  }

  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const facebookGraphUrl = (env.FACEBOOK_GRAPH_URL?.trim() || 'https://graph.facebook.com').replace(
    /\/+$/,
    '',
  );
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(facebookGraphUrl)) {
    throw new ConfigError('FACEBOOK_GRAPH_URL', `"${facebookGraphUrl}" is not an http(s) URL`);
  }
  const facebookGraphVersion = env.FACEBOOK_GRAPH_VERSION?.trim() || 'v24.0';
  if (!/^v\d{1,3}\.\d{1,2}$/.test(facebookGraphVersion)) {
    throw new ConfigError('FACEBOOK_GRAPH_VERSION', 'must look like v24.0');
  }
  const secretKey = env.SECRET_KEY?.trim() || null;

  return {
    port,
    host,
    databaseUrl,
    publicUrl,
    allowSignup: boolean(env, 'ALLOW_SIGNUP', true),
    trustProxy: boolean(env, 'TRUST_PROXY', false),
    logLevel,
    dedupWindowSeconds: integer(env, 'DEDUP_WINDOW_SECONDS', 60, 1, 86_400),
    sessionDays: integer(env, 'SESSION_DAYS', 30, 1, 365),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 500),
    databaseConnectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
    databaseQueryTimeoutMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', 30_000, 100, 3_600_000),
    logRetentionDays: integer(env, 'LOG_RETENTION_DAYS', 90, 0, 36_500),
    maxInFlight: integer(env, 'MAX_IN_FLIGHT', 1024, 1, 1_000_000),
    dataDir: env.DATA_DIR?.trim() || './data',
    secretKey,
    facebookGraphUrl,
    facebookGraphVersion,
    allowPrivateWebhooks: boolean(env, 'ALLOW_PRIVATE_WEBHOOKS', false),
    forward: {
      timeoutMs: integer(env, 'FORWARD_TIMEOUT_MS', 10_000, 100, 120_000),
      retryBaseMs: integer(env, 'FORWARD_RETRY_BASE_MS', 10_000, 10, 3_600_000),
      maxAttempts: integer(env, 'FORWARD_MAX_ATTEMPTS', 12, 1, 100),
      maxAgeMs: integer(env, 'FORWARD_MAX_AGE_HOURS', 72, 1, 24 * 30) * 3600 * 1000,
      concurrency: integer(env, 'FORWARD_CONCURRENCY', 4, 1, 256),
      pollMs: integer(env, 'FORWARD_POLL_MS', 1000, 10, 60_000),
    },
  };
}
