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

/** Renders every macro, each value URL-encoded because it lands inside a URL. */
export function renderTemplate(template: string, ctx: MacroContext): Rendered {
  const unknown: string[] = [];
  const url = template.replace(MACRO, (_whole, name: string) => {
    const value = macroValue(name, ctx);
    if (value === undefined) {
      if (!unknown.includes(name)) unknown.push(name);
      return '';
    }
    return encodeURIComponent(wellFormed(value));
  });
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
  return text.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
}

export const CLICKID_MACRO = '{{tracker.clickid}}';
