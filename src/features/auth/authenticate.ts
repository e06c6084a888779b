// One dispatcher for every kind of bearer credential: Parley's own access tokens, external
// issuers' JWTs, and (as channels arrive) visitor tokens and chatbot API keys. Each kind is a
// strategy that recognises its tokens cheaply; the first that claims a token decides it.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import type { Principal, Role } from './principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

// Identity providers' tokens carry roles and groups (an Azure AD token up to 200 group ids, a
// Keycloak one every role): 5–10 KB is common, and a 4 KB bound refused their users. Node takes
// at most 16 KiB of headers, so a longer bearer never comes from a real client and is refused unread.
const MAX_TOKEN_LENGTH = 16 * 1024;

export interface CredentialStrategy {
  /** Whether this token is of this kind (no I/O, no verification). */
  claims(token: string): boolean;
  /** Verifies the token; throws AppError `invalid_token` (or a 503 for an infrastructure fault). */
  authenticate(token: string): Promise<Principal>;
}

export type Authenticate = (request: FastifyRequest) => Promise<void>;

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

const missing = () => new AppError('unauthorized', 'Send an access token: Authorization: Bearer <token>');

/**
 * onRequest hook: the caller must present a live credential. Strategies are tried in order;
 * the last one is the fallback for tokens no other claims (Parley's own access tokens).
 */
export function createAuthenticate(strategies: readonly CredentialStrategy[], fallback: CredentialStrategy): Authenticate {
  return async function authenticate(request) {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw missing();
    if (token.length > MAX_TOKEN_LENGTH) throw new AppError('invalid_token', 'The access token is not valid');
    const strategy = strategies.find((candidate) => candidate.claims(token)) ?? fallback;
    request.principal = await strategy.authenticate(token);
  };
}

/**
 * ADMIN_USERNAMES: local accounts that are admins whatever their stored role. The one place that
 * decides it, for the requests they make and for every answer that shows their role. Local
 * accounts only: an external token cannot claim an admin's name.
 */
export interface NamedAdmins {
  includes(user: { username: string; issuer: string | null }): boolean;
  roleOf(user: { username: string; issuer: string | null; role: Role }): Role;
}

export function namedAdmins(adminUsernames: readonly string[]): NamedAdmins {
  const names = new Set(adminUsernames.map((name) => name.toLowerCase()));
  const includes = (user: { username: string; issuer: string | null }) => user.issuer === null && names.has(user.username.toLowerCase());
  return { includes, roleOf: (user) => (includes(user) ? 'admin' : user.role) };
}

/** For Parley's own tokens, which are local accounts' (external users come through their issuer's strategy). */
export function withNamedAdmins(strategy: CredentialStrategy, admins: NamedAdmins): CredentialStrategy {
  return {
    claims: strategy.claims,
    async authenticate(token) {
      const principal = await strategy.authenticate(token);
      return { ...principal, role: admins.roleOf({ ...principal, issuer: null }) };
    },
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw missing();
  return request.principal;
}
