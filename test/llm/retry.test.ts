// Retries of model calls (§6.3): exponential backoff with jitter, Retry-After honoured but
// bounded, a bounded number of attempts, never a retry once text reached the user; and how
// provider failures are classified into retryable and final ones.
import { APICallError } from '@ai-sdk/provider';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LlmError, type LlmFailure } from '../../src/llm/errors.js';
import { classify } from '../../src/llm/openai-compatible.js';
import { parseRetryAfter, retryDelay, withRetries, type RetryPolicy } from '../../src/llm/retry.js';

const policy: RetryPolicy = { maxRetries: 2, baseMs: 100, maxDelayMs: 1000 };
const serverError = () => new LlmError('server_error', 'The model provider failed (500)', { status: 500 });

describe('retryDelay', () => {
  it('doubles the ceiling with each attempt, up to maxDelayMs', () => {
    const top = () => 0.999999;
    expect([0, 1, 2, 3, 4, 10].map((attempt) => retryDelay(policy, attempt, serverError(), top))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('jitters between half the ceiling and the ceiling', () => {
    expect(retryDelay(policy, 2, serverError(), () => 0)).toBe(200);
    expect(retryDelay(policy, 2, serverError(), () => 0.5)).toBe(300);
    for (let i = 0; i < 200; i++) {
      const delay = retryDelay(policy, 3, serverError());
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
    const spread = new Set(Array.from({ length: 50 }, () => retryDelay(policy, 3, serverError())));
    expect(spread.size).toBeGreaterThan(1);
  });

  it("takes the provider's Retry-After over the backoff, but never waits longer than maxDelayMs", () => {
    const limited = (retryAfterMs: number) => new LlmError('rate_limited', 'slow down', { status: 429, retryAfterMs });
    expect(retryDelay(policy, 0, limited(700), () => 0)).toBe(700);
    expect(retryDelay(policy, 3, limited(50), () => 1)).toBe(50);
    expect(retryDelay(policy, 0, limited(0), () => 1)).toBe(0);
    expect(retryDelay(policy, 0, limited(3_600_000), () => 0)).toBe(1000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it('reads delay-seconds, whole or fractional, around whitespace', () => {
    expect(parseRetryAfter('1')).toBe(1000);
    expect(parseRetryAfter(' 30 ')).toBe(30_000);
    expect(parseRetryAfter('0')).toBe(0);
    expect(parseRetryAfter('1.5')).toBe(1500);
  });

  it('reads an HTTP date as the time left until it (none when it has passed)', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:30:00 GMT', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
  });

  it('ignores a missing or meaningless value, so the backoff applies', () => {
    for (const value of [undefined, '', '   ', 'soon', 'tomorrow', '5m', '1e3', 'NaN']) {
      expect(parseRetryAfter(value, now), JSON.stringify(value)).toBeUndefined();
    }
  });

  it('ignores a negative number or stray text rather than retrying at once', () => {
    // Neither is delay-seconds nor an HTTP date (RFC 9110 §10.2.3), even if Date.parse accepts them.
    for (const value of ['-1', '-5', 'abc 1', '1,5']) {
      expect(parseRetryAfter(value, now), JSON.stringify(value)).toBeUndefined();
    }
  });
});

describe('withRetries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const fast: RetryPolicy = { maxRetries: 2, baseMs: 1, maxDelayMs: 5 };

  /** An attempt function that throws the given errors in turn, then answers 'ok'. */
  function scripted(...errors: unknown[]) {
    const calls: number[] = [];
    const attempt = async (index: number) => {
      calls.push(index);
      const next = errors.shift();
      if (next !== undefined) throw next;
      return 'ok';
    };
    return { calls, attempt };
  }

  it('retries retryable failures and returns the first success', async () => {
    const { calls, attempt } = scripted(serverError(), new LlmError('network_error', 'cut'));
    await expect(withRetries(fast, new AbortController().signal, () => false, attempt)).resolves.toBe('ok');
    expect(calls).toEqual([0, 1, 2]);
  });

  it('stops after maxRetries retries with the last failure', async () => {
    const last = new LlmError('timeout', 'too slow');
    const { calls, attempt } = scripted(serverError(), serverError(), last, serverError());
    await expect(withRetries(fast, new AbortController().signal, () => false, attempt)).rejects.toBe(last);
    expect(calls).toEqual([0, 1, 2]);
  });

  it('makes one attempt only when maxRetries is 0', async () => {
    const { calls, attempt } = scripted(serverError());
    await expect(withRetries({ ...fast, maxRetries: 0 }, new AbortController().signal, () => false, attempt)).rejects.toThrow(LlmError);
    expect(calls).toEqual([0]);
  });

  for (const failure of ['quota_exceeded', 'rejected', 'stream_error', 'aborted'] as LlmFailure[]) {
    it(`does not retry ${failure}`, async () => {
      const error = new LlmError(failure, failure);
      const { calls, attempt } = scripted(error);
      await expect(withRetries(fast, new AbortController().signal, () => false, attempt)).rejects.toBe(error);
      expect(calls).toEqual([0]);
    });
  }

  it('passes other errors through untouched, without retrying', async () => {
    const bug = new TypeError('not a model failure');
    const { calls, attempt } = scripted(bug);
    await expect(withRetries(fast, new AbortController().signal, () => false, attempt)).rejects.toBe(bug);
    expect(calls).toEqual([0]);
  });

  it('does not retry once text has reached the caller', async () => {
    let started = false;
    const error = new LlmError('network_error', 'dropped mid-answer');
    const calls: number[] = [];
    const attempt = async (index: number) => {
      calls.push(index);
      started = true;
      throw error;
    };
    await expect(withRetries(fast, new AbortController().signal, () => started, attempt)).rejects.toBe(error);
    expect(calls).toEqual([0]);
  });

  it('does not retry when the caller has already gone', async () => {
    const controller = new AbortController();
    const calls: number[] = [];
    const attempt = async (index: number) => {
      calls.push(index);
      controller.abort();
      throw serverError();
    };
    await expect(withRetries(fast, controller.signal, () => false, attempt)).rejects.toMatchObject({ failure: 'server_error' });
    expect(calls).toEqual([0]);
  });

  it("waits the provider's Retry-After before the next attempt", async () => {
    vi.useFakeTimers();
    const { calls, attempt } = scripted(new LlmError('rate_limited', 'slow down', { status: 429, retryAfterMs: 1000 }));
    const result = withRetries({ maxRetries: 2, baseMs: 10, maxDelayMs: 30_000 }, new AbortController().signal, () => false, attempt);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('ok');
    expect(calls).toEqual([0, 1]);
  });

  it('rejects as aborted as soon as the caller cancels during the wait, without another attempt', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const { calls, attempt } = scripted(new LlmError('rate_limited', 'slow down', { status: 429, retryAfterMs: 20_000 }));
    const result = withRetries({ maxRetries: 2, baseMs: 10, maxDelayMs: 30_000 }, controller.signal, () => false, attempt);
    const settled = result.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(50);
    controller.abort();
    // No timer is advanced past the wait: the rejection comes from the abort itself.
    const outcome = await settled;
    expect(outcome).toBeInstanceOf(LlmError);
    expect((outcome as LlmError).failure).toBe('aborted');
    expect(calls).toEqual([0]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('classify (provider errors → LlmError)', () => {
  function apiError(statusCode: number | undefined, responseBody?: string, responseHeaders?: Record<string, string>) {
    return new APICallError({
      message: 'call failed',
      url: 'http://127.0.0.1:1/v1/chat/completions',
      requestBodyValues: {},
      statusCode,
      responseBody,
      responseHeaders,
    });
  }
  const quotaBody = JSON.stringify({ error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } });

  it('a 429 for insufficient_quota is quota_exceeded, which is final', () => {
    const error = classify(apiError(429, quotaBody), false, false);
    expect(error).toMatchObject({ failure: 'quota_exceeded', retryable: false });
    expect(error.details.status).toBe(429);
  });

  it('another 429 is rate_limited, retryable, with the Retry-After it carried', () => {
    const body = JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });
    expect(classify(apiError(429, body, { 'retry-after': '2' }), false, false)).toMatchObject({
      failure: 'rate_limited',
      retryable: true,
      details: { status: 429, retryAfterMs: 2000 },
    });
    expect(classify(apiError(429, body), false, false).details.retryAfterMs).toBeUndefined();
  });

  it('5xx and 408 are server_error, retryable', () => {
    for (const status of [500, 502, 503, 504, 408]) {
      expect(classify(apiError(status, 'upstream down'), false, false), String(status)).toMatchObject({ failure: 'server_error', retryable: true, details: { status } });
    }
    expect(classify(apiError(503, '', { 'retry-after': '3' }), false, false).details.retryAfterMs).toBe(3000);
  });

  it('other 4xx are rejected, final, and say what the provider answered', () => {
    const error = classify(apiError(400, '{"error":{"message":"model not found"}}'), false, false);
    expect(error).toMatchObject({ failure: 'rejected', retryable: false, details: { status: 400 } });
    expect(error.message).toContain('model not found');
    expect(classify(apiError(401, 'bad key'), false, false).failure).toBe('rejected');
  });

  it('a 200 whose body broke off, or no answer at all, is network_error, retryable', () => {
    expect(classify(apiError(200, '{"id":"chatcmpl-1","choi'), false, false)).toMatchObject({ failure: 'network_error', retryable: true });
    expect(classify(apiError(undefined), false, false)).toMatchObject({ failure: 'network_error', retryable: true });
    expect(classify(new TypeError('fetch failed'), false, false)).toMatchObject({ failure: 'network_error', retryable: true });
  });

  it('a call cut by the timeout is timeout; one cut by the caller is aborted (final)', () => {
    const cut = new DOMException('This operation was aborted', 'AbortError');
    expect(classify(cut, true, false)).toMatchObject({ failure: 'timeout', retryable: true });
    expect(classify(cut, false, true)).toMatchObject({ failure: 'aborted', retryable: false });
    expect(classify(cut, true, true).failure).toBe('aborted');
  });

  it('keeps an LlmError as it is, unless the call timed out or was cancelled', () => {
    const error = new LlmError('stream_error', 'The model stream failed');
    expect(classify(error, false, false)).toBe(error);
    // The idle timer aborts the request, which surfaces as "aborted": it is a timeout, and retryable.
    const timedOut = classify(new LlmError('aborted', 'The request was cancelled'), true, false);
    expect(timedOut.failure).toBe('timeout');
    expect(timedOut.retryable).toBe(true);
    expect(classify(new LlmError('aborted', 'The request was cancelled'), true, true).failure).toBe('aborted');
  });
});
