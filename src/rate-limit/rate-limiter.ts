import type { RateRule } from '../config/parsers.js';
import { AppError, type RateLimitInfo } from '../errors/app-error.js';
import type { RateLimitStore, WindowState } from './stores.js';

export interface Policy {
  name: string;
  rule: RateRule | null;
}

export interface RateLimiter {
  /** Counts one attempt and refuses (429) when it is over the limit. */
  consume(policy: Policy, key: string): Promise<void>;
  /**
   * Gives back one attempt `consume` counted, for limits that count only failures but must
   * count an attempt before its outcome is known (concurrent attempts must not all pass a check).
   */
  release(policy: Policy, key: string): Promise<void>;
  /** Counts one attempt without refusing (e.g. a failed login, counted once its outcome is known). */
  record(policy: Policy, key: string): Promise<void>;
  /** Remembers a fact for a while (e.g. "this address signed in to this account"). */
  remember(name: string, key: string, ttlMs: number): Promise<void>;
  recalls(name: string, key: string): Promise<boolean>;
}

export interface RateLimiterDeps {
  store: RateLimitStore;
  failureMode: 'open' | 'closed';
  onRefused: (policy: string) => void;
  onStoreError: (error: unknown) => void;
}

function info(policy: Policy & { rule: RateRule }, state: WindowState): RateLimitInfo {
  return {
    policy: policy.name,
    limit: policy.rule.limit,
    windowSeconds: Math.ceil(policy.rule.windowMs / 1000),
    remaining: Math.max(0, policy.rule.limit - state.count),
    resetSeconds: Math.max(1, Math.ceil(state.resetMs / 1000)),
  };
}

export function createRateLimiter(deps: RateLimiterDeps): RateLimiter {
  // A store outage either lets traffic through (open) or refuses it (closed); it never crashes a request.
  async function guarded<T>(work: () => Promise<T>): Promise<T | null> {
    try {
      return await work();
    } catch (error) {
      deps.onStoreError(error);
      if (deps.failureMode === 'closed') {
        throw new AppError('service_unavailable', 'Rate limiting is unavailable; try again shortly', { cause: error });
      }
      return null;
    }
  }

  function refuse(policy: Policy & { rule: RateRule }, state: WindowState): never {
    deps.onRefused(policy.name);
    throw new AppError('rate_limited', 'Too many requests; try again later', { rateLimit: { ...info(policy, state), remaining: 0 } });
  }

  const key = (policy: Policy, id: string) => `${policy.name}:${id}`;

  return {
    async consume(policy, id) {
      const { rule } = policy;
      if (!rule) return;
      const state = await guarded(() => deps.store.hit(key(policy, id), rule.windowMs));
      if (state && state.count > rule.limit) refuse({ ...policy, rule }, state);
    },
    async release(policy, id) {
      if (!policy.rule) return;
      await guarded(() => deps.store.undo(key(policy, id)));
    },
    async record(policy, id) {
      const { rule } = policy;
      if (!rule) return;
      await guarded(() => deps.store.hit(key(policy, id), rule.windowMs));
    },
    async remember(name, id, ttlMs) {
      await guarded(() => deps.store.hit(`${name}:${id}`, ttlMs));
    },
    async recalls(name, id) {
      const state = await guarded(() => deps.store.peek(`${name}:${id}`));
      return state !== null;
    },
  };
}
