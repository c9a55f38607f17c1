// The /api/v1 client: same-origin fetch with the session cookie, typed answers,
// and one error type carrying the API's {error:{code,message}}.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
let onUnauthorized: Listener = () => {};
/** Called when a request answers 401: the session ended elsewhere. */
export function setUnauthorizedHandler(listener: Listener): void {
  onUnauthorized = listener;
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, 'network_error', 'The server cannot be reached. Check your connection.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page: report the status below.
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    if (response.status === 401 && !path.startsWith('/auth/')) onUnauthorized();
    throw new ApiError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? `The server answered ${response.status} ${response.statusText}`,
    );
  }
  return json as T;
}

export const get = <T>(path: string, query?: Query, signal?: AbortSignal) =>
  api<T>('GET', withQuery(path, query), undefined, signal);

/**
 * The fields of a form's `next` values that differ from what was loaded: what
 * an edit form PATCHes, so a change someone else made meanwhile to a field
 * this form left alone is kept rather than written back over.
 */
export function changedFields<T extends Record<string, unknown>>(
  loaded: object,
  next: T,
): Partial<T> {
  const before = loaded as Record<string, unknown>;
  const changed: Partial<T> = {};
  for (const key of Object.keys(next) as Array<keyof T & string>) {
    if (JSON.stringify(next[key]) !== JSON.stringify(before[key])) changed[key] = next[key];
  }
  return changed;
}

// ---- Shapes of API.md (see src/routes/api/v1/present.ts) ----

export interface User {
  id: string;
  email: string;
}
export interface Workspace {
  id: string;
  name: string;
}
export interface Me {
  user: User;
  workspace: Workspace;
}

export interface Campaign {
  id: string;
  name: string;
  description: string;
  buyer: string;
  destinationUrl: string;
  slug: string;
  clickUrl: string;
  createdAt: string;
}

export type Network = '1win' | 'binomo' | 'pocket_option' | 'custom';
export const NETWORKS: Network[] = ['1win', 'binomo', 'pocket_option', 'custom'];

export interface Macros {
  clickid?: string;
  amount?: string;
  currency?: string;
  tid?: string;
}

export interface Postback {
  id: string;
  name: string;
  network: Network;
  campaignId: string | null;
  clickidParam: string;
  currency: string;
  macros: Macros;
  enabled: boolean;
  token: string;
  links: Record<string, string>;
  createdAt: string;
}

export interface LeadEvent {
  id: string;
  event: string;
  amount: string | null;
  currency: string | null;
  tid: string | null;
  postbackId: string | null;
  at: string;
}

export interface Totals {
  deposits: string;
  withdrawals: string;
  balance: string;
  currency: string | null;
}

export interface Lead {
  clickid: string;
  campaignId: string | null;
  externalId: string | null;
  username: string | null;
  params: Record<string, string>;
  fields: Record<string, string>;
  createdAt: string;
  events: LeadEvent[];
  totals: Totals;
  totalsByCurrency?: Totals[];
}

export interface LeadSummary {
  clickid: string;
  campaignId: string | null;
  externalId: string | null;
  username: string | null;
  params: Record<string, string>;
  createdAt: string;
  registered: boolean;
  firstDeposit: { amount: string | null; currency: string | null } | null;
  depositCount: number;
  lastEventAt: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type LogStatus = 'recorded' | 'duplicate' | 'unmatched' | 'rejected';
export const LOG_STATUSES: LogStatus[] = ['recorded', 'duplicate', 'unmatched', 'rejected'];

export interface LogEntry {
  id: string;
  at: string;
  postbackId: string | null;
  method: string;
  url: string;
  ip: string | null;
  userAgent: string | null;
  body: string | null;
  httpStatus: number;
  status: string;
  error: string | null;
  event: string | null;
  clickid: string | null;
  conversionId: string | null;
  /** The amount of that conversion (for a duplicate, of the one it repeats), exact. */
  amount: string | null;
  currency: string | null;
}

export interface StatsRow {
  key: string;
  label?: string;
  clicks: number;
  leads: number;
  registrations: number;
  firstDeposits: number;
  firstDepositAmount: string;
  deposits: number;
  depositAmount: string;
  totalDepositAmount?: string;
  withdrawalAmount: string;
}

export interface Stats {
  from: string;
  to: string;
  tz: string;
  groupBy: string;
  currency: string;
  currencies?: string[];
  rows: StatsRow[];
  totals: StatsRow;
}

export interface EventAnswer {
  ok: boolean;
  status: 'recorded' | 'duplicate' | 'unmatched';
  event: string;
  clickid: string;
  conversionId: string | null;
}

// ---- Forwarding: sources, auto actions, deliveries ----

/**
 * Whether a source's events get through, from its delivery log. failing: its
 * last 3+ attempts failed with nothing delivered since, refused for good or
 * retried for 15 minutes; idle: nothing sent yet; paused: disabled.
 */
export interface SourceHealth {
  state: 'ok' | 'failing' | 'idle' | 'paused';
  lastDeliveredAt: string | null;
  failedInARow: number;
  failingSince: string | null;
  lastFailedAt: string | null;
  lastError: string | null;
  pending: number;
}

interface SourceBase {
  id: string;
  campaignId: string;
  name: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  health: SourceHealth;
}

export interface FacebookSource extends SourceBase {
  type: 'facebook';
  pixelId: string;
  testEventCode: string | null;
  /** Our event (or `deposit#N`) → Facebook's event name; unmapped events are not sent. */
  mapping: Record<string, string>;
  actionSource: string;
  hasAccessToken: boolean;
}

export interface WebhookSource extends SourceBase {
  type: 'webhook';
  url: string;
  method: 'GET' | 'POST';
  /** Empty: every conversion event. */
  events: string[];
  hasSecret: boolean;
}

export type Source = FacebookSource | WebhookSource;

export interface AutoAction {
  id: string;
  campaignId: string;
  event: string;
  url: string;
  payload: Record<string, unknown>;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export type DeliveryStatus = 'delivered' | 'retrying' | 'failed' | 'expired' | 'skipped';
export const DELIVERY_STATUSES: DeliveryStatus[] = [
  'delivered',
  'retrying',
  'failed',
  'expired',
  'skipped',
];

export interface Delivery {
  id: string;
  at: string;
  outboxId: string;
  campaignId: string;
  /** For an auto action: the auto action's id. */
  sourceId: string;
  sourceName: string;
  sourceType: 'facebook' | 'webhook' | 'auto_action';
  event: string;
  destinationEvent: string | null;
  eventId: string;
  attempt: number;
  httpStatus: number | null;
  status: DeliveryStatus;
  error: string | null;
  request: string;
  response: string | null;
  durationMs: number;
}
