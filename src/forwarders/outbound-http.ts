// Outbound requests to destinations: a hard timeout, a bounded response, and
// (for user-given URLs) no loopback, private or link-local addresses — checked
// on the address actually connected to, so a DNS answer cannot sneak one in.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

/** Bytes of a response body kept for the source logs. */
export const RESPONSE_LIMIT = 4096;

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Loopback, private, link-local, carrier-grade NAT, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return false;
}

export class PrivateAddressError extends Error {
  readonly code = 'private_address';
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a private or loopback address`);
  }
}

/**
 * Refuses a URL whose host is, or resolves to, a private address. A name that
 * does not resolve now passes: delivery checks again when it connects.
 */
export async function checkPublicUrl(url: string): Promise<PrivateAddressError | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateAddress(host) ? new PrivateAddressError(host, host) : null;
  const addresses = await new Promise<LookupAddress[]>((resolve) =>
    dnsLookup(host, { all: true }, (error, found) => resolve(error ? [] : found)),
  );
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  return bad ? new PrivateAddressError(host, bad.address) : null;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** dns.lookup that answers an error instead of a private address. */
function publicLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) return callback(new PrivateAddressError(hostname, bad.address), []);
    if ((options as { all?: boolean }).all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(new Error(`${hostname} has no address`), []);
    callback(null, first.address, first.family);
  });
}

export interface OutboundRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body: string | null;
  timeoutMs: number;
  allowPrivate: boolean;
}

export interface OutboundResponse {
  /** null when no answer came: refused, timed out, connection failed. */
  status: number | null;
  body: string | null;
  error: string | null;
  privateAddress: boolean;
  durationMs: number;
}

/**
 * Kept-alive connections skip the lookup, so guarded requests never share a
 * pool with unguarded ones (the operator's Graph URL may be private).
 */
const agents = {
  guarded: {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  },
  open: {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  },
};

export function send(request: OutboundRequest): Promise<OutboundResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (response: Omit<OutboundResponse, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...response, durationMs: elapsed() });
    };
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      finish({ status: null, body: null, error: 'invalid URL', privateAddress: false });
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!request.allowPrivate && isIP(host) && isPrivateAddress(host)) {
      const refused = new PrivateAddressError(host, host);
      finish({ status: null, body: null, error: refused.message, privateAddress: true });
      return;
    }
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { 'user-agent': 'Clickback', ...request.headers };
    if (request.body !== null) headers['content-length'] = String(Buffer.byteLength(request.body));
    const req = (secure ? https : http).request(url, {
      method: request.method,
      headers,
      agent: (request.allowPrivate ? agents.open : agents.guarded)[secure ? 'https' : 'http'],
      ...(request.allowPrivate ? {} : { lookup: publicLookup as never }),
    });
    timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    req.on('error', (error) => {
      const refused = error instanceof PrivateAddressError;
      finish({ status: null, body: null, error: error.message, privateAddress: refused });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept < RESPONSE_LIMIT) {
          chunks.push(chunk.subarray(0, RESPONSE_LIMIT - kept));
          kept += Math.min(chunk.length, RESPONSE_LIMIT - kept);
        }
      });
      res.on('end', () =>
        finish({
          status: res.statusCode ?? null,
          body: Buffer.concat(chunks).toString('utf8'),
          error: null,
          privateAddress: false,
        }),
      );
      res.on('error', (error) =>
        finish({
          status: res.statusCode ?? null,
          body: null,
          error: error.message,
          privateAddress: false,
        }),
      );
    });
    req.end(request.body ?? undefined);
  });
}

/** What a forwarder decided for one job: a request to send, or why none is sent. */
export type PreparedDelivery =
  | {
      kind: 'send';
      destinationEvent: string | null;
      request: Pick<OutboundRequest, 'method' | 'url' | 'headers' | 'body'>;
      /** The request as the source logs show it: secrets redacted. */
      logText: string;
    }
  | { kind: 'skip' | 'expire' | 'fail'; destinationEvent: string | null; reason: string };

/** Bytes of a request kept for the source logs. */
export const REQUEST_LOG_LIMIT = 8192;

export function requestLogText(method: string, url: string, body: string | null): string {
  const text = body === null ? `${method} ${url}` : `${method} ${url}\n\n${body}`;
  return text.length > REQUEST_LOG_LIMIT ? `${text.slice(0, REQUEST_LOG_LIMIT)}…` : text;
}
