// Who is calling /api/v1: a Bearer token or the browser's session cookie.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../store/store.js';
import { AppError } from './errors.js';

export const SESSION_COOKIE = 'cb_session';

declare module 'fastify' {
  interface FastifyRequest {
    account: Account | null;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+([A-Za-z0-9_-]{20,128})\s*$/i.exec(header);
    return match?.[1] ?? null;
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  return cookie && /^[A-Za-z0-9_-]{20,128}$/.test(cookie) ? cookie : null;
}

/** The caller's account; 401 without a valid session. */
export function account(request: FastifyRequest): Account {
  if (!request.account) throw new AppError(401, 'unauthorized', 'log in or send a Bearer token');
  return request.account;
}

export function setSessionCookie(
  reply: FastifyReply,
  token: string,
  secure: boolean,
  maxAgeSeconds: number,
) {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    maxAge: maxAgeSeconds,
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a session (sign-up, login, logout). */
    public?: boolean;
  }
}
