// POST /api/v1/auth/signup|login|logout, GET /api/v1/me — accounts and sessions.
import type { FastifyReply } from 'fastify';
import {
  DUMMY_HASH,
  hashPassword,
  hashToken,
  newToken,
  passwordProblem,
  verifyPassword,
} from '../../../domain/passwords.js';
import { account, bearerToken, SESSION_COOKIE, setSessionCookie } from '../../../http/auth.js';
import { AppError } from '../../../http/errors.js';
import { type App, Type } from '../../../http/json-schema.js';
import type { Account } from '../../../store/store.js';

const Email = Type.String({ minLength: 3, maxLength: 254 });
const Password = Type.String({ maxLength: 256 });
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function authRoutes(app: App): Promise<void> {
  const { store, config, now } = app.deps;
  const ttlSeconds = config.sessionDays * 86_400;
  const secureCookie = config.publicUrl.startsWith('https://');

  async function startSession(reply: FastifyReply, acc: Account, status: number) {
    const token = newToken();
    const at = now();
    await store.createSession({
      tokenHash: hashToken(token),
      userId: acc.user.id,
      workspaceId: acc.workspace.id,
      at,
      expiresAt: at + ttlSeconds * 1000,
    });
    setSessionCookie(reply, token, secureCookie, ttlSeconds);
    return reply.status(status).send({ user: acc.user, workspace: acc.workspace, token });
  }

  app.post(
    '/auth/signup',
    {
      config: { public: true },
      schema: {
        tags: ['accounts'],
        summary: 'Create a user and a workspace; answers with a session token',
        body: Type.Object({
          email: Email,
          password: Password,
          workspaceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        }),
      },
    },
    async (request, reply) => {
      if (!config.allowSignup)
        throw new AppError(403, 'signup_closed', 'sign-up is closed on this installation');
      const body = request.body;
      const email = body.email.trim().toLowerCase();
      if (!EMAIL.test(email))
        throw new AppError(400, 'invalid_email', 'that is not an email address');
      const problem = passwordProblem(body.password);
      if (problem) throw new AppError(400, 'weak_password', problem);
      const created = await store.createAccount({
        email,
        passwordHash: await hashPassword(body.password),
        workspaceName: body.workspaceName?.trim() || email.split('@')[0] || 'Workspace',
        at: now(),
      });
      if (created === 'email_taken')
        throw new AppError(409, 'email_taken', 'an account with this email exists');
      return startSession(reply, created, 201);
    },
  );

  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['accounts'],
        summary: 'Log in; answers with a session token and sets the session cookie',
        body: Type.Object({ email: Email, password: Password }),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const found = await store.findLogin(body.email.trim().toLowerCase());
      const ok = await verifyPassword(body.password, found?.passwordHash ?? DUMMY_HASH);
      if (!found || !ok) throw new AppError(401, 'invalid_credentials', 'wrong email or password');
      return startSession(reply, { user: found.user, workspace: found.workspace }, 200);
    },
  );

  app.post(
    '/auth/logout',
    { config: { public: true }, schema: { tags: ['accounts'], summary: 'End this session' } },
    async (request, reply) => {
      const token = bearerToken(request);
      if (token) await store.deleteSession(hashToken(token));
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send();
    },
  );

  app.get(
    '/me',
    { schema: { tags: ['accounts'], summary: 'The caller and their workspace' } },
    async (request) => {
      const acc = account(request);
      return { user: acc.user, workspace: acc.workspace };
    },
  );
}
