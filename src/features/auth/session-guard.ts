import { AppError } from '../../errors/app-error.js';
import type { Revocations } from './revocations.js';
import type { SessionsRepo } from './sessions.repo.js';
import type { AccessTokens } from './tokens.js';

import { userPrincipal, type Principal } from './principal.js';

export interface SessionGuard {
  /** Verifies an access token and that its session and user are still live. */
  authenticate(accessToken: string): Promise<Principal>;
}

interface Cached {
  userId: string;
  principal: Principal | null;
  until: number;
}

const MAX_CACHED = 10_000;

/**
 * Logout and deactivation must bite at once, on every instance, so every request checks the
 * session and the user. The answer is reused for at most `cacheMs`, and only while every
 * revocation reaches this instance (`revocations.heard()`); a revocation drops what it names.
 */
export function createSessionGuard(deps: {
  sessions: Pick<SessionsRepo, 'findLive'>;
  tokens: AccessTokens;
  revocations: Pick<Revocations, 'heard' | 'listen'>;
  cacheMs: number;
}): SessionGuard {
  const { sessions, tokens, revocations, cacheMs } = deps;
  const cache = new Map<string, Cached>();
  // Bumped by every revocation: an answer read from the database before one arrived is not kept.
  let epoch = 0;

  revocations.listen((revoked) => {
    epoch += 1;
    if (!revoked) cache.clear();
    else if ('session' in revoked) cache.delete(revoked.session);
    else for (const [sessionId, entry] of cache) if (entry.userId === revoked.user) cache.delete(sessionId);
  });

  async function load(sessionId: string, userId: string): Promise<Principal | null> {
    const now = Date.now();
    const remember = cacheMs > 0 && revocations.heard();
    const hit = remember ? cache.get(sessionId) : undefined;
    // A cached session still answers only to a token of its own user.
    if (hit && hit.until > now) return hit.userId === userId ? hit.principal : null;
    const started = epoch;
    const row = await sessions.findLive(sessionId);
    const principal = row && row.userId === userId ? userPrincipal({ id: row.userId, username: row.username, role: row.role }, sessionId) : null;
    if (remember && started === epoch && revocations.heard()) {
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(sessionId, { userId: row?.userId ?? userId, principal, until: now + cacheMs });
    }
    return principal;
  }

  return {
    async authenticate(accessToken) {
      const claims = await tokens.verify(accessToken);
      const principal = await load(claims.sessionId, claims.userId);
      if (!principal) throw new AppError('invalid_token', 'This session has ended; sign in again');
      return principal;
    },
  };
}
