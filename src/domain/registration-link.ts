import { CLICKID_MACRO } from './macros.js';

/**
 * Adds `<param>={{tracker.clickid}}` to a network's registration link, keeping
 * the link's own query, fragment and percent-encoding byte for byte. An existing
 * `<param>=` is replaced rather than doubled, and
 * any repeats of it dropped.
 */
export function buildRegistrationLink(baseUrl: string, param: string): string {
  const hashAt = baseUrl.indexOf('#');
  const fragment = hashAt === -1 ? '' : baseUrl.slice(hashAt);
  const beforeFragment = hashAt === -1 ? baseUrl : baseUrl.slice(0, hashAt);
  const queryAt = beforeFragment.indexOf('?');
  const path = queryAt === -1 ? beforeFragment : beforeFragment.slice(0, queryAt);
  const query = queryAt === -1 ? '' : beforeFragment.slice(queryAt + 1);

  const pair = `${encodeURIComponent(param)}=${CLICKID_MACRO}`;
  const parts = query === '' ? [] : query.split('&');
  let replaced = false;
  const kept: string[] = [];
  for (const part of parts) {
    const name = part.split('=', 1)[0] ?? '';
    if (safeDecode(name) !== param) kept.push(part);
    else if (!replaced) {
      // The first one becomes ours; later repeats would override it at the network.
      kept.push(pair);
      replaced = true;
    }
  }
  if (!replaced) {
    // A trailing `&` or a bare `?` in the base link stays as it was.
    if (kept.length > 0 && kept[kept.length - 1] === '') kept[kept.length - 1] = pair;
    else kept.push(pair);
  }
  return `${path}?${kept.join('&')}${fragment}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
