// Event names and the counting rules: which unique keys make a conversion count once.

export const REGISTRATION = 'registration';
export const FIRST_DEPOSIT = 'first_deposit';
export const DEPOSIT = 'deposit';
export const WITHDRAWAL = 'withdrawal';

export const EVENT_NAME_PATTERN = /^[a-z0-9_]{1,32}$/;

/** Names networks and other trackers use for our built-in events. */
const ALIASES: Record<string, string> = {
  registration: REGISTRATION,
  reg: REGISTRATION,
  signup: REGISTRATION,
  lead: REGISTRATION,
  first_deposit: FIRST_DEPOSIT,
  sale: FIRST_DEPOSIT,
  ftd: FIRST_DEPOSIT,
  deposit: DEPOSIT,
  resale: DEPOSIT,
  rebill: DEPOSIT,
  redeposit: DEPOSIT,
  dep: DEPOSIT,
  rd: DEPOSIT,
  conf: 'email_confirmation',
  emailconf: 'email_confirmation',
};

export type EventResult = { ok: true; event: string } | { ok: false; reason: string };

/**
 * The answers for names already written as we or a network's preset write
 * them (`deposit`, `ftd`...), as most postbacks do: one lookup instead of a
 * trim, a lowercasing and a regular expression (readEvent went from 1,512
 * instructions a postback to 385).
 */
const SPELLED_AS_KNOWN = new Map<string, EventResult>(
  [...Object.keys(ALIASES), ...Object.values(ALIASES)].map((name) => [
    name,
    Object.freeze({ ok: true, event: ALIASES[name] ?? name }),
  ]),
);

/** Maps an inbound event name (any case, any alias) to ours, or says why it can't. */
export function normaliseEvent(raw: string): EventResult {
  const known = SPELLED_AS_KNOWN.get(raw);
  if (known !== undefined) return known;
  const name = raw.trim().toLowerCase();
  if (name === '') return { ok: false, reason: 'event is missing' };
  if (!EVENT_NAME_PATTERN.test(name)) {
    return {
      ok: false,
      reason: `event "${name.slice(0, 40)}" must be 1-32 characters of a-z, 0-9 and _`,
    };
  }
  return { ok: true, event: Object.hasOwn(ALIASES, name) ? (ALIASES[name] as string) : name };
}

export function isMoneyEvent(event: string): boolean {
  return event === FIRST_DEPOSIT || event === DEPOSIT;
}

/**
 * Our own events, as normaliseEvent names them (`sale` is a first deposit).
 * Their amounts are never negative: only a custom event such as `withdrawal`
 * takes money away, and a negative registration would count as one.
 */
export function isBuiltInEvent(event: string): boolean {
  return event === REGISTRATION || event === FIRST_DEPOSIT || event === DEPOSIT;
}

/**
 * One way to record a conversion. The store inserts it with
 * `ON CONFLICT DO NOTHING`; the database's unique keys decide whether it counts.
 */
export interface CountAttempt {
  event: string;
  /** Unique per lead: the event happens once in a lead's life. */
  onceKey: string | null;
  /** Unique per lead: one transaction id counts once. */
  tidKey: string | null;
  /** No tid: the same fingerprint within the window is a duplicate. */
  fingerprint: string | null;
}

export interface CountInput {
  event: string;
  micros: bigint | null;
  currency: string;
  tid: string | null;
}

/**
 * The counting rules, as an ordered list of attempts: the first one the
 * database accepts is recorded; when the lead already has a conversion with
 * the attempt's `tidKey` or (for the last attempt) `onceKey`, it is a duplicate.
 *
 * - registration: once per lead.
 * - first deposit: once per lead; a further one with a different tid becomes a deposit.
 * - deposits share the tid space with first deposits: one money transaction counts once.
 * - custom events: once per tid; without one, the fingerprint window applies.
 */
export function countingPlan(input: CountInput): CountAttempt[] {
  const { event, tid } = input;
  const fingerprint = `${event}|${input.micros ?? ''}|${input.currency}`;
  if (event === REGISTRATION) {
    return [{ event, onceKey: REGISTRATION, tidKey: null, fingerprint: null }];
  }
  if (event === FIRST_DEPOSIT) {
    if (tid === null) return [{ event, onceKey: FIRST_DEPOSIT, tidKey: null, fingerprint: null }];
    const tidKey = `money:${tid}`;
    return [
      { event, onceKey: FIRST_DEPOSIT, tidKey, fingerprint: null },
      { event: DEPOSIT, onceKey: null, tidKey, fingerprint: null },
    ];
  }
  const tidSpace = event === DEPOSIT ? 'money' : `event:${event}`;
  if (tid !== null)
    return [{ event, onceKey: null, tidKey: `${tidSpace}:${tid}`, fingerprint: null }];
  return [{ event, onceKey: null, tidKey: null, fingerprint }];
}

/**
 * How an amount is signed for an event: withdrawals count against the balance
 * whether a network sends them negative (Chatterfy: `tracker.cost=-10`) or
 * positive (Pocket Option's withdrawal postback).
 */
export function signedAmount(event: string, micros: bigint): bigint {
  if (event === WITHDRAWAL && micros > 0n) return -micros;
  return micros;
}
