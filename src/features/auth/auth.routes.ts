import type { FastifyReply, onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { AppError, validationError } from '../../errors/app-error.js';
import { openRouteBodyLimit } from '../../http/body-limits.js';
import { registerFormParser } from '../../http/body-parsers.js';
import { emptyBodyAsObject } from '../../http/hooks.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { clientAddressKey } from '../../rate-limit/client-address.js';
import { UserSchema } from '../users/users.schemas.js';
import type { AuthService, TokenAnswer } from './auth.service.js';
import { ChangePasswordBody, LoginBody, LogoutBody, RefreshBody, RegisterBody, TokenAnswerSchema, TokenForm } from './auth.schemas.js';
import { principalOf } from './authenticate.js';

export interface AuthRoutesDeps {
  auth: AuthService;
  authenticate: onRequestHookHandler;
  /** AUTH_LOCAL: when false, only /v1/auth/me remains (external identities). */
  localAccounts: boolean;
}

const tags = ['auth'];

// Token answers must not be cached by browsers or proxies (RFC 6749 §5.1).
function sendTokens(reply: FastifyReply, status: number, answer: TokenAnswer) {
  return reply.code(status).header('cache-control', 'no-store').send(answer);
}

function missing(field: string): AppError {
  return validationError(field, 'is required');
}

export function registerAuthRoutes(app: App, deps: AuthRoutesDeps): void {
  const { auth, authenticate } = deps;

  app.get(
    '/v1/auth/me',
    {
      onRequest: authenticate,
      schema: { tags, summary: 'The signed-in user', security: bearerSecurity, response: { 200: UserSchema, ...problems(401) } },
    },
    async (request) => auth.me(principalOf(request)),
  );

  if (!deps.localAccounts) return;

  registerSignInRoutes(app, auth);

  // Its own scope, so the form parser applies to this route only.
  app.register(async (scope) => {
    registerFormParser(scope);
    registerTokenRoute(scope as App, auth);
  });

  registerSessionRoutes(app, deps);
}

function registerSignInRoutes(app: App, auth: AuthService): void {
  app.post(
    '/v1/auth/register',
    {
      bodyLimit: openRouteBodyLimit(app),
      schema: {
        tags,
        summary: 'Create an account and sign in',
        body: RegisterBody,
        response: { 201: TokenAnswerSchema, ...problems(400, 409, 413, 422, 429, 503) },
      },
    },
    async (request, reply) => sendTokens(reply, 201, await auth.register(request.body, { ip: clientAddressKey(request.ip) })),
  );

  app.post(
    '/v1/auth/login',
    {
      bodyLimit: openRouteBodyLimit(app),
      schema: {
        tags,
        summary: 'Sign in with username or email and password',
        body: LoginBody,
        response: { 200: TokenAnswerSchema, ...problems(400, 401, 413, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const { username, email, password } = request.body;
      const identifier = username ?? email;
      if (!identifier) throw missing('username');
      return sendTokens(reply, 200, await auth.login({ identifier, password }, { ip: clientAddressKey(request.ip) }));
    },
  );
}

function registerSessionRoutes(app: App, deps: AuthRoutesDeps): void {
  const { auth, authenticate } = deps;

  app.post(
    '/v1/auth/refresh',
    {
      bodyLimit: openRouteBodyLimit(app),
      schema: {
        tags,
        summary: 'Exchange a refresh token for a new pair (the old one stops working)',
        body: RefreshBody,
        response: { 200: TokenAnswerSchema, ...problems(400, 401, 413, 422, 429) },
      },
    },
    async (request, reply) => sendTokens(reply, 200, await auth.refresh(request.body.refresh_token)),
  );

  app.post(
    '/v1/auth/logout',
    {
      onRequest: authenticate,
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        summary: 'End this session (or, with `everywhere: true`, every session of the account): its access and refresh tokens stop working at once',
        security: bearerSecurity,
        body: LogoutBody,
        response: { 204: Type.Null(), ...problems(401, 422) },
      },
    },
    async (request, reply) => {
      await auth.logout(principalOf(request), { everywhere: request.body.everywhere === true });
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/v1/auth/password',
    {
      onRequest: authenticate,
      schema: {
        tags,
        summary: 'Change your password: every other session of the account ends at once',
        description:
          'Needs the current password. Sessions signed in elsewhere (and their refresh tokens) stop working on every instance; this one goes on. A wrong current password answers 403 `wrong_password` and counts against the account like a failed sign-in (`RATE_LIMIT_LOGIN_ACCOUNT`). An external issuer\'s user changes their password there (403).',
        security: bearerSecurity,
        body: ChangePasswordBody,
        response: { 204: Type.Null(), ...problems(401, 403, 413, 415, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      await auth.changePassword(principalOf(request), request.body);
      return reply.code(204).send(null);
    },
  );
}

function registerTokenRoute(app: App, auth: AuthService): void {
  app.post(
    '/v1/auth/token',
    {
      bodyLimit: openRouteBodyLimit(app),
      schema: {
        tags,
        summary: 'OAuth2 token endpoint (password and refresh_token grants)',
        description: 'Send `application/x-www-form-urlencoded` as OAuth2 clients do (JSON is accepted too). Unknown fields are ignored.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenForm,
        response: { 200: TokenAnswerSchema, ...problems(400, 401, 413, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      const form = request.body;
      const grant = form.grant_type ?? 'password';
      if (grant === 'password') {
        if (!form.username) throw missing('username');
        if (!form.password) throw missing('password');
        return sendTokens(reply, 200, await auth.login({ identifier: form.username, password: form.password }, { ip: clientAddressKey(request.ip) }));
      }
      if (grant === 'refresh_token') {
        if (!form.refresh_token) throw missing('refresh_token');
        return sendTokens(reply, 200, await auth.refresh(form.refresh_token));
      }
      throw new AppError('unsupported_grant_type', 'grant_type must be "password" or "refresh_token"', {
        extra: { error: 'unsupported_grant_type' },
      });
    },
  );
}
