// The one error type services throw. It carries a stable code and a human detail;
// src/http/problem.ts alone decides how a code becomes an HTTP answer.

export type ErrorCode =
  | 'unauthorized'
  | 'invalid_token'
  | 'invalid_credentials'
  | 'refresh_token_reused'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'username_taken'
  | 'email_taken'
  | 'slug_taken'
  | 'conversation_busy'
  | 'nothing_to_regenerate'
  | 'idempotency_key_reused'
  | 'idempotency_key_in_use'
  | 'llm_unavailable'
  | 'bad_request'
  | 'invalid_json'
  | 'invalid_form'
  | 'validation_failed'
  | 'unsupported_grant_type'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'rate_limited'
  | 'database_unavailable'
  | 'service_unavailable'
  | 'issuer_unavailable'
  | 'internal_error';

export interface FieldError {
  path: string;
  message: string;
}

export interface RateLimitInfo {
  policy: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
}

export interface AppErrorOptions {
  errors?: FieldError[];
  rateLimit?: RateLimitInfo;
  /** Extra members for the problem body, e.g. OAuth2's `error` on the token endpoint. */
  extra?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly rateLimit?: RateLimitInfo;
  readonly extra?: Record<string, string>;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options.errors;
    this.rateLimit = options.rateLimit;
    this.extra = options.extra;
  }
}

export const isAppError = (value: unknown): value is AppError => value instanceof AppError;
