// Whether a source's events are getting through, from its delivery log: a
// wrong access token or pixel id, or a webhook answering 404, fails every
// event, and nothing else would say so.

/** What the delivery log and outbox say of one destination (Store.destinationHealth). */
export interface DeliveryFacts {
  /** When an event last reached it; null if none has (as far as the log goes back). */
  lastDeliveredAt: number | null;
  /**
   * Attempts that failed since then (retried or not), among its newest
   * HEALTH_WINDOW attempts; expired and skipped events are not attempts.
   */
  failedInARow: number;
  /** Of those, the ones refused for good: not retried, or out of retries. */
  gaveUp: number;
  /** The oldest and the newest of those failures, and the newest one's error. */
  failingSince: number | null;
  lastFailedAt: number | null;
  lastError: string | null;
  /** Events waiting to be sent (or being sent), counted up to PENDING_LIMIT. */
  pending: number;
}

/** How many of a destination's newest attempts are read to count its failures. */
export const HEALTH_WINDOW = 1_000;
/** Waiting events are counted up to this many. */
export const PENDING_LIMIT = 10_000;
/** Failed attempts in a row before a source can be failing. */
export const FAILING_AFTER = 3;
/** Retried failures with nothing delivered for this long make a source failing. */
export const FAILING_RETRIED_MS = 15 * 60_000;

export type SourceState = 'ok' | 'failing' | 'idle' | 'paused';

export interface SourceHealth extends DeliveryFacts {
  state: SourceState;
}

/**
 * A source is failing when its last FAILING_AFTER (3) or more attempts all
 * failed, nothing was delivered since, and either one of them was refused
 * for good (an invalid token, a pixel that does not exist, a 404, or retries
 * used up: the event will not be sent again) or the first of them was
 * FAILING_RETRIED_MS (15 minutes) ago or more (retried all that time and
 * nothing got through). A failure or two, or a destination's hiccup that the
 * retries are still dealing with, leaves it ok. A disabled source is paused
 * and one that has not been sent anything yet is idle, whatever its log holds.
 */
export function sourceHealth(enabled: boolean, facts: DeliveryFacts, now: number): SourceHealth {
  return { state: stateOf(enabled, facts, now), ...facts };
}

function stateOf(enabled: boolean, f: DeliveryFacts, now: number): SourceState {
  if (!enabled) return 'paused';
  if (f.lastDeliveredAt === null && f.failedInARow === 0) return 'idle';
  if (f.failedInARow < FAILING_AFTER) return 'ok';
  if (f.gaveUp > 0) return 'failing';
  return f.failingSince !== null && now - f.failingSince >= FAILING_RETRIED_MS ? 'failing' : 'ok';
}
