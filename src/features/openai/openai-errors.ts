// Errors in OpenAI's shape, `{error: {message, type, param, code}}`, on the OpenAI endpoints
// only (§8): the SDKs read `error.message` and map the status to their error classes, and would
// show a problem+json body as an unexplained failure. Statuses follow OpenAI's: an invalid
// request is 400 there (Parley's 422 elsewhere).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { describeError, needsOperator } from '../../db/errors.js';
import { AppError } from '../../errors/app-error.js';
import { maskKeys } from '../api-keys/key-format.js';
import { loggableError, type ForeignNotFound } from '../../http/hooks.js';
import { loggedWhereDecided, toProblem, type ProblemBody } from '../../http/problem.js';
import { failureAdvice } from '../../llm/failure-advice.js';
import type { OpenAiErrorBody } from './openai.schemas.js';

export interface OpenAiFailure {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

/** An unknown `model`: OpenAI's 404 `model_not_found`, which the SDKs raise as NotFoundError. */
export class ModelNotFound extends Error {
  override name = 'ModelNotFound';
  constructor(readonly model: string) {
    // A key sent as the model (the two strings swapped) is not echoed back: clients log error messages.
    super(`The model \`${maskKeys(model)}\` does not exist or you do not have access to it.`);
  }
}

/** A request Parley cannot honour (n > 1, tools, JSON or audio answers): OpenAI's 400 naming the parameter. */
export class Unsupported extends Error {
  override name = 'Unsupported';
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Statuses the OpenAI SDKs retry on their own (409, 429, 5xx, twice by default) where another
 * attempt is wrong: a spent monthly budget stays spent until the month turns (its Retry-After is
 * days, beyond what an SDK waits); a model failure comes after Parley's own bounded retries
 * upstream, and each attempt is a new model call, counted and billed again; an unexpected 500
 * may have come after the model answered. 409 is a request racing one in flight. A plain rate
 * limit (429 `rate_limited`) and an unavailable database (503) are left to the SDK: nothing was
 * done, and its wait honours Retry-After.
 */
const NO_RETRY = new Set(['quota_exceeded', 'llm_unavailable', 'internal_error']);
const noRetry = (status: number, code: string) => status === 409 || NO_RETRY.has(code);

function typeAndCode(status: number, code: string): { type: string; code: string } {
  if (status === 401) return { type: 'authentication_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'permission_error', code };
  if (code === 'quota_exceeded') return { type: 'insufficient_quota', code: 'insufficient_quota' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code };
  return { type: 'invalid_request_error', code };
}

/** `body.messages.0.role` → `messages.0.role`: OpenAI names the parameter, not the request part. */
function paramOf(problem: ProblemBody): string | null {
  const path = problem.errors?.[0]?.path;
  if (!path) return null;
  return path.replace(/^(body|query|params)\.?/, '') || null;
}

function messageOf(problem: ProblemBody): string {
  const first = problem.errors?.[0];
  if (!first) return problem.detail;
  const param = paramOf(problem);
  return `${problem.detail}: ${param ? `${param} ` : ''}${first.message}`;
}

/** Any error as OpenAI's answer: status (422 → 400), body and the headers to keep (Retry-After, RateLimit). */
export function toOpenAiFailure(error: unknown, requestId: string): { failure: OpenAiFailure; unexpected: boolean } {
  if (error instanceof ModelNotFound) {
    return { failure: { status: 404, body: { error: { message: error.message, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }, headers: {} }, unexpected: false };
  }
  if (error instanceof Unsupported) {
    return { failure: { status: 400, body: { error: { message: error.message, type: 'invalid_request_error', param: error.param, code: 'unsupported_parameter' } }, headers: {} }, unexpected: false };
  }
  const { problem, unexpected } = toProblem(error, requestId);
  const code = problem.body.code;
  const status = problem.status === 422 ? 400 : problem.status;
  const headers = { ...problem.headers };
  if (noRetry(status, code)) headers['x-should-retry'] = 'false';
  const shaped = typeAndCode(status, code);
  return { failure: { status, body: { error: { message: messageOf(problem.body), type: shaped.type, param: paramOf(problem.body), code: shaped.code } }, headers }, unexpected };
}

/** The error handler of the OpenAI routes: every refusal before the first byte, in OpenAI's shape. */
export function openAiErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const { failure, unexpected } = toOpenAiFailure(error, request.id);
  if (unexpected) request.log.error({ method: request.method, route: request.routeOptions.url ?? 'unmatched', error: loggableError(error) }, 'unexpected error');
  else if (needsOperator(error)) request.log.error({ error: describeError(error), code: failure.body.error.code }, 'the database is out of disk, memory or files');
  else if (failure.status >= 500 && !loggedWhereDecided(failure.body.error.code)) request.log.warn({ code: failure.body.error.code }, 'service unavailable');
  return reply.code(failure.status).headers(failure.headers).type('application/json').send(failure.body);
}

// OpenAI's endpoints as its SDKs name them after the base URL: under `/v1` (or a base URL written
// without it, or with it twice), slashes doubled by a base URL's trailing one read as one. Parley's
// own routes have none of these names (`/v1/chat` is its own; `/v1/chat/…` is OpenAI's).
const OPENAI_ENDPOINT =
  /^(?:\/v1)*\/(?:chat\/|(?:completions|embeddings|responses|models|moderations|images|audio|files|uploads|batches|fine_tuning|vector_stores|assistants|threads|realtime)(?:\/|$))/;

/**
 * A path naming an OpenAI endpoint that names nothing here (`/v1//chat/completions`,
 * `/chat/completions`, `/v1/embeddings`): refused in OpenAI's shape, so the SDK's NotFoundError
 * says which path was sent rather than "404 status code (no body)".
 */
export const openAiNotFound: ForeignNotFound = {
  claims: (path) => OPENAI_ENDPOINT.test(path.replace(/\/{2,}/g, '/')),
  answer: openAiErrorHandler,
};

/** The model failed: 502 with the reason, never retried by the SDK (see NO_RETRY). */
export function modelFailed(reason: string): AppError {
  return new AppError('llm_unavailable', `The model could not answer (${reason}); ${failureAdvice(reason)}.`);
}
