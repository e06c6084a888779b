// Whether a host site's signed-in user may still act through the visitor token their visit got
// (§7 verified visitors). The token lives 30 days; deactivation stops everything of a user at once
// (§3), so each use asks whether the account is still active. Answers are kept as the session
// guard keeps its own: for AUTH_CACHE_MS at most, only while every revocation reaches this
// instance, and dropped by a revocation naming the user.
import type { Revocations } from '../auth/revocations.js';
import type { UsersRepo } from '../users/users.repo.js';

export interface AccountStanding {
  isActive(userId: string): Promise<boolean>;
}

const MAX_CACHED = 10_000;

export function createAccountStanding(deps: {
  users: Pick<UsersRepo, 'findById'>;
  revocations: Pick<Revocations, 'heard' | 'listen'>;
  cacheMs: number;
  now: () => number;
}): AccountStanding {
  const { users, revocations, cacheMs, now } = deps;
  const cache = new Map<string, { active: boolean; until: number }>();
  // Bumped by every account revocation: an answer read before one arrived is not kept.
  let epoch = 0;

  revocations.listen((revoked) => {
    if (revoked && 'session' in revoked) return;
    epoch += 1;
    if (!revoked) cache.clear();
    else cache.delete(revoked.user);
  });

  return {
    async isActive(userId) {
      const remember = cacheMs > 0 && revocations.heard();
      const hit = remember ? cache.get(userId) : undefined;
      if (hit && hit.until > now()) return hit.active;
      const started = epoch;
      const active = (await users.findById(userId))?.isActive === true;
      if (remember && started === epoch && revocations.heard()) {
        if (cache.size >= MAX_CACHED) cache.clear();
        cache.set(userId, { active, until: now() + cacheMs });
      }
      return active;
    },
  };
}
