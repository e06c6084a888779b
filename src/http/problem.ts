// The single place where errors become HTTP answers: RFC 9457 problem+json.
import { AppError, type ErrorCode, type FieldError, type InputPart } from '../errors/app-error.js';
import { isDatabaseUnavailable } from '../db/errors.js';

const STATUS: Record<ErrorCode, number> = {
  unauthorized: 401,
  invalid_token: 401,
  invalid_credentials: 401,
  refresh_token_reused: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  username_taken: 409,
  email_taken: 409,
  slug_taken: 409,
  conversation_busy: 409,
  nothing_to_regenerate: 409,
  role_fixed_by_config: 409,
  own_account: 409,
  wrong_password: 403,
  webhook_off: 409,
  idempotency_key_reused: 422,
  idempotency_key_in_use: 409,
  llm_unavailable: 502,
  bad_request: 400,
  invalid_json: 400,
  invalid_form: 400,
  validation_failed: 422,
  unsupported_grant_type: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  headers_too_large: 431,
  request_timeout: 408,
  rate_limited: 429,
  quota_exceeded: 429,
  origin_not_allowed: 403,
  database_unavailable: 503,
  service_unavailable: 503,
  sign_in_busy: 503,
  at_capacity: 503,
  issuer_unavailable: 503,
  internal_error: 500,
};

// Faults that pass on their own, and how many seconds a client should wait before trying again.
const RETRY_AFTER_S: Partial<Record<ErrorCode, number>> = {
  issuer_unavailable: 30,
  at_capacity: 2,
  sign_in_busy: 1,
};

// A server out of room needs its descriptors more than a keep-alive: the connection is let go.
const CLOSE_CONNECTION: ReadonlySet<ErrorCode> = new Set(['at_capacity']);

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** 5xx refusals logged where they are decided, once a minute (turn-slots.ts), not once per request. */
export const loggedWhereDecided = (code: string | null): boolean => code === 'at_capacity' || code === 'sign_in_busy';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export interface Problem {
  status: number;
  body: ProblemBody;
  headers: Record<string, string>;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  validation?: Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>;
  validationContext?: string;
}

/** Turns a Fastify error (parsing, validation, limits) into our vocabulary. */
function fromFastify(error: FastifyLikeError & Error): AppError | null {
  if (error.validation) {
    const part = error.validationContext === 'querystring' ? 'query' : ((error.validationContext ?? 'body') as InputPart);
    return new AppError('validation_failed', 'The request does not match the expected schema', {
      errors: error.validation.map((issue) => toFieldError(issue)),
      part,
    });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send application/json (or application/x-www-form-urlencoded where documented)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('invalid_json', 'The request body is empty or its length is wrong');
  }
  return null;
}

function toFieldError(issue: NonNullable<FastifyLikeError['validation']>[number]): FieldError {
  const segments = issue.instancePath.split('/').filter(Boolean);
  if (issue.keyword === 'required') segments.push(String(issue.params.missingProperty));
  if (issue.keyword === 'additionalProperties') {
    segments.push(String(issue.params.additionalProperty));
    return { path: segments.join('.'), message: 'is not an accepted field' };
  }
  const message = issue.keyword === 'required' ? 'is required' : (issue.message ?? 'is invalid');
  return { path: segments.join('.'), message };
}

/** Field paths name the part of the request they are in: `body.content`, `query.cursor`. */
const inRequest = (errors: FieldError[], part: InputPart): FieldError[] =>
  errors.map((error) => ({ ...error, path: error.path ? `${part}.${error.path}` : part }));

export function toProblem(error: unknown, requestId: string): { problem: Problem; unexpected: boolean } {
  let appError: AppError;
  let unexpected = false;
  const raised = (error as FastifyLikeError | null)?.statusCode;
  // Fastify marks what it raised reading the request 4xx: the client's, whatever its code. A
  // client that leaves mid-body raises Node's ECONNRESET "aborted", which is no database's reset.
  const fromRequest = typeof raised === 'number' && raised >= 400 && raised < 500;
  if (error instanceof AppError) appError = error;
  else if (!fromRequest && isDatabaseUnavailable(error)) appError = new AppError('database_unavailable', 'The database is unavailable; try again shortly');
  else {
    const mapped = error instanceof Error ? fromFastify(error as FastifyLikeError & Error) : null;
    if (mapped) appError = mapped;
    else if (fromRequest && (error as FastifyLikeError).code === 'ECONNRESET') appError = new AppError('bad_request', 'The connection closed before the whole request body arrived');
    else if (fromRequest) appError = new AppError('bad_request', (error as Error).message);
    else {
      unexpected = true;
      appError = new AppError('internal_error', 'Something went wrong on our side; the error was logged');
    }
  }
  const status = STATUS[appError.code];
  const headers: Record<string, string> = {};
  const body: ProblemBody = {
    ...appError.extra,
    type: `urn:parley:problem:${appError.code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: appError.message,
    code: appError.code,
    request_id: requestId,
  };
  if (appError.errors) body.errors = inRequest(appError.errors, appError.part ?? 'body');
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  const retryAfter = RETRY_AFTER_S[appError.code];
  if (retryAfter) headers['retry-after'] = String(retryAfter);
  if (CLOSE_CONNECTION.has(appError.code)) headers.connection = 'close';
  // RFC 9110 §15.5.16: which content codings a request body may have (none).
  if (appError.code === 'unsupported_media_type') headers['accept-encoding'] = 'identity';
  if (appError.rateLimit) {
    const { policy, limit, windowSeconds, remaining, resetSeconds } = appError.rateLimit;
    headers['retry-after'] = String(resetSeconds);
    headers['ratelimit-policy'] = `"${policy}";q=${limit};w=${windowSeconds}`;
    headers.ratelimit = `"${policy}";r=${remaining};t=${resetSeconds}`;
  }
  return { problem: { status, body, headers }, unexpected };
}
