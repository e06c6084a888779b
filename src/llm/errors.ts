export type LlmFailure =
  | 'rate_limited'
  | 'quota_exceeded'
  | 'server_error'
  | 'network_error'
  | 'timeout'
  | 'rejected'
  | 'stream_error'
  | 'aborted';

const RETRYABLE: ReadonlySet<LlmFailure> = new Set(['rate_limited', 'server_error', 'network_error', 'timeout']);

/** A model call that failed, classified so callers know whether another attempt can help. */
export class LlmError extends Error {
  override name = 'LlmError';
  constructor(
    readonly failure: LlmFailure,
    message: string,
    readonly details: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.failure);
  }
}

/**
 * A call cancelled on purpose (a stop, a client gone, shutdown) is not a fault and needs no stack:
 * one shared instance, so thousands of calls aborted together (every client leaving at once)
 * build no stack traces and leave no garbage. Never mutated.
 */
export const CANCELLED = new LlmError('aborted', 'The request was cancelled');

export const isLlmError = (value: unknown): value is LlmError => value instanceof LlmError;
