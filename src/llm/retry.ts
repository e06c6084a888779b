import { CANCELLED, LlmError } from './errors.js';

export interface RetryPolicy {
  maxRetries: number;
  baseMs: number;
  /** No single wait is longer than this, whatever Retry-After asks. */
  maxDelayMs: number;
}

/** Exponential backoff with full jitter, or the provider's Retry-After when it gave one. */
export function retryDelay(policy: RetryPolicy, attempt: number, error: LlmError, random = Math.random): number {
  if (error.details.retryAfterMs !== undefined) return Math.min(error.details.retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.baseMs * 2 ** attempt, policy.maxDelayMs);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(CANCELLED);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(CANCELLED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails for good, or retries run out. Once text has
 * reached the caller (`started()`), a failure is final: a retry would repeat or contradict it.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  signal: AbortSignal,
  started: () => boolean,
  attempt: (index: number) => Promise<T>,
): Promise<T> {
  for (let index = 0; ; index++) {
    try {
      return await attempt(index);
    } catch (error) {
      if (!(error instanceof LlmError)) throw error;
      if (!error.retryable || started() || index >= policy.maxRetries || signal.aborted) throw error;
      await sleep(retryDelay(policy, index, error), signal);
    }
  }
}

/** Retry-After as seconds or an HTTP date → milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Only the HTTP date forms (e.g. "Wed, 21 Oct 2015 07:28:00 GMT"): Date.parse accepts junk such as "-1".
  if (!/^[A-Za-z]{3},? \d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$|^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/.test(trimmed)) {
    return undefined;
  }
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
