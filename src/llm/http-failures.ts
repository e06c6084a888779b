import { LlmError } from './errors.js';
import { parseRetryAfter } from './retry.js';

function describeBody(body: string | undefined): string {
  return (body ?? '').slice(0, 300);
}

/** An HTTP answer other than success, as an LlmError (status undefined: no answer at all). */
export function fromStatus(status: number | undefined, retryAfter: string | undefined, responseBody: string | undefined, cause: unknown): LlmError {
  const retryAfterMs = parseRetryAfter(retryAfter);
  const body = describeBody(responseBody);
  if (status === 429 && /insufficient_quota/.test(body)) {
    return new LlmError('quota_exceeded', 'The model provider reports the account is out of quota', { status, cause });
  }
  if (status === 429) return new LlmError('rate_limited', 'The model provider is rate limiting', { status, retryAfterMs, cause });
  if (status === 408 || (status !== undefined && status >= 500)) {
    return new LlmError('server_error', `The model provider failed (${status})`, { status, retryAfterMs, cause });
  }
  // No status, or a 2xx whose body broke off (the connection dropped mid-answer).
  if (status === undefined || (status >= 200 && status < 300)) {
    return new LlmError('network_error', 'The model provider could not be reached or cut the answer short', { status, cause });
  }
  return new LlmError('rejected', `The model provider refused the request (${status}): ${body}`, { status, cause });
}

