// Parsing an inbound postback: the query string and body of a network's call,
// every alias networks and other trackers use, strict about money and encoding.
import { isBuiltInEvent, isMoneyEvent, normaliseEvent } from './events.js';
import { parseAmount, parseCurrency } from './money.js';

export const ALIASES = {
  clickid: ['clickid', 'tracker.clickid', 'click_id', 'subid', 'cid', 'cnv_id'],
  event: ['tracker.event', 'event', 'status', 'cnv_status', 'et', 'goal'],
  amount: ['tracker.cost', 'amount', 'sum', 'payout', 'revenue', 'sumdep', 'deposit_amount'],
  currency: ['tracker.currency', 'currency', 'cnv_currency'],
  tid: ['tracker.tid', 'tid', 'transaction_id', 'event_id', 'txid', 'transaction'],
} as const;

/** Event flags networks such as Binpartner append (`reg=true`), in priority order. */
const EVENT_FLAGS: Array<[string, string]> = [
  ['dep', 'deposit'],
  ['ftd', 'first_deposit'],
  ['conf', 'email_confirmation'],
  ['reg', 'registration'],
  ['install', 'app_install'],
];

/** Network user ids kept on the lead as custom fields without a `fields.` prefix. */
const ID_FIELDS = ['trader_id', 'user_id', 'player_id'];

export const LIMITS = {
  clickid: 64,
  tid: 128,
  fieldKey: 64,
  fieldValue: 1024,
  fields: 50,
} as const;

export interface InboundConfig {
  clickidParam: string;
  currency: string;
}

export interface InboundRequest {
  /** The event from the path, or null when it comes in a parameter. */
  pathEvent: string | null;
  /** Raw query string, without the `?`. */
  query: string;
  /**
   * The same query as the HTTP framework already split it (repeated names as
   * arrays, `+` as a space). Used only when the raw query holds no `%`: with
   * nothing to decode there is nothing to refuse, and the split is the same.
   */
  splitQuery?: Readonly<Record<string, string | string[]>>;
  contentType: string | undefined;
  body: string;
}

export interface ParsedPostback {
  event: string;
  clickid: string;
  /** The clickid is an unresolved macro such as `{sub1}` (a network's test button). */
  unresolvedClickid: boolean;
  micros: bigint | null;
  currency: string;
  tid: string | null;
  fields: Record<string, string>;
  /** Things worth a note in the postback log that did not stop the postback. */
  warnings: string[];
}

export type ParseResult =
  | { ok: true; postback: ParsedPostback }
  | {
      ok: false;
      code: string;
      message: string;
      /** What could be read before it failed, for the postback log. */
      clickid: string | null;
      event: string | null;
    };

type Params = Map<string, string[]>;

class ParseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** `clickid, sub1, tracker.clickid, … or cnv_id`: every name a clickid is read from, once each. */
function clickidNames(param: string): string {
  const names = [...new Set([ALIASES.clickid[0], param, ...ALIASES.clickid])];
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

export function parseInboundPostback(req: InboundRequest, config: InboundConfig): ParseResult {
  let clickid: string | null = null;
  let event: string | null = null;
  try {
    const params = readParams(req);
    const names = namesPresent(params, config.clickidParam);
    clickid = pick(params, names.clickid);
    event = readEvent(req.pathEvent, params, names.event);
    if (clickid === null) {
      throw new ParseError(
        'missing_clickid',
        `no clickid: send it as ${clickidNames(config.clickidParam)}`,
      );
    }
    if (clickid.length > LIMITS.clickid) {
      throw new ParseError(
        'invalid_clickid',
        `clickid is longer than ${LIMITS.clickid} characters`,
      );
    }
    if (looksLikeMacro(clickid)) {
      // A network's "test postback" button sends its macros unfilled: nothing
      // to count, nothing wrong with the link either.
      return {
        ok: true,
        postback: {
          event,
          clickid,
          unresolvedClickid: true,
          micros: null,
          currency: config.currency,
          tid: null,
          fields: {},
          warnings: [],
        },
      };
    }
    const warnings: string[] = [];
    const micros = readAmount(params, names.amount, event);
    const currency = readCurrency(params, names.currency, config.currency);
    let tid = pick(params, names.tid);
    if (tid !== null && looksLikeMacro(tid)) {
      warnings.push(`transaction id "${tid}" is an unresolved macro and was ignored`);
      tid = null;
    }
    if (tid !== null && tid.length > LIMITS.tid) {
      throw new ParseError('invalid_tid', `transaction id is longer than ${LIMITS.tid} characters`);
    }
    return {
      ok: true,
      postback: {
        event,
        clickid,
        unresolvedClickid: false,
        micros,
        currency,
        tid,
        fields: readFields(params, names),
        warnings,
      },
    };
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return { ok: false, code: error.code, message: error.message, clickid, event };
  }
}

/** The characters a macro starts with: most values are ruled out by their first one. */
const MACRO_START = new Set(['{', '[', '<', '%', '$']);

/** `{sub1}`, `{{click_id}}`, `[subid]`, `<cid>`, `%sub1%`, `$sub1`: the network did not fill it in. */
export function looksLikeMacro(value: string): boolean {
  if (!MACRO_START.has(value.charAt(0))) return false;
  return /^(\{+[^{}]*\}+|\[[^[\]]*\]|<[^<>]*>|%[A-Za-z0-9_.]+%|\$\{?[A-Za-z_][A-Za-z0-9_.]*\}?)$/.test(
    value,
  );
}

function readParams(req: InboundRequest): Params {
  const params: Params = new Map();
  if (req.splitQuery !== undefined && !req.query.includes('%')) addSplit(params, req.splitQuery);
  else addPairs(params, req.query);
  if (req.body.length === 0) return params;
  const type = (req.contentType ?? '').toLowerCase();
  if (type.includes('json')) {
    let parsed: unknown;
    try {
      parsed = parseJsonNumbersAsText(req.body);
    } catch {
      throw new ParseError('invalid_body', 'the JSON body does not parse');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ParseError('invalid_body', 'the JSON body must be an object');
    }
    flattenJson(params, '', parsed as Record<string, unknown>, 0);
  } else {
    addPairs(params, req.body);
  }
  return params;
}

/**
 * JSON.parse, with every number read as the text it was written as (exponent
 * forms written out, see plainDecimal): JSON.parse alone makes numbers binary
 * doubles, so a tid of 9007199254740993 became ...992 and an amount of
 * 12345678901.123456 became ...455. Throws what JSON.parse throws.
 */
export function parseJsonNumbersAsText(text: string): unknown {
  const parsed: unknown = JSON.parse(text);
  // It parsed, so its number literals are well formed: read again with each
  // one quoted, they come out as the text that was sent.
  const quoted = quoteNumbers(text);
  return quoted === text ? parsed : JSON.parse(quoted);
}

/**
 * Valid JSON text with every number literal outside a string put in quotes
 * (`{"tid":9007199254740993}` → `{"tid":"9007199254740993"}`); the text
 * itself when it holds none. Only for text JSON.parse has accepted: outside
 * strings, a `-` or a digit can then only start a number, which runs on over
 * digits, `.`, `e`, `E`, `+` and `-`.
 */
function quoteNumbers(json: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c === 34) {
      // A string (34 is `"`): skip to its closing quote; a backslash (92)
      // escapes the character after it.
      i++;
      while (i < json.length) {
        const d = json.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === 34) break;
        else i++;
      }
      i++;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      const start = i;
      while (i < json.length && isNumberChar(json.charCodeAt(i))) i++;
      out += `${json.slice(copied, start)}"${plainDecimal(json.slice(start, i))}"`;
      copied = i;
    } else {
      i++;
    }
  }
  return copied === 0 ? json : out + json.slice(copied);
}

/** Exponents a plain decimal is written out for: far past any amount or id. */
const MAX_EXPONENT = 40;

/**
 * A JSON number literal with an exponent written out as a plain decimal,
 * exactly (`1.0E7` → `10000000`, `1e-05` → `0.00001`, `1.5e2` → `150`), as
 * serializers of doubles (Java's, Python's, PHP's) write large and small
 * amounts; trailing zeros after the point go. Literals without an exponent,
 * or with one past MAX_EXPONENT, stay as written.
 */
export function plainDecimal(literal: string): string {
  const e = literal.search(/[eE]/);
  if (e === -1) return literal;
  const exponent = Number(literal.slice(e + 1));
  if (!Number.isInteger(exponent) || Math.abs(exponent) > MAX_EXPONENT) return literal;
  const negative = literal.startsWith('-');
  const mantissa = literal.slice(negative ? 1 : 0, e);
  const point = mantissa.indexOf('.');
  const digits = point === -1 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  // Where the decimal point falls in `digits`, once the exponent has moved it.
  const at = (point === -1 ? mantissa.length : point) + exponent;
  const whole =
    at <= 0
      ? '0'
      : digits
          .slice(0, at)
          .padEnd(at, '0')
          .replace(/^0+(?=\d)/, '');
  const fraction = (at < 0 ? '0'.repeat(-at) + digits : digits.slice(Math.max(at, 0))).replace(
    /0+$/,
    '',
  );
  const text = fraction === '' ? whole : `${whole}.${fraction}`;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/** 0-9 . e E + - */
function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45;
}

function addPairs(params: Params, text: string): void {
  // Most queries carry nothing to decode: then none of their pieces needs a look.
  const decode = text.includes('%') || text.includes('+') ? decodeStrict : keep;
  let start = 0;
  // The next `=` at or after `start` (-1: none left), searched again only once
  // passed, so pairs without one cost no second scan of the rest.
  let eq = -2;
  while (start < text.length) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    if (end > start) {
      if (eq !== -1 && eq < start) eq = text.indexOf('=', start);
      if (eq === -1 || eq > end) add(params, decode(text.slice(start, end)), '');
      else add(params, decode(text.slice(start, eq)), decode(text.slice(eq + 1, end)));
    }
    start = end + 1;
  }
}

function addSplit(params: Params, split: Readonly<Record<string, string | string[]>>): void {
  for (const name in split) {
    const value = split[name] as string | string[];
    // Copied: a body's values for the same name are added to the list.
    params.set(name, typeof value === 'string' ? [value] : value.slice());
  }
}

function keep(text: string): string {
  return text;
}

function decodeStrict(text: string): string {
  // Most names and values carry nothing to decode.
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    // An unfilled `%sub1%`-style macro is not broken encoding.
    if (/^%[A-Za-z0-9_.]+%$/.test(text)) return text;
    throw new ParseError(
      'invalid_encoding',
      'malformed percent-encoding or invalid UTF-8 in the parameters',
    );
  }
}

function flattenJson(params: Params, prefix: string, obj: Record<string, unknown>, depth: number) {
  if (depth > 4) throw new ParseError('invalid_body', 'the JSON body is nested too deeply');
  for (const [key, value] of Object.entries(obj)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) addScalar(params, name, item);
    } else if (typeof value === 'object') {
      flattenJson(params, name, value as Record<string, unknown>, depth + 1);
    } else {
      addScalar(params, name, value);
    }
  }
}

/** Numbers arrive here as strings (quoteNumbers), written as the network wrote them. */
function addScalar(params: Params, name: string, value: unknown): void {
  if (typeof value === 'string') add(params, name, value);
  else if (typeof value === 'boolean') add(params, name, String(value));
  else
    throw new ParseError('invalid_body', `the JSON value of "${name}" must be a string or number`);
}

function add(params: Params, name: string, value: string): void {
  const list = params.get(name);
  if (list) list.push(value);
  else params.set(name, [value]);
}

type Field = keyof typeof ALIASES;

/** The lists of names namesPresent sorts a request's parameters into. */
const ROLES = ['clickid', 'event', 'amount', 'currency', 'tid', 'id', 'custom'] as const;
type Role = (typeof ROLES)[number];
const ROLE_INDEX = new Map<string, number>(ROLES.map((role, index) => [role, index]));

/** Each alias's and network id's list (an index into ROLES) and place in it. */
const NAME_ROLES = new Map<string, { role: number; rank: number }>();
for (const field of Object.keys(ALIASES) as Field[]) {
  ALIASES[field].forEach((name, rank) => {
    NAME_ROLES.set(name, { role: ROLE_INDEX.get(field) as number, rank });
  });
}
ID_FIELDS.forEach((name, rank) => {
  NAME_ROLES.set(name, { role: ROLE_INDEX.get('id') as number, rank });
});
const CLICKID = ROLE_INDEX.get('clickid') as number;

/**
 * What a parameter already carries in an inbound postback, when that is not
 * the clickid: a configuration whose clickid parameter is `amount` or `tid`
 * would have one value read as two things. Null for any other name.
 */
export function parameterRole(name: string): string | null {
  const known = NAME_ROLES.get(name);
  if (known !== undefined) {
    const role = ROLES[known.role];
    if (role === 'clickid') return null;
    return role === 'id' ? 'a network user id' : `the ${role}`;
  }
  if (name.startsWith('fields.')) return 'a custom field';
  if (EVENT_FLAGS.some(([flag]) => flag === name)) return 'the event';
  return null;
}
const CUSTOM = ROLE_INDEX.get('custom') as number;

/** The names a request carries, by what they are for, each list in its aliases' order. */
type Names = Record<Role, readonly string[]>;
const NONE: readonly string[] = Object.freeze([]);

/** Whether the configured clickid parameter is one of the aliases (the last one asked). */
let clickidParamIsAlias = { param: 'clickid', alias: true };

/**
 * One look per parameter instead of one per alias: a request carries a few
 * parameters, and there are 31 aliases and ids.
 */
function namesPresent(params: Params, clickidParam: string): Names {
  const lists: Array<string[] | undefined> = [];
  for (const name of params.keys()) {
    const known = NAME_ROLES.get(name);
    if (known !== undefined) {
      const list = lists[known.role];
      if (list === undefined) lists[known.role] = [name];
      else insertByRank(list, name, known.rank);
    } else if (name.startsWith('fields.')) {
      const list = lists[CUSTOM];
      if (list === undefined) lists[CUSTOM] = [name];
      else list.push(name);
    }
  }
  // The configured clickid parameter comes after the aliases, unless it is one.
  if (clickidParamIsAlias.param !== clickidParam) {
    clickidParamIsAlias = {
      param: clickidParam,
      alias: NAME_ROLES.get(clickidParam)?.role === CLICKID,
    };
  }
  if (!clickidParamIsAlias.alias && params.has(clickidParam)) {
    const list = lists[CLICKID];
    if (list === undefined) lists[CLICKID] = [clickidParam];
    else list.push(clickidParam);
  }
  // In ROLES' order.
  return {
    clickid: lists[0] ?? NONE,
    event: lists[1] ?? NONE,
    amount: lists[2] ?? NONE,
    currency: lists[3] ?? NONE,
    tid: lists[4] ?? NONE,
    id: lists[5] ?? NONE,
    custom: lists[6] ?? NONE,
  };
}

function insertByRank(list: string[], name: string, rank: number): void {
  let at = list.length;
  while (at > 0 && (NAME_ROLES.get(list[at - 1] as string)?.rank ?? 0) > rank) at--;
  list.splice(at, 0, name);
}

/**
 * The one value carried by any of `names` (each listed once). Empty values
 * count as absent; two different values (`amount=1&amount=2`, or
 * `clickid=a&sub1=b`) are refused.
 */
function pick(params: Params, names: readonly string[], upperCase = false): string | null {
  let found: string | null = null;
  let foundIn = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const values = params.get(name);
    if (values === undefined) continue;
    for (let j = 0; j < values.length; j++) {
      const trimmed = (values[j] as string).trim();
      const value = upperCase ? trimmed.toUpperCase() : trimmed;
      if (value === '') continue;
      if (found !== null && value !== found) {
        throw new ParseError(
          'ambiguous_parameter',
          foundIn === name
            ? `"${name}" appears more than once with different values`
            : `"${foundIn}" and "${name}" carry different values for the same thing`,
        );
      }
      found = value;
      foundIn = name;
    }
  }
  return found;
}

/** pick() of a single name; its list is built only when the name is there. */
function pickOne(params: Params, name: string): string | null {
  return params.has(name) ? pick(params, [name]) : null;
}

function readEvent(pathEvent: string | null, params: Params, names: readonly string[]): string {
  let raw = pathEvent;
  if (raw === null) raw = pick(params, names);
  if (raw === null) {
    for (const [flag, event] of EVENT_FLAGS) {
      const value = pickOne(params, flag);
      if (value !== null && /^(true|1|yes)$/i.test(value)) {
        raw = event;
        break;
      }
    }
  }
  if (raw === null) {
    throw new ParseError('invalid_event', 'no event: put it in the path or in tracker.event');
  }
  const result = normaliseEvent(raw);
  if (!result.ok) throw new ParseError('invalid_event', result.reason);
  return result.event;
}

function readAmount(params: Params, names: readonly string[], event: string): bigint | null {
  const raw = pick(params, names);
  if (raw === null) {
    if (isMoneyEvent(event)) {
      throw new ParseError('invalid_amount', `a ${event} needs an amount (amount or tracker.cost)`);
    }
    return null;
  }
  const parsed = parseAmount(raw);
  if (!parsed.ok) throw new ParseError('invalid_amount', parsed.reason);
  if (parsed.micros < 0n && isBuiltInEvent(event)) {
    throw new ParseError('invalid_amount', `a ${event} cannot have a negative amount`);
  }
  return parsed.micros;
}

function readCurrency(params: Params, names: readonly string[], fallback: string): string {
  const raw = pick(params, names, true);
  if (raw === null) return fallback;
  const parsed = parseCurrency(raw);
  if (!parsed.ok) throw new ParseError('invalid_currency', parsed.reason);
  return parsed.code;
}

const FIELD_KEY = /^[A-Za-z0-9_.-]+$/;

function readFields(params: Params, names: Names): Record<string, string> {
  const fields: Record<string, string> = {};
  let count = 0;
  const set = (key: string, value: string) => {
    if (!FIELD_KEY.test(key) || key.length > LIMITS.fieldKey) {
      throw new ParseError(
        'invalid_field',
        `custom field name "${key.slice(0, 40)}" is not allowed`,
      );
    }
    if (value.length > LIMITS.fieldValue) {
      throw new ParseError(
        'invalid_field',
        `custom field "${key}" is over ${LIMITS.fieldValue} characters`,
      );
    }
    if (++count > LIMITS.fields) {
      throw new ParseError('invalid_field', `more than ${LIMITS.fields} custom fields`);
    }
    fields[key] = value;
  };
  for (const name of names.custom) {
    const value = pick(params, [name]);
    if (value !== null && !looksLikeMacro(value)) set(name.slice('fields.'.length), value);
  }
  for (const name of names.id) {
    if (Object.hasOwn(fields, name)) continue;
    const value = pick(params, [name]);
    if (value !== null && !looksLikeMacro(value)) set(name, value);
  }
  return fields;
}
