import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { ExternalIdentities } from './external-identity.js';
import type { Caller, SessionGuard } from './session-guard.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

// A JWT is three base64url parts; anything longer than this is not one of ours.
const MAX_TOKEN_LENGTH = 4096;

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/** onRequest hook: the caller must present a live access token, Parley's own or an external issuer's. */
export function requireCaller(guard: SessionGuard, external?: ExternalIdentities, adminUsernames: readonly string[] = []) {
  const admins = new Set(adminUsernames.map((name) => name.toLowerCase()));
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new AppError('unauthorized', 'Send an access token: Authorization: Bearer <token>');
    if (token.length > MAX_TOKEN_LENGTH) throw new AppError('invalid_token', 'The access token is not valid');
    const caller = external?.claims(token) ? await external.authenticate(token) : await guard.authenticate(token);
    // ADMIN_USERNAMES names local accounts only: an external token cannot claim an admin's name.
    const named = caller.user.issuer === null && admins.has(caller.user.username.toLowerCase());
    request.caller = named && caller.user.role !== 'admin' ? { ...caller, user: { ...caller.user, role: 'admin' } } : caller;
  };
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new AppError('unauthorized', 'Send an access token: Authorization: Bearer <token>');
  return request.caller;
}
