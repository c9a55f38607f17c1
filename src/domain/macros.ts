// `{{tracker.clickid}}`-style macros rendered into URLs.

const MACRO = /\{\{\s*([A-Za-z0-9_.-]{1,100})\s*\}\}/g;

export interface MacroContext {
  clickid: string;
  /** The click's query parameters (utm_*, fbclid, sub1...). */
  params: Record<string, string>;
  /** The lead's custom fields. */
  fields: Record<string, string>;
}

export interface Rendered {
  url: string;
  /** Macros with no value: rendered empty so a link never breaks on them. */
  unknownMacros: string[];
}

/** A template split once at its macros: literals[i], macro names[i], ..., the last literal. */
interface Compiled {
  literals: string[];
  names: string[];
}

/** Templates seen so far (campaign destinations, mostly); bounded against made-up ones. */
const compiled = new Map<string, Compiled>();
const COMPILED_LIMIT = 1_000;

function compile(template: string): Compiled {
  const known = compiled.get(template);
  if (known) return known;
  const literals: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of template.matchAll(MACRO)) {
    literals.push(template.slice(last, m.index));
    names.push(m[1] as string);
    last = m.index + m[0].length;
  }
  literals.push(template.slice(last));
  const result = { literals, names };
  if (compiled.size >= COMPILED_LIMIT) compiled.clear();
  compiled.set(template, result);
  return result;
}

/**
 * Renders every macro, each value URL-encoded because it lands inside a URL.
 * A redirect renders its campaign's template on every click, so the template
 * is split into parts once, not matched again per click.
 */
export function renderTemplate(template: string, ctx: MacroContext): Rendered {
  const { literals, names } = compile(template);
  const unknown: string[] = [];
  let url = literals[0] as string;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const value = macroValue(name, ctx);
    if (value === undefined) {
      if (!unknown.includes(name)) unknown.push(name);
    } else {
      url += encodeURIComponent(wellFormed(value));
    }
    url += literals[i + 1];
  }
  return { url, unknownMacros: unknown };
}

function macroValue(name: string, ctx: MacroContext): string | undefined {
  if (name === 'tracker.clickid' || name === 'chat.tracker.clickid') return ctx.clickid;
  if (name.startsWith('tracker.')) return own(ctx.params, name.slice('tracker.'.length));
  if (name.startsWith('fields.')) return own(ctx.fields, name.slice('fields.'.length));
  return undefined;
}

function own(record: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Lone UTF-16 surrogates become U+FFFD, which encodeURIComponent can encode. */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

export const CLICKID_MACRO = '{{tracker.clickid}}';

/**
 * The URL as a Location header can carry it. A header is bytes: Node refuses
 * characters above U+00FF and would send those below as Latin-1, which no
 * browser reads as the UTF-8 it meant. A destination typed with them
 * (`https://пример.рф/?utm=весна`) is written as a browser would: the host in
 * punycode, the rest percent-encoded UTF-8. A URL of printable ASCII is
 * returned as it is.
 */
export function asLocation(url: string): string {
  if (!/[^\x21-\x7e]/.test(url)) return url;
  const text = wellFormed(url);
  try {
    return new URL(text).href;
  } catch {
    return text.replace(/[^\x21-\x7e]+/g, (run) => encodeURIComponent(run));
  }
}
