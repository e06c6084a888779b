// The credential strategy for `Bearer parley_sk_…` (§3.3). A key whose checksum fails is refused
// before any database read. A valid-looking key is checked against the database on every
// request, so a deleted key is refused on the very next request on every instance: by its own
// indexed read, or — on routes whose first statement checks the key itself (`deferred`, the
// OpenAI endpoint) — inside that statement, with the key's owner and chatbot taken from a
// recent lookup. Its last use is written in batches (at most one write per key per flush).
import { AppError } from '../../errors/app-error.js';
import type { RateRule } from '../../config/parsers.js';
import type { Clock } from '../../lib/clock.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { CredentialStrategy } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import type { ApiKeysRepo, KeyOwner } from './api-keys.repo.js';
import { checksumHolds, hashKey, looksLikeKey } from './key-format.js';

export interface KeyCredentials extends CredentialStrategy {
  /**
   * For routes whose first statement checks the key (Principal.keyCheck): a key looked up lately
   * is not read again here, the statement does it together with the route's own work.
   */
  deferred: CredentialStrategy;
  /** The key of a deferred principal, read now: for a route that must know it is valid before its first statement. */
  confirm(principal: Principal): Promise<Principal>;
  /** A statement found this key gone (or its owner deactivated): it is looked up again next time. */
  forget(principal: Principal): void;
  /** Writes the last use of the keys used since the previous flush. */
  flush(): Promise<void>;
}

const invalidKey = () => new AppError('invalid_token', 'The API key is not valid');

export function apiKeyPrincipal(key: KeyOwner): Principal {
  return { kind: 'apiKey', ownerId: key.userId, actorId: key.id, role: 'user', username: '', chatbotId: key.chatbotId, chatbotSlug: key.chatbotSlug, sessionId: null };
}

/**
 * Keys recently found valid, by hash: whose they are and for which chatbot. Never a proof that a
 * key is still valid (a deferred principal's statement checks that), so how long an entry lasts
 * bounds only memory and how stale a slug may be, never revocation.
 */
const RECENT_MAX = 10_000;
const RECENT_MS = 5 * 60_000;

function createRecentKeys(clock: Clock) {
  const recent = new Map<string, { owner: KeyOwner; until: number }>();
  return {
    remember(hash: string, owner: KeyOwner) {
      recent.delete(hash);
      recent.set(hash, { owner, until: clock.now().getTime() + RECENT_MS });
      // Oldest first in a Map's order: drop from the front.
      if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value!);
    },
    /** The key's owner while the entry lasts. */
    get(hash: string): KeyOwner | null {
      const seen = recent.get(hash);
      return seen && seen.until >= clock.now().getTime() ? seen.owner : null;
    },
    forget: (hash: string) => void recent.delete(hash),
  };
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
  const recent = createRecentKeys(clock);

  /** Counts the call against the key's limit and records its use. */
  async function admitted(owner: KeyOwner): Promise<Principal> {
    used.set(owner.id, clock.now());
    await limiter.consume(policy, owner.id);
    return apiKeyPrincipal(owner);
  }

  async function lookUp(hash: string): Promise<KeyOwner> {
    const key = await keys.findByHash(hash);
    if (!key) {
      recent.forget(hash);
      throw invalidKey();
    }
    recent.remember(hash, key);
    return key;
  }

  async function authenticate(token: string): Promise<Principal> {
    if (!checksumHolds(token)) throw invalidKey();
    return admitted(await lookUp(hashKey(token)));
  }

  return {
    claims: looksLikeKey,
    authenticate,
    deferred: {
      claims: looksLikeKey,
      async authenticate(token) {
        if (!checksumHolds(token)) throw invalidKey();
        const hash = hashKey(token);
        const seen = recent.get(hash);
        if (!seen) return admitted(await lookUp(hash));
        return { ...(await admitted(seen)), keyCheck: { keyId: seen.id, hash } };
      },
    },
    async confirm(principal) {
      if (!principal.keyCheck) return principal;
      const key = await lookUp(principal.keyCheck.hash);
      return { ...apiKeyPrincipal(key), ...(principal.endUser === undefined ? {} : { endUser: principal.endUser }) };
    },
    forget(principal) {
      if (principal.keyCheck) recent.forget(principal.keyCheck.hash);
    },
    async flush() {
      if (used.size === 0) return;
      const batch = used;
      used = new Map();
      await keys.touch([...batch].map(([id, at]) => ({ id, at })));
    },
  };
}
