// The delivery worker: leases due outbox rows, sends each to its destination,
// logs the attempt and either closes the row or schedules it again with
// backoff. Runs in the server process; a row survives any restart because it
// is only closed after its attempt is logged.
import type { Config } from '../config.js';
import { eventId, isRetryableStatus, type RetryPolicy, retryDelay } from '../domain/forwarding.js';
import type { DeliveryAttempt, DeliveryJob, DeliveryOutcome, Store } from '../store/store.js';
import { facebookRequest, isTransientFacebookError } from './facebook.js';
import { type PreparedDelivery, send } from './outbound-http.js';
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

/** Deliveries in flight from one process, across destinations. */
const MAX_PARALLEL = 64;
/** A leased row is left alone by other workers for this long. */
const LEASE_MS = 120_000;
const MAX_DELAY_MS = 3_600_000;
/** Bytes of a response kept in the source logs. */
const ERROR_TEXT_LIMIT = 500;

export class OutboxWorker {
  private readonly inflight = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly running = new Set<Promise<void>>();
  private readonly policy: RetryPolicy;
  private stopped = true;
  private ticking = false;
  private again = false;
  private poll: NodeJS.Timeout | null = null;

  constructor(private readonly deps: WorkerDeps) {
    const f = deps.config.forward;
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
    setImmediate(() => {
      this.claimAndDispatch()
        .catch((error: unknown) => this.deps.log.error({ err: error }, 'outbox: claim failed'))
        .finally(() => {
          this.ticking = false;
          if (this.again) {
            this.again = false;
            this.wake();
          }
        });
    });
  }

  /** Stops claiming; waits (up to `graceMs`) for attempts in flight to be logged. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
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
    const free = MAX_PARALLEL - this.running.size;
    if (free <= 0) return 0;
    const concurrency = this.deps.config.forward.concurrency;
    const busy = [...this.inflight].filter(([, n]) => n >= concurrency).map(([id]) => id);
    const now = this.deps.now();
    const jobs = await this.deps.store.claimDeliveries({
      now,
      leaseUntil: now + LEASE_MS,
      limit: free,
      perDestination: concurrency,
      busy,
    });
    for (const job of jobs) {
      const run = this.limited(job.destination.id, () => this.deliver(job))
        .catch((error: unknown) =>
          this.deps.log.error({ err: error, outboxId: job.outboxId }, 'outbox: delivery failed'),
        )
        .finally(() => {
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

  private prepare(job: DeliveryJob): PreparedDelivery {
    const { settings, secret } = job.destination;
    const { config, secrets } = this.deps;
    let plain: string | null = null;
    if (secret !== null) {
      try {
        plain = secrets.decrypt(secret);
      } catch {
        return {
          kind: 'fail',
          destinationEvent: null,
          reason: 'the stored secret cannot be decrypted: was SECRET_KEY changed?',
        };
      }
    }
    switch (settings.kind) {
      case 'facebook':
        if (plain === null) {
          return { kind: 'fail', destinationEvent: null, reason: 'no access token' };
        }
        return facebookRequest(job, settings.facebook, plain, {
          graphUrl: config.facebookGraphUrl,
          graphVersion: config.facebookGraphVersion,
          publicUrl: config.publicUrl,
          now: this.deps.now(),
        });
      case 'webhook':
        return webhookRequest(job, settings.webhook, plain);
      case 'auto_action':
        return autoActionRequest(job, settings.autoAction);
    }
  }

  private async deliver(job: DeliveryJob): Promise<void> {
    const { store, config, now } = this.deps;
    const at = now();
    const log = (
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
    const done = (status: 'delivered' | 'failed' | 'expired' | 'skipped'): DeliveryOutcome => ({
      state: 'done',
      status,
    });

    const destination = job.destination;
    if (destination.deleted || !destination.enabled) {
      const why = destination.deleted ? 'the source was deleted' : 'the source is disabled';
      await store.finishDelivery(job.outboxId, log('skipped', { error: why }), done('skipped'));
      return;
    }
    const prepared = this.prepare(job);
    if (prepared.kind !== 'send') {
      const status =
        prepared.kind === 'skip' ? 'skipped' : prepared.kind === 'expire' ? 'expired' : 'failed';
      await store.finishDelivery(
        job.outboxId,
        log(status, { destinationEvent: prepared.destinationEvent, error: prepared.reason }),
        done(status),
      );
      return;
    }

    if (at - job.queuedAt > this.policy.maxAgeMs) {
      const error = `gave up: queued more than ${Math.round(this.policy.maxAgeMs / 3_600_000)} h ago`;
      await store.finishDelivery(
        job.outboxId,
        log('failed', { destinationEvent: prepared.destinationEvent, error }),
        done('failed'),
      );
      return;
    }

    const isFacebook = destination.settings.kind === 'facebook';
    const response = await send({
      ...prepared.request,
      timeoutMs: config.forward.timeoutMs,
      // The Graph URL is the operator's setting; only user-given URLs are checked.
      allowPrivate: isFacebook || config.allowPrivateWebhooks,
    });
    const attempt = {
      destinationEvent: prepared.destinationEvent,
      request: prepared.logText,
      httpStatus: response.status,
      response: response.body,
      durationMs: response.durationMs,
    };
    const ok = response.status !== null && response.status >= 200 && response.status < 300;
    if (ok) {
      await store.finishDelivery(job.outboxId, log('delivered', attempt), done('delivered'));
      return;
    }
    const error =
      response.error ??
      `HTTP ${response.status}${response.body ? `: ${response.body.slice(0, ERROR_TEXT_LIMIT)}` : ''}`;
    const retryable =
      !response.privateAddress &&
      (response.status === null ||
        isRetryableStatus(response.status) ||
        (isFacebook && isTransientFacebookError(response.body)));
    const attemptsUsed = job.budgetAttempts + 1;
    if (!retryable || attemptsUsed >= this.policy.maxAttempts) {
      const why = retryable ? `gave up after ${attemptsUsed} attempts: ${error}` : error;
      this.deps.log.warn(
        { outboxId: job.outboxId, destination: destination.id, error: why },
        'outbox: delivery failed for good',
      );
      await store.finishDelivery(
        job.outboxId,
        log('failed', { ...attempt, error: why }),
        done('failed'),
      );
      return;
    }
    const random = this.deps.random ?? Math.random;
    const nextAt = at + retryDelay(this.policy, attemptsUsed, random());
    await store.finishDelivery(job.outboxId, log('retrying', { ...attempt, error }), {
      state: 'retry',
      nextAt,
    });
  }
}
