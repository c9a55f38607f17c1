// The one interface every storage engine implements. The domain and routes
// speak only this; SQL lives in the adapters (sqlite/, postgres/).
import type { CountAttempt } from '../domain/events.js';
import type { DestinationSettings, Subject } from '../domain/forwarding.js';
import type { Network, NetworkMacros } from '../domain/presets.js';
import type { DeliveryFacts } from '../domain/source-health.js';
import type { DayBucket } from '../domain/time-range.js';

export interface User {
  id: string;
  email: string;
}

export interface Workspace {
  id: string;
  name: string;
}

export interface Account {
  user: User;
  workspace: Workspace;
}

export interface ApiKey {
  id: string;
  name: string;
  /** The first characters of the key, to tell keys apart in a list. */
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface Campaign {
  id: string;
  workspaceId: string;
  slug: string;
  name: string;
  description: string;
  buyer: string;
  destinationUrl: string;
  createdAt: number;
}

export interface CampaignInput {
  name: string;
  description: string;
  buyer: string;
  destinationUrl: string;
}

export interface PostbackConfig {
  id: string;
  workspaceId: string;
  token: string;
  name: string;
  network: Network;
  campaignId: string | null;
  clickidParam: string;
  currency: string;
  macros: NetworkMacros;
  enabled: boolean;
  deleted: boolean;
  createdAt: number;
}

export interface PostbackInput {
  name: string;
  network: Network;
  campaignId: string | null;
  clickidParam: string;
  currency: string;
  macros: NetworkMacros;
  enabled: boolean;
}

export interface Lead {
  id: string;
  workspaceId: string;
  clickid: string;
  campaignId: string | null;
  externalId: string | null;
  username: string | null;
  params: Record<string, string>;
  createdAt: number;
}

export interface Conversion {
  id: string;
  event: string;
  micros: bigint | null;
  currency: string;
  tid: string | null;
  postbackId: string | null;
  at: number;
}

export interface CurrencyTotals {
  currency: string;
  depositMicros: bigint;
  withdrawalMicros: bigint;
}

export interface LeadDetail extends Lead {
  fields: Record<string, string>;
  events: Conversion[];
  totals: CurrencyTotals[];
}

export interface LeadSummary extends Lead {
  registered: boolean;
  firstDepositMicros: bigint | null;
  firstDepositCurrency: string | null;
  depositCount: number;
  lastEventAt: number | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface NewClick {
  campaign: Campaign;
  params: Record<string, string>;
  ip: string | null;
  userAgent: string | null;
  referrer: string | null;
  at: number;
  newClickid: () => string;
}

export interface NewLead {
  campaignId: string | null;
  externalId: string | null;
  username: string | null;
  params: Record<string, string>;
  at: number;
  newClickid: () => string;
}

/** What the postback log keeps of one inbound request. */
export interface LogRequest {
  postbackId: string;
  workspaceId: string;
  at: number;
  method: string;
  url: string;
  ip: string | null;
  userAgent: string | null;
  body: string | null;
}

export interface LogOutcome {
  httpStatus: number;
  status: string;
  error: string | null;
  event: string | null;
  clickid: string | null;
  conversionId: string | null;
}

export interface RecordEvent {
  workspaceId: string;
  /** A campaign-scoped postback configuration only matches that campaign's leads. */
  scopeCampaignId: string | null;
  clickid: string;
  postbackId: string | null;
  plan: CountAttempt[];
  micros: bigint | null;
  currency: string;
  tid: string | null;
  fields: Record<string, string>;
  at: number;
  /** Fingerprint window for events without a transaction id. */
  windowMs: number;
  /** Written in the same transaction as the conversion. */
  log: LogRequest | null;
  /** Text for the log's error column when the postback succeeded with a note. */
  note: string | null;
}

export type RecordOutcome =
  | { status: 'recorded' | 'duplicate'; event: string; conversionId: string; leadId: string }
  | { status: 'unmatched'; reason: 'unknown_clickid' | 'campaign_mismatch' };

export interface LogEntry extends LogOutcome {
  id: string;
  at: number;
  postbackId: string;
  method: string;
  url: string;
  ip: string | null;
  userAgent: string | null;
  body: string | null;
  /**
   * The amount of the conversion conversionId names (for a duplicate, the one
   * it repeats), read when the log is: null without a conversion or an amount.
   */
  micros: bigint | null;
  /** That amount's currency; null when micros is. */
  currency: string | null;
}

export interface LogFilter {
  postbackId?: string;
  status?: string;
  q?: string;
  limit: number;
  cursor?: string;
}

export type StatsGroup = 'day' | 'campaign' | 'postback' | 'network' | 'buyer' | `param.${string}`;

export interface StatsQuery {
  groupBy: StatsGroup;
  fromMs: number;
  toMs: number;
  /** For `day`: the local days of the range. */
  buckets: DayBucket[];
  campaignId?: string;
  /**
   * Money sums count only this currency; counts count every conversion.
   * null: the currency most used in the range (USD when there is none).
   */
  currency: string | null;
}

export interface StatsRow {
  key: string;
  label: string;
  clicks: number;
  leads: number;
  registrations: number;
  firstDeposits: number;
  firstDepositMicros: bigint;
  deposits: number;
  depositMicros: bigint;
  withdrawalMicros: bigint;
}

/** A group with nothing in it yet. */
export function emptyStatsRow(key: string, label: string): StatsRow {
  return {
    key,
    label,
    clicks: 0,
    leads: 0,
    registrations: 0,
    firstDeposits: 0,
    firstDepositMicros: 0n,
    deposits: 0,
    depositMicros: 0n,
    withdrawalMicros: 0n,
  };
}

/** A Facebook pixel, a webhook or an auto action of one campaign. */
export interface Destination {
  id: string;
  workspaceId: string;
  campaignId: string;
  name: string;
  enabled: boolean;
  settings: DestinationSettings;
  /** The encrypted access token or signing secret; never leaves the server. */
  secret: string | null;
  createdAt: number;
  updatedAt: number;
  deleted: boolean;
  /** Counts the changes made to it; updateDestination's ifRevision checks it. */
  revision: number;
}

export interface DestinationInput {
  name: string;
  enabled: boolean;
  settings: DestinationSettings;
  secret: string | null;
  /** The events that reach it (domain/forwarding.ts routeEvents). */
  routes: string[];
}

export interface PrunedLogs {
  postbackLogs: number;
  deliveries: number;
}

export interface FinishedDelivery {
  outboxId: string;
  lease: DeliveryLease;
  attempt: DeliveryAttempt | null;
  outcome: DeliveryOutcome;
}

export type DeliveryStatus = 'delivered' | 'retrying' | 'failed' | 'expired' | 'skipped';

/**
 * The claim that holds an outbox row: its worker and when the lease ends. A
 * row claimed again (its lease ran out, or a user asked for a retry) has
 * another, and the older claim may no longer move it on.
 */
export interface DeliveryLease {
  owner: string;
  until: number;
}

/** One claimed outbox row with everything a forwarder needs to send it. */
export interface DeliveryJob {
  outboxId: string;
  lease: DeliveryLease;
  workspaceId: string;
  campaignId: string;
  campaignSlug: string;
  destination: Destination;
  subject: Subject;
  subjectId: string;
  event: string;
  occurrence: number;
  eventAt: number;
  /** Attempts made so far, and how many of them count towards the limit. */
  attempts: number;
  budgetAttempts: number;
  queuedAt: number;
  conversion: { micros: bigint | null; currency: string; tid: string | null } | null;
  lead: {
    clickid: string;
    externalId: string | null;
    username: string | null;
    params: Record<string, string>;
    createdAt: number;
  };
  click: {
    at: number;
    ip: string | null;
    userAgent: string | null;
    referrer: string | null;
    params: Record<string, string>;
  } | null;
  fields: Record<string, string>;
}

/** What one attempt did, for the source logs. */
export interface DeliveryAttempt {
  at: number;
  durationMs: number;
  destinationEvent: string | null;
  eventId: string;
  httpStatus: number | null;
  status: DeliveryStatus;
  error: string | null;
  request: string;
  response: string | null;
}

/** The outbox row after an attempt: done, or due again at `nextAt`. */
export type DeliveryOutcome =
  | { state: 'done'; status: 'delivered' | 'failed' | 'expired' | 'skipped' }
  | { state: 'retry'; nextAt: number };

export interface DeliveryEntry extends DeliveryAttempt {
  id: string;
  outboxId: string;
  campaignId: string;
  sourceId: string;
  sourceName: string;
  sourceType: string;
  event: string;
  attempt: number;
}

export interface ClaimInput {
  now: number;
  leaseUntil: number;
  /** The worker taking the rows (see forwarders/lease-owner.ts). */
  owner: string;
  limit: number;
  perDestination: number;
  perBatchedDestination: number;
  busy: string[];
}

export interface DeliveryFilter {
  sourceId?: string;
  campaignId?: string;
  event?: string;
  status?: string;
  limit: number;
  cursor?: string;
}

export interface Store {
  readonly engine: string;
  ping(): Promise<void>;
  close(): Promise<void>;

  createAccount(input: {
    email: string;
    passwordHash: string;
    workspaceName: string;
    at: number;
  }): Promise<Account | 'email_taken'>;
  findLogin(email: string): Promise<(Account & { passwordHash: string }) | null>;
  createSession(input: {
    tokenHash: string;
    userId: string;
    workspaceId: string;
    at: number;
    expiresAt: number;
  }): Promise<void>;
  findSession(tokenHash: string, now: number): Promise<Account | null>;
  deleteSession(tokenHash: string): Promise<void>;
  createApiKey(input: {
    workspaceId: string;
    userId: string;
    name: string;
    keyHash: string;
    prefix: string;
    at: number;
  }): Promise<ApiKey>;
  listApiKeys(workspaceId: string): Promise<ApiKey[]>;
  revokeApiKey(workspaceId: string, id: string, at: number): Promise<boolean>;
  /** The account behind a live API key; notes when it was last used. */
  findApiKey(keyHash: string, now: number): Promise<Account | null>;

  createCampaign(
    workspaceId: string,
    input: CampaignInput,
    slug: () => string,
    at: number,
  ): Promise<Campaign>;
  listCampaigns(workspaceId: string): Promise<Campaign[]>;
  getCampaign(workspaceId: string, id: string): Promise<Campaign | null>;
  updateCampaign(
    workspaceId: string,
    id: string,
    patch: Partial<CampaignInput>,
  ): Promise<Campaign | null>;
  deleteCampaign(workspaceId: string, id: string, at: number): Promise<boolean>;
  /** Public click route: by slug or id, never a deleted one. */
  findCampaignForClick(slugOrId: string): Promise<Campaign | null>;

  recordClick(click: NewClick): Promise<Lead>;
  createLead(workspaceId: string, lead: NewLead): Promise<Lead>;
  bindLead(
    workspaceId: string,
    clickid: string,
    /** `at`: when the bot reported it; a first binding is the lead's `contact` event. */
    bind: { externalId: string | null; username: string | null; at?: number },
  ): Promise<Lead | 'not_found' | 'bound_elsewhere'>;
  getLead(workspaceId: string, clickid: string): Promise<LeadDetail | null>;
  listLeads(
    workspaceId: string,
    filter: { campaignId?: string; q?: string; limit: number; cursor?: string },
  ): Promise<Page<LeadSummary>>;

  createPostback(
    workspaceId: string,
    input: PostbackInput,
    token: string,
    at: number,
  ): Promise<PostbackConfig>;
  listPostbacks(workspaceId: string): Promise<PostbackConfig[]>;
  getPostback(workspaceId: string, id: string): Promise<PostbackConfig | null>;
  updatePostback(
    workspaceId: string,
    id: string,
    patch: Partial<PostbackInput>,
  ): Promise<PostbackConfig | null>;
  deletePostback(workspaceId: string, id: string, at: number): Promise<boolean>;
  /** Inbound route: deleted configurations too, so their calls are still logged. */
  findPostbackByToken(token: string): Promise<PostbackConfig | null>;

  /** Counts one event by its plan, writes fields and the log row, in one transaction. */
  recordEvent(input: RecordEvent): Promise<RecordOutcome>;
  /** A log row for a request that was answered without touching a lead. */
  appendPostbackLog(request: LogRequest, outcome: LogOutcome): Promise<void>;
  listPostbackLogs(workspaceId: string, filter: LogFilter): Promise<Page<LogEntry>>;

  createDestination(
    workspaceId: string,
    campaignId: string,
    input: DestinationInput,
    at: number,
  ): Promise<Destination>;
  listDestinations(workspaceId: string, campaignId: string): Promise<Destination[]>;
  getDestination(workspaceId: string, id: string): Promise<Destination | null>;
  /**
   * Replaces its settings, only if no other change has been made since it was
   * read at `ifRevision`: otherwise 'stale', and nothing is written.
   */
  updateDestination(
    workspaceId: string,
    id: string,
    input: DestinationInput,
    at: number,
    ifRevision: number,
  ): Promise<Destination | null | 'stale'>;
  deleteDestination(workspaceId: string, id: string, at: number): Promise<boolean>;

  /**
   * Leases due outbox rows (at most `perDestination` per destination, or
   * `perBatchedDestination` for a Facebook pixel, whose events go out in
   * batches; none of `busy`) until `leaseUntil`; other workers skip them until then.
   */
  claimDeliveries(input: ClaimInput): Promise<DeliveryJob[]>;
  /**
   * Logs the attempt and moves the outbox row on, in one transaction, if
   * `lease` still holds the row; false if it does not (the lease ran out and
   * the row was claimed again, or a retry was asked for): then the attempt is
   * logged and counted, and the row is left to its holder.
   */
  finishDelivery(
    outboxId: string,
    lease: DeliveryLease,
    attempt: DeliveryAttempt | null,
    outcome: DeliveryOutcome,
  ): Promise<boolean>;
  /**
   * finishDelivery for several rows (a request that carried them all), in one
   * transaction: a Facebook request of 100 events is one commit, not 100.
   * Returns the rows their leases no longer held.
   */
  finishDeliveries(finished: FinishedDelivery[]): Promise<string[]>;
  /**
   * Log retention: of the `limit` oldest postback-log rows and the `limit`
   * oldest delivery attempts (by id, the order they were written), deletes
   * those written before `before`. Counted events, clicks, leads and the
   * outbox are never pruned. Returns how many rows of each went; none means
   * the oldest rows are younger than `before`.
   */
  pruneLogs(before: number, limit: number): Promise<PrunedLogs>;
  /**
   * Frees the leases of the owners `isGone` says are gone (a server stopped
   * by kill -9 or a crash), so their rows are sent again now rather than when
   * the leases run out; answers how many rows were freed. Leases of other
   * owners, live processes among them, are left alone.
   */
  releaseDeliveryLeases(isGone: (owner: string) => boolean): Promise<number>;
  listDeliveries(workspaceId: string, filter: DeliveryFilter): Promise<Page<DeliveryEntry>>;
  /**
   * What the delivery log and outbox say of each destination, in the order
   * given (domain/source-health.ts): the ids come from a read already scoped
   * to a workspace. Each costs a few index steps and at most HEALTH_WINDOW
   * log rows and PENDING_LIMIT index entries, however long its log is.
   */
  destinationHealth(destinationIds: string[]): Promise<DeliveryFacts[]>;
  /**
   * The workspace's enabled destinations, of campaigns not deleted, whose
   * newest attempt (delivered, retrying or failed; skipped and expired events
   * are not attempts) failed: the only ones whose health can be failing, so
   * a workspace-wide check reads destinationHealth for these alone. Costs one
   * step into the delivery log's index per destination of the workspace.
   * Ordered by campaign, then destination.
   */
  listDestinationsLastFailed(workspaceId: string): Promise<Destination[]>;
  /**
   * Queues a delivery's event again now, with a fresh attempt budget; answers
   * its outbox row. 'in_flight': an attempt holds the row's lease right now,
   * and nothing is changed (its outcome decides; a retry is asked again after).
   */
  retryDelivery(
    workspaceId: string,
    deliveryId: string,
    now: number,
  ): Promise<string | null | 'in_flight'>;
  /** Called after a commit that queued deliveries, so the worker need not wait for its next poll. */
  onOutbox(listener: () => void): void;
  /** Rows of the outbox by status, for tests, health and the UI. */
  outboxCounts(workspaceId: string | null): Promise<Record<string, number>>;

  stats(
    workspaceId: string,
    query: StatsQuery,
  ): Promise<{ rows: StatsRow[]; currency: string; currencies: string[] }>;
}

/**
 * A write the store refuses for what it asks, not for the state of the
 * database: answered with a 400 and this code, and not retried.
 */
export class StoreRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
