// What the direct paths (plain GET postbacks and clicks, answered before
// Fastify routes them) share: which requests they may take, the client's
// address as Fastify reads it, and sending an answer with the headers
// Fastify's reply would give it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** A request listener's front: answers and returns true, or touches nothing and returns false. */
export type DirectPath = (request: IncomingMessage, response: ServerResponse) => boolean;

/** A GET that announces no body: the only requests a direct path takes. */
export function isPlainGet(request: IncomingMessage): boolean {
  if (request.method !== 'GET') return false;
  const headers = request.headers;
  const length = headers['content-length'];
  return (length === undefined || length === '0') && headers['transfer-encoding'] === undefined;
}

/** request.ip as Fastify has it: with trustProxy, the furthest address in X-Forwarded-For. */
export function clientAddress(trustProxy: boolean): (request: IncomingMessage) => string | null {
  if (!trustProxy) return (request) => request.socket.remoteAddress ?? null;
  const trustAll = () => true;
  return (request) => {
    const addresses = proxyAddr.all(request, trustAll);
    return addresses[addresses.length - 1] ?? null;
  };
}

/**
 * Sends an answer as Fastify's reply does: the given headers in order, then
 * content-length, and `connection: close` while the server is stopping (the
 * app's onSend hook).
 */
export function sendDirect(
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  payload: string,
  closing: boolean,
): void {
  headers['content-length'] = String(Buffer.byteLength(payload));
  if (closing) headers.connection = 'close';
  response.writeHead(status, headers);
  response.end(payload);
}

export const JSON_TYPE = 'application/json; charset=utf-8';
