import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { describeError, needsOperator } from '../db/errors.js';
import { AppError } from '../errors/app-error.js';
import { newId } from '../lib/ids.js';
import type { Metrics } from '../observability/metrics.js';
import { loggedWhereDecided, toProblem } from './problem.js';
import type { App } from './types.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Reuses a well-formed x-request-id from the caller (or a proxy), else makes one. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId();
}

const pathOf = (url: string) => url.split('?', 1)[0] ?? url;
// A chatbot key's secret put in a path by mistake (a key revoked by the key itself rather than
// its id, a key sent as a model) is masked in the log, as the Authorization header is.
const loggedPath = (url: string) => pathOf(url).replace(/parley_sk_[0-9A-Za-z]*/g, 'parley_sk_[redacted]');

/**
 * A request the router refused and passed to the not-found route under NOWHERE: the address the
 * caller sent, and whether it is answered as malformed rather than as naming nothing, or with a
 * page of its own.
 */
const rerouted = new WeakMap<IncomingMessage, { url: string; malformed: boolean; page?: (reply: FastifyReply) => unknown }>();
const sentUrl = (request: FastifyRequest) => rerouted.get(request.raw)?.url ?? request.url;
// No route has this path, so the router hands it to the not-found route.
const NOWHERE = '/-';

const FRAME = /^\s+at /;
const SHOWN_PATH_CHARS = 200;

/**
 * What a failed request logs about its error: the innermost cause's type, code and message
 * (describeError), and the stack frames of every layer. Frames only: a stack's first lines
 * repeat its message, and a query error's message quotes the query's parameters (bodies,
 * password and token hashes). Logged under `error`, which pino's `err` serialiser would rewrite.
 */
export function loggableError(error: unknown): { type: string; code?: string; message: string; stack?: string } {
  const lines: string[] = [];
  let current = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const layer = current as { name?: unknown; stack?: unknown; cause?: unknown };
    const frames = typeof layer.stack === 'string' ? layer.stack.split('\n').filter((line) => FRAME.test(line)) : [];
    if (frames.length > 0) {
      if (lines.length > 0) lines.push(`caused by ${typeof layer.name === 'string' ? layer.name : 'Error'}:`);
      lines.push(...frames);
    }
    current = layer.cause;
  }
  return { ...describeError(error), ...(lines.length > 0 ? { stack: lines.join('\n') } : {}) };
}

/**
 * Paths of another API that a client of it may send here: when one names nothing, the refusal is
 * answered in that API's error shape, which its clients read (an OpenAI SDK shows no message of a
 * problem+json body).
 */
export interface ForeignNotFound {
  /** Whether the path, as sent and without its query, is that API's. */
  claims(path: string): boolean;
  /** Answers the refusal in that API's shape. */
  answer(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): unknown;
}

export function registerHttpHooks(app: App, metrics: Metrics, options: { foreignNotFound?: readonly ForeignNotFound[] } = {}): void {
  const foreignNotFound = options.foreignNotFound ?? [];
  app.decorateRequest('principal', null);

  // Fastify's own answer while closing (return503OnClosing) is bare JSON without our headers.
  // A request that comes on a kept-alive connection during the drain gets a problem+json 503
  // and the connection closed, so the client (or its load balancer) tries another instance.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (draining) {
      reply.header('connection', 'close');
      throw new AppError('service_unavailable', 'The server is shutting down; try again');
    }
  });

  // One log line per request: no bodies, no headers, no query strings.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequests.inc({ method: request.method, route, status: reply.statusCode });
    metrics.httpDuration.observe({ method: request.method, route }, seconds);
    request.log.info(
      {
        method: request.method,
        path: loggedPath(sentUrl(request)),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        user_id: request.principal?.ownerId,
      },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (request.is404 && foreignNotFound.length > 0) {
      const path = pathOf(sentUrl(request));
      const foreign = foreignNotFound.find((one) => one.claims(path));
      if (foreign) return foreign.answer(error, request, reply);
    }
    const { problem, unexpected } = toProblem(error, request.id);
    // With the route: a driver's stack may not reach our code (PGlite runs queries from its own queue).
    if (unexpected) request.log.error({ method: request.method, route: request.routeOptions.url ?? 'unmatched', error: loggableError(error) }, 'unexpected error');
    else if (needsOperator(error)) request.log.error({ error: describeError(error), code: problem.body.code }, 'the database is out of disk, memory or files, or cannot write them');
    else if (problem.status >= 500 && !loggedWhereDecided(problem.body.code)) request.log.warn({ error: describeError(error), code: problem.body.code }, 'service unavailable');
    return reply.code(problem.status).headers(problem.headers).type('application/problem+json').send(problem.body);
  });

  // A path that names nothing is answered before its body is read: what the body holds (broken
  // JSON, a type no route takes) would otherwise change the answer, and a route hidden from the
  // caller (admin routes, which refuse before reading the body) would answer differently.
  app.addHook('preParsing', async (request, reply) => {
    if (request.is404 && !rerouted.get(request.raw)?.page) throw noRoute(request, reply);
  });
  // Hidden routes reach it through reply.callNotFound().
  app.setNotFoundHandler((request, reply) => {
    const page = rerouted.get(request.raw)?.page;
    if (page) return page(reply);
    throw noRoute(request, reply);
  });
}

/** preValidation hook for routes whose JSON body may be left out entirely: none counts as {} (but `null` is still refused). */
export async function emptyBodyAsObject(request: { body: unknown }): Promise<void> {
  if (request.body === undefined) request.body = {};
}

/**
 * The answer to a path that names nothing. The path is named back (a typo in an API call is then
 * plain to see), cut short: a path may be as long as the request line. nosniff so the echo is
 * only ever read as the JSON it is. An address the router could not decode is named as malformed instead.
 */
function noRoute(request: FastifyRequest, reply: FastifyReply): AppError {
  if (rerouted.get(request.raw)?.malformed) return new AppError('bad_request', 'The request URL is malformed');
  const path = pathOf(sentUrl(request));
  reply.header('x-content-type-options', 'nosniff');
  return new AppError('not_found', `No route ${request.method} ${path.length > SHOWN_PATH_CHARS ? `${path.slice(0, SHOWN_PATH_CHARS)}…` : path}`);
}

export interface FrameworkErrorParts {
  /** Path prefixes whose routes exist only for some callers, who are not yet known when the router refuses. */
  hiddenPrefixes: readonly string[];
  /** Where a GET or HEAD is a person's address bar (the hosted chat page). */
  hostedPagePrefix: string;
  /** The hosted page's own not-found page. */
  sendHostedNotFound: (reply: FastifyReply) => unknown;
}

/** Hands a request the router refused to the not-found route, which answers it with all the hooks every answer gets. */
function reroute(request: FastifyRequest, reply: FastifyReply, malformed: boolean, page?: (reply: FastifyReply) => unknown): void {
  rerouted.set(request.raw, { url: request.url, malformed, ...(page ? { page } : {}) });
  request.raw.url = NOWHERE;
  request.server.routing(request.raw, reply.raw);
}

/**
 * Fastify's frameworkErrors: errors the router raises before any hook runs (a path parameter over
 * 100 characters, broken percent-encoding). An over-long id names nothing; nor, to a caller not yet
 * known, does broken encoding under a hidden prefix (a 400 there would tell the route exists). Both
 * get the answer a path naming nothing gets. Under the hosted page's prefix a GET or HEAD is a
 * person's address bar: the page's own not-found page. Anything else is a 400 malformed URL. All
 * go to the not-found route, so its hooks (CORS, request id, the log line, metrics) apply as to
 * every other refusal.
 */
export function createFrameworkErrorHandler(parts: FrameworkErrorParts) {
  const { hiddenPrefixes, hostedPagePrefix, sendHostedNotFound } = parts;
  return function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    const path = pathOf(request.url);
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || hiddenPrefixes.some((prefix) => path.startsWith(prefix))) {
      reroute(request, reply, false);
      return;
    }
    if (path.startsWith(hostedPagePrefix) && (request.method === 'GET' || request.method === 'HEAD')) {
      reroute(request, reply, false, sendHostedNotFound);
      return;
    }
    reroute(request, reply, true);
  };
}
