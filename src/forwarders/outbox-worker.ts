// The delivery worker: leases due outbox rows, sends each to its destination,
// logs the attempt and either closes the row or schedules it again with
// backoff. Runs in the server process; a row survives any restart because it
// is only closed after its attempt is logged.
import type { Config } from '../config.js';
import { eventId, isRetryableStatus, type RetryPolicy, retryDelay } from '../domain/forwarding.js';
import type { DeliveryAttempt, DeliveryJob, FinishedDelivery, Store } from '../store/store.js';
import {
  FACEBOOK_BATCH,
  type FacebookContext,
  type FacebookEvent,
  facebookBatch,
  facebookErrorText,
  facebookEvent,
  isTransientFacebookError,
  refusesAnEvent,
} from './facebook.js';
import { leaseOwnerIsGone, newLeaseOwner, releaseLeaseOwner } from './lease-owner.js';
import { type PreparedDelivery, requestLogText, send } from './outbound-http.js';
import type { SecretBox } from './secret-box.js';
import { autoActionRequest, webhookRequest } from './webhook.js';

interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WorkerDeps {
  store: Store;
  config: Config;
  secrets: SecretBox;
  now: () => number;
  log: Log;
  random?: () => number;
}

/** Outbox rows being delivered by one process, across destinations. */
const MAX_ROWS_IN_FLIGHT = 1_000;
/**
 * A leased row is left alone by other workers (and by this one's next
 * claims) for at least this long, and longer with a longer timeout: see
 * leaseMs.
 */
const MIN_LEASE_MS = 120_000;
/** Past the attempt's own time: writing its log row, a slow event loop. */
const LEASE_MARGIN_MS = 60_000;
const MAX_DELAY_MS = 3_600_000;
/**
 * While deliveries are under way, claims start at most this often. Under load
 * every group commit wakes the worker; a claim per commit sent Facebook about
 * 20 events a request and cost the server more than the sending. Waiting a
 * little makes each claim, and each request, carry more (up to
 * FACEBOOK_BATCH). With nothing in flight, a new event is claimed at once.
 */
const MIN_CLAIM_INTERVAL_MS = 25;
/** Bytes of a response kept in the source logs. */
const ERROR_TEXT_LIMIT = 500;

type SentAlone = Extract<PreparedDelivery, { kind: 'send' }>;

/** A job about to go out: its Facebook event (JSON), or its own request. */
interface Sendable {
  job: DeliveryJob;
  destinationEvent: string | null;
  payload: string;
  single: SentAlone | null;
}

export class OutboxWorker {
  private readonly inflight = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly running = new Set<Promise<void>>();
  private rowsInFlight = 0;
  private readonly policy: RetryPolicy;
  private stopped = true;
  private ticking = false;
  private again = false;
  private poll: NodeJS.Timeout | null = null;
  /** When the last claim started (performance.now()). */
  private lastClaim = Number.NEGATIVE_INFINITY;
  /** The claim waiting for its turn (see MIN_CLAIM_INTERVAL_MS), and the one running. */
  private claimTimer: NodeJS.Timeout | null = null;
  private claiming: Promise<unknown> | null = null;

  /**
   * How long a claimed row stays leased. An attempt may wait up to one
   * timeout for a slot to its destination (a claim takes no rows for a
   * destination already at its concurrency, so at most one round waits),
   * then take one timeout to be answered. A lease that ran out before the
   * attempt ended would let the row be claimed and sent again.
   */
  private readonly leaseMs: number;
  /** Written on every row this worker leases (see lease-owner.ts). */
  readonly owner = newLeaseOwner();

  constructor(private readonly deps: WorkerDeps) {
    const f = deps.config.forward;
    this.leaseMs = Math.max(MIN_LEASE_MS, 2 * f.timeoutMs + LEASE_MARGIN_MS);
    this.policy = {
      baseMs: f.retryBaseMs,
      maxDelayMs: Math.max(f.retryBaseMs, MAX_DELAY_MS),
      maxAttempts: f.maxAttempts,
      maxAgeMs: f.maxAgeMs,
    };
    deps.store.onOutbox(() => this.wake());
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.poll = setInterval(() => this.wake(), this.deps.config.forward.pollMs);
    this.poll.unref();
    this.wake();
  }

  /** Looks for due work now rather than at the next poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    const claim = () => {
      this.claimTimer = null;
      if (this.stopped) {
        this.ticking = false;
        return;
      }
      this.lastClaim = performance.now();
      this.claiming = this.claimAndDispatch()
        .catch((error: unknown) => this.deps.log.error({ err: error }, 'outbox: claim failed'))
        .finally(() => {
          this.claiming = null;
          this.ticking = false;
          if (this.again) {
            this.again = false;
            this.wake();
          }
        });
    };
    const wait =
      this.rowsInFlight > 0 ? this.lastClaim + MIN_CLAIM_INTERVAL_MS - performance.now() : 0;
    this.claimTimer = setTimeout(claim, Math.max(0, wait));
  }

  /** Stops claiming; waits (up to `graceMs`) for attempts in flight to be logged. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    if (this.claimTimer) {
      clearTimeout(this.claimTimer);
      this.claimTimer = null;
      this.ticking = false;
      this.again = false;
    }
    // A claim under way finishes first: the deliveries it starts are waited for too.
    if (this.claiming) await this.claiming;
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.running]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    // Attempts still under way keep their leases, and this owner counts as live.
    if (this.running.size === 0) releaseLeaseOwner(this.owner);
  }

  /**
   * Frees the leases of workers that are gone (a server killed mid-attempt),
   * so their events are sent again now instead of when the leases run out
   * (same event ids). A live server's leases are left to it.
   */
  releaseGoneLeases(): Promise<number> {
    return this.deps.store.releaseDeliveryLeases((owner) => leaseOwnerIsGone(owner));
  }

  /** One claim and every delivery it started, awaited: for tests and tools. */
  async runOnce(): Promise<number> {
    const started = await this.claimAndDispatch();
    await Promise.allSettled([...this.running]);
    return started;
  }

  /** Runs until nothing is due at the current time. */
  async drain(maxRounds = 100): Promise<number> {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      const n = await this.runOnce();
      if (n === 0) break;
      total += n;
    }
    return total;
  }

  private async claimAndDispatch(): Promise<number> {
    const free = MAX_ROWS_IN_FLIGHT - this.rowsInFlight;
    if (free <= 0) return 0;
    const concurrency = this.deps.config.forward.concurrency;
    const busy = [...this.inflight].filter(([, n]) => n >= concurrency).map(([id]) => id);
    const now = this.deps.now();
    const jobs = await this.deps.store.claimDeliveries({
      now,
      leaseUntil: now + this.leaseMs,
      owner: this.owner,
      limit: free,
      perDestination: concurrency,
      perBatchedDestination: concurrency * FACEBOOK_BATCH,
      busy,
    });
    // Facebook events to one pixel travel together, up to FACEBOOK_BATCH a request.
    const groups: DeliveryJob[][] = [];
    const pixels = new Map<string, DeliveryJob[]>();
    for (const job of jobs) {
      if (job.destination.settings.kind !== 'facebook') {
        groups.push([job]);
        continue;
      }
      let group = pixels.get(job.destination.id);
      if (!group || group.length >= FACEBOOK_BATCH) {
        group = [];
        pixels.set(job.destination.id, group);
        groups.push(group);
      }
      group.push(job);
    }
    for (const group of groups) {
      const first = group[0] as DeliveryJob;
      this.rowsInFlight += group.length;
      const run = this.limited(first.destination.id, () => this.deliver(group))
        .catch((error: unknown) =>
          this.deps.log.error(
            { err: error, outboxIds: group.map((j) => j.outboxId) },
            'outbox: delivery failed',
          ),
        )
        .finally(() => {
          this.rowsInFlight -= group.length;
          this.running.delete(run);
          if (!this.stopped) this.wake();
        });
      this.running.add(run);
    }
    return jobs.length;
  }

  /** At most `concurrency` requests to one destination at a time. */
  private async limited(destinationId: string, fn: () => Promise<void>): Promise<void> {
    const limit = this.deps.config.forward.concurrency;
    if ((this.inflight.get(destinationId) ?? 0) >= limit) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(destinationId) ?? [];
        queue.push(resolve);
        this.waiting.set(destinationId, queue);
      });
    }
    this.inflight.set(destinationId, (this.inflight.get(destinationId) ?? 0) + 1);
    try {
      await fn();
    } finally {
      const left = (this.inflight.get(destinationId) ?? 1) - 1;
      if (left === 0) this.inflight.delete(destinationId);
      else this.inflight.set(destinationId, left);
      const next = this.waiting.get(destinationId)?.shift();
      if (next) next();
      else this.waiting.delete(destinationId);
    }
  }

  private facebookContext(): FacebookContext {
    const { config, now } = this.deps;
    return {
      graphUrl: config.facebookGraphUrl,
      graphVersion: config.facebookGraphVersion,
      publicUrl: config.publicUrl,
      now: now(),
    };
  }

  /**
   * Jobs of one destination (several only for a Facebook pixel): the ones
   * that cannot or need not be sent are closed at once, the rest go out
   * together (see sendTogether).
   */
  private async deliver(jobs: DeliveryJob[]): Promise<void> {
    const { store, now, secrets } = this.deps;
    const at = now();
    const destination = (jobs[0] as DeliveryJob).destination;
    const settings = destination.settings;
    const attemptOf = (
      job: DeliveryJob,
      status: DeliveryAttempt['status'],
      fields: Partial<DeliveryAttempt>,
    ): DeliveryAttempt => ({
      at,
      durationMs: 0,
      destinationEvent: null,
      eventId: eventId(job.subject, job.subjectId),
      httpStatus: null,
      status,
      error: null,
      request: '',
      response: null,
      ...fields,
    });
    const close = async (
      job: DeliveryJob,
      status: 'delivered' | 'failed' | 'expired' | 'skipped',
      fields: Partial<DeliveryAttempt>,
    ) => {
      const moved = await store.finishDelivery(
        job.outboxId,
        job.lease,
        attemptOf(job, status, fields),
        { state: 'done', status },
      );
      if (!moved) this.leaseLost([job.outboxId], destination.id);
    };
    const closeAll = (status: 'failed' | 'skipped', error: string) =>
      Promise.all(jobs.map((job) => close(job, status, { error })));

    if (destination.deleted || !destination.enabled) {
      await closeAll(
        'skipped',
        destination.deleted ? 'the source was deleted' : 'the source is disabled',
      );
      return;
    }
    let secret: string | null = null;
    if (destination.secret !== null) {
      try {
        secret = secrets.decrypt(destination.secret);
      } catch {
        await closeAll('failed', 'the stored secret cannot be decrypted: was SECRET_KEY changed?');
        return;
      }
    }
    if (settings.kind === 'facebook' && secret === null) {
      await closeAll('failed', 'no access token');
      return;
    }

    // What each job becomes; the ones not sent are closed here.
    const sendable: Sendable[] = [];
    const tooOld = (job: DeliveryJob) => at - job.queuedAt > this.policy.maxAgeMs;
    const giveUp = `gave up: queued more than ${Math.round(this.policy.maxAgeMs / 3_600_000)} h ago`;
    for (const job of jobs) {
      let prepared: PreparedDelivery | FacebookEvent;
      if (settings.kind === 'facebook')
        prepared = facebookEvent(job, settings.facebook, this.facebookContext());
      else if (settings.kind === 'webhook')
        prepared = webhookRequest(job, settings.webhook, secret);
      else prepared = autoActionRequest(job, settings.autoAction);

      if (prepared.kind === 'skip' || prepared.kind === 'expire' || prepared.kind === 'fail') {
        const status =
          prepared.kind === 'skip' ? 'skipped' : prepared.kind === 'expire' ? 'expired' : 'failed';
        await close(job, status, {
          destinationEvent: prepared.destinationEvent,
          error: prepared.reason,
        });
        continue;
      }
      const destinationEvent =
        prepared.kind === 'event' ? prepared.eventName : prepared.destinationEvent;
      if (tooOld(job)) {
        await close(job, 'failed', { destinationEvent, error: giveUp });
        continue;
      }
      sendable.push({
        job,
        destinationEvent,
        payload: prepared.kind === 'event' ? prepared.json : '',
        single: prepared.kind === 'send' ? prepared : null,
      });
    }
    if (sendable.length === 0) return;
    await this.sendTogether(sendable, { destination, secret, at, attemptOf });
  }

  /**
   * One request for these jobs, each job's row moved on by its answer. A
   * Facebook request refused for what one of its events holds (Facebook
   * refuses the whole request for one invalid event) is sent again in halves,
   * down to that event alone: only it fails, and no event was delivered by
   * the refused request, so none is sent twice.
   */
  private async sendTogether(
    sendable: Sendable[],
    ctx: {
      destination: DeliveryJob['destination'];
      secret: string | null;
      at: number;
      attemptOf: (
        job: DeliveryJob,
        status: DeliveryAttempt['status'],
        fields: Partial<DeliveryAttempt>,
      ) => DeliveryAttempt;
    },
  ): Promise<void> {
    const { store, config } = this.deps;
    const { destination, secret, at, attemptOf } = ctx;
    const settings = destination.settings;
    let request: SentAlone['request'];
    let logText: (i: number) => string;
    if (settings.kind === 'facebook') {
      const batch = facebookBatch(
        sendable.map((s) => s.payload),
        settings.facebook,
        secret as string,
        this.facebookContext(),
      );
      request = batch.request;
      const n = sendable.length;
      logText = (i) =>
        n === 1
          ? requestLogText('POST', batch.loggedUrl, request.body)
          : requestLogText(
              'POST',
              batch.loggedUrl,
              `${sendable[i]?.payload ?? ''}\n\n(event ${i + 1} of ${n} in this request)`,
            );
    } else {
      const prepared = sendable[0]?.single as SentAlone;
      request = prepared.request;
      logText = () => prepared.logText;
    }

    const isFacebook = settings.kind === 'facebook';
    const response = await send({
      ...request,
      timeoutMs: config.forward.timeoutMs,
      // The Graph URL is the operator's setting; only user-given URLs are checked.
      allowPrivate: isFacebook || config.allowPrivateWebhooks,
    });
    const ok = response.status !== null && response.status >= 200 && response.status < 300;
    const error = ok
      ? null
      : (response.error ??
        `HTTP ${response.status}${response.body ? `: ${(isFacebook && facebookErrorText(response.body)) || response.body.slice(0, ERROR_TEXT_LIMIT)}` : ''}`);
    const retryable =
      !ok &&
      !response.privateAddress &&
      (response.status === null ||
        isRetryableStatus(response.status) ||
        (isFacebook && isTransientFacebookError(response.body)));
    const random = this.deps.random ?? Math.random;
    // Halving ends within half the rows' lease: no other claim can take a
    // row while a part of the request that holds it is still to be sent.
    const split =
      isFacebook &&
      !ok &&
      !retryable &&
      sendable.length > 1 &&
      refusesAnEvent(response.body) &&
      this.deps.now() - at < this.leaseMs / 2;
    if (split) {
      const half = Math.ceil(sendable.length / 2);
      await this.sendTogether(sendable.slice(0, half), ctx);
      await this.sendTogether(sendable.slice(half), ctx);
      return;
    }

    // The request's events are logged and moved on in one transaction.
    const lost = await store.finishDeliveries(
      sendable.map(({ job, destinationEvent }, i): FinishedDelivery => {
        const fields = {
          destinationEvent,
          request: logText(i),
          httpStatus: response.status,
          response: response.body,
          durationMs: response.durationMs,
        };
        const done = (status: 'delivered' | 'failed', extra: Partial<DeliveryAttempt> = {}) => ({
          outboxId: job.outboxId,
          lease: job.lease,
          attempt: attemptOf(job, status, { ...fields, ...extra }),
          outcome: { state: 'done' as const, status },
        });
        if (ok) return done('delivered');
        const attemptsUsed = job.budgetAttempts + 1;
        if (!retryable || attemptsUsed >= this.policy.maxAttempts) {
          const why = retryable
            ? `gave up after ${attemptsUsed} attempts: ${error}`
            : (error as string);
          this.deps.log.warn(
            { outboxId: job.outboxId, destination: destination.id, error: why },
            'outbox: delivery failed for good',
          );
          return done('failed', { error: why });
        }
        const nextAt = at + retryDelay(this.policy, attemptsUsed, random());
        return {
          outboxId: job.outboxId,
          lease: job.lease,
          attempt: attemptOf(job, 'retrying', { ...fields, error }),
          outcome: { state: 'retry', nextAt },
        };
      }),
    );
    if (lost.length > 0) this.leaseLost(lost, destination.id);
  }

  /**
   * Rows whose leases ran out while their attempt was under way (an event
   * loop stalled for minutes, a database out of reach) and that were claimed
   * again, or retried by a user: the attempt is logged, the row is its new
   * holder's.
   */
  private leaseLost(outboxIds: string[], destinationId: string): void {
    this.deps.log.warn(
      { outboxIds, destination: destinationId },
      'outbox: a lease ran out before its attempt ended; the attempt is logged, the row is left to its new holder',
    );
  }
}
