// The credential strategy for `Bearer parley_sk_…` (§3.3). A key whose checksum fails is refused
// before any database read. A valid-looking key is looked up on every request, never cached, so
// a deleted key is refused on the very next request on every instance; the lookup is one indexed
// read. Its last use is written in batches (at most one write per key per flush), not per call.
import { AppError } from '../../errors/app-error.js';
import type { RateRule } from '../../config/parsers.js';
import type { Clock } from '../../lib/clock.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { CredentialStrategy } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import type { ApiKeysRepo, KeyOwner } from './api-keys.repo.js';
import { checksumHolds, hashKey, looksLikeKey } from './key-format.js';

export interface KeyCredentials extends CredentialStrategy {
  /** Writes the last use of the keys used since the previous flush. */
  flush(): Promise<void>;
}

const invalidKey = () => new AppError('invalid_token', 'The API key is not valid');

export function apiKeyPrincipal(key: KeyOwner): Principal {
  return { kind: 'apiKey', ownerId: key.userId, actorId: key.id, role: 'user', username: '', chatbotId: key.chatbotId, chatbotSlug: key.chatbotSlug, sessionId: null };
}

export function createKeyCredentials(deps: {
  keys: Pick<ApiKeysRepo, 'findByHash' | 'touch'>;
  limiter: Pick<RateLimiter, 'consume'>;
  clock: Clock;
  /** RATE_LIMIT_API_KEY: every request of one key, whichever end user it names. */
  perKey: RateRule | null;
}): KeyCredentials {
  const { keys, limiter, clock } = deps;
  const policy = { name: 'api_key', rule: deps.perKey };
  let used = new Map<string, Date>();
  return {
    claims: looksLikeKey,
    async authenticate(token) {
      if (!checksumHolds(token)) throw invalidKey();
      const key = await keys.findByHash(hashKey(token));
      if (!key) throw invalidKey();
      used.set(key.id, clock.now());
      await limiter.consume(policy, key.id);
      return apiKeyPrincipal(key);
    },
    async flush() {
      if (used.size === 0) return;
      const batch = used;
      used = new Map();
      await keys.touch([...batch].map(([id, at]) => ({ id, at })));
    },
  };
}
