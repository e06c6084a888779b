import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import type { SessionsRepo } from './sessions.repo.js';
import type { AccessTokens } from './tokens.js';

import { userPrincipal, type Principal } from './principal.js';

export interface SessionGuard {
  /** Verifies an access token and that its session and user are still live. */
  authenticate(accessToken: string): Promise<Principal>;
  /** Drops what this instance remembers about a session (logout, revocation). */
  forget(sessionId: string): void;
}

interface Cached {
  principal: Principal | null;
  until: number;
}

const MAX_CACHED = 10_000;

/**
 * Logout and deactivation must bite at once, so every request checks the session and
 * the user. The answer is reused for at most `cacheMs` on this instance; local logouts
 * clear it immediately.
 */
export function createSessionGuard(deps: { sessions: SessionsRepo; tokens: AccessTokens; clock: Clock; cacheMs: number }): SessionGuard {
  const cache = new Map<string, Cached>();

  async function load(sessionId: string, userId: string): Promise<Principal | null> {
    const now = Date.now();
    const hit = cache.get(sessionId);
    // A cached session still answers only to a token of its own user.
    if (hit && hit.until > now) return hit.principal && hit.principal.actorId === userId ? hit.principal : null;
    const row = await deps.sessions.findWithUser(sessionId);
    const principal = row && !row.session.revokedAt && row.user.isActive && row.user.id === userId ? userPrincipal(row.user, sessionId) : null;
    if (deps.cacheMs > 0) {
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(sessionId, { principal, until: now + deps.cacheMs });
    }
    return principal;
  }

  return {
    async authenticate(accessToken) {
      const claims = await deps.tokens.verify(accessToken);
      const principal = await load(claims.sessionId, claims.userId);
      if (!principal) throw new AppError('invalid_token', 'This session has ended; sign in again');
      return principal;
    },
    forget(sessionId) {
      cache.delete(sessionId);
    },
  };
}
