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
  | 'role_fixed_by_config'
  | 'own_account'
  | 'wrong_password'
  | 'webhook_off'
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
  | 'headers_too_large'
  | 'request_timeout'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'origin_not_allowed'
  | 'database_unavailable'
  | 'service_unavailable'
  | 'sign_in_busy'
  | 'at_capacity'
  | 'issuer_unavailable'
  | 'internal_error';

export interface FieldError {
  path: string;
  message: string;
}

/** Where in a request a refused field came from; services leave it to the default, the body. */
export type InputPart = 'body' | 'query' | 'params' | 'headers';

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
  /** The part of the request `errors` paths are relative to (default: the body). */
  part?: InputPart;
  cause?: unknown;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly errors?: FieldError[];
  readonly rateLimit?: RateLimitInfo;
  readonly extra?: Record<string, string>;
  readonly part?: InputPart;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options.errors;
    this.rateLimit = options.rateLimit;
    this.extra = options.extra;
    this.part = options.part;
  }
}

/**
 * A refused input field, named as the service's input (`content`, `model`): which part of an
 * HTTP request it came from is the HTTP layer's business (src/http/problem.ts prefixes it).
 */
export function validationError(field: string, message: string, options: { detail?: string; part?: InputPart } = {}): AppError {
  return new AppError('validation_failed', options.detail ?? 'The request does not match the expected schema', {
    errors: [{ path: field, message }],
    part: options.part,
  });
}

export const isAppError = (value: unknown): value is AppError => value instanceof AppError;
