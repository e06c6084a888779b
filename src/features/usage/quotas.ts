// Usage limits that refuse with 429 `quota_exceeded` (§11, §12): a chatbot's monthly token
// budget (decided by the turn's begin statement from usage_daily) and an account's daily message
// cap (counted in the rate-limit store, so several instances share it through Redis).
import type { RateRule } from '../../config/parsers.js';
import { AppError } from '../../errors/app-error.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';

const DAY_MS = 86_400_000;

/** The first instant of the next UTC month. */
export function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/** A chatbot whose month is spent: Retry-After runs to the start of next month (UTC). */
export function budgetSpent(budget: number, now: Date): AppError {
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const next = nextMonthStart(now).getTime();
  return new AppError('quota_exceeded', "This chatbot's monthly token budget is spent; it answers again next month", {
    rateLimit: {
      policy: 'token_budget_monthly',
      limit: budget,
      windowSeconds: Math.round((next - monthStart) / 1000),
      remaining: 0,
      resetSeconds: Math.max(1, Math.ceil((next - now.getTime()) / 1000)),
    },
  });
}

export interface DailyMessageCap {
  /**
   * Counts one message the account sends today (UTC), refusing it once the day's are spent. Counted
   * as it arrives, so messages that come together (on any instance) cannot all pass a cap that has
   * room for one. Returns the give-back, for a message refused afterwards (its turn never started).
   */
  take(userId: string, now: Date): Promise<() => Promise<void>>;
}

const nothingToGiveBack = async () => {};

/** USAGE_MESSAGES_PER_DAY: null turns it off. Days are UTC calendar days, not rolling windows. */
export function createDailyMessageCap(limiter: RateLimiter, perDay: number | null): DailyMessageCap {
  const policyOn = (now: Date) => {
    const untilMidnight = DAY_MS - (now.getTime() % DAY_MS);
    const rule: RateRule = { limit: perDay!, windowMs: untilMidnight };
    return { policy: { name: 'messages_day', rule }, day: now.toISOString().slice(0, 10) };
  };
  return {
    async take(userId, now) {
      if (perDay === null) return nothingToGiveBack;
      const { policy, day } = policyOn(now);
      const key = `${userId}:${day}`;
      try {
        await limiter.consume(policy, key);
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'rate_limited' || !error.rateLimit) throw error;
        // A refused message is not one of the day's: the count stays at the cap.
        await limiter.release(policy, key).catch(() => {});
        throw new AppError('quota_exceeded', `You have sent the ${perDay} messages a day this server allows; try again tomorrow (UTC)`, {
          rateLimit: { ...error.rateLimit, windowSeconds: DAY_MS / 1000 },
        });
      }
      // The limiter logs a store fault; a give-back that fails leaves the message counted.
      return () => limiter.release(policy, key).catch(() => {});
    },
  };
}
