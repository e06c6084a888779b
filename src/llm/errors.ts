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

export const isLlmError = (value: unknown): value is LlmError => value instanceof LlmError;
