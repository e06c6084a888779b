// What every public request passes before it reaches a service (§7, §12): the chatbot's
// allowed origins, answered with CORS for that chatbot alone, and the public limits per
// visitor, per client address and per chatbot. The rest of the API follows CORS_ORIGINS
// (app.ts); public routes opt out of that and are answered here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateRule } from '../../config/parsers.js';
import { AppError } from '../../errors/app-error.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { PublicChatbotRow } from './public-chatbots.repo.js';
import { clientAddressKey } from '../../rate-limit/client-address.js';

const EXPOSED = 'x-request-id, retry-after, ratelimit, ratelimit-policy, idempotent-replayed';
export const ALLOWED_HEADERS = 'authorization, content-type, accept, idempotency-key, x-request-id';
export const PREFLIGHT_MAX_AGE_S = 600;

export interface PublicLimits {
  visitor: RateRule | null;
  ip: RateRule | null;
  chatbot: RateRule | null;
}

export interface PublicGuard {
  /**
   * Refuses (403 `origin_not_allowed`, no CORS headers) a request from an origin the chatbot does
   * not list, or without one when it lists any; otherwise lets the browser read the answer.
   */
  origin(request: FastifyRequest, reply: FastifyReply, chatbot: PublicChatbotRow, options?: { readableRefusal?: boolean }): void;
  /**
   * Answers a browser's preflight for this chatbot: 204 with what it may send, or the refusal.
   * Null (a conversation that is gone): 204 all the same, so the request itself gets a 404 the
   * page can read, rather than fail like the network and be retried for ever.
   */
  preflight(request: FastifyRequest, reply: FastifyReply, chatbot: PublicChatbotRow | null): FastifyReply;
  /**
   * Lets the page read a refusal made before any chatbot is known (the visitor token refused, its
   * chatbot gone): the widget then starts a new visit or says so, where an unreadable answer looks
   * like the network and is retried for ever. Such a refusal tells nothing a server caller could
   * not learn.
   */
  readable(request: FastifyRequest, reply: FastifyReply): void;
  /** Counts the request against the chatbot's, the address's and (when known) the visitor's limits. */
  limit(request: FastifyRequest, chatbotId: string, visitor: string | null): Promise<void>;
  /** After limitAddress: the visitor's limit (once their token is known to be good), then the chatbot's. */
  limitRest(chatbotId: string, visitor: string | null): Promise<void>;
  /** The client address's limit alone (preflights, which name no visitor and cost the chatbot nothing). */
  limitAddress(request: FastifyRequest): Promise<void>;
}

/** When several limits refuse, the answer names the longest wait: a client that waits that long gets in. */
async function refuseLongest(counted: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(counted);
  let longest: unknown = null;
  for (const result of results) {
    if (result.status === 'fulfilled') continue;
    const reason = result.reason as unknown;
    const wait = (error: unknown) => (error instanceof AppError ? (error.rateLimit?.resetSeconds ?? -1) : Infinity);
    if (longest === null || wait(reason) > wait(longest)) longest = reason;
  }
  if (longest !== null) throw longest;
}

export const originNotAllowed = () =>
  new AppError('origin_not_allowed', "This chatbot does not accept requests from this origin (its allowed_origins)");

/**
 * Parley's own pages (the hosted chat page, GET /c/{slug}) call from Parley's origin: a POST names
 * it, a same-origin GET carries no Origin and is marked by Sec-Fetch-Site instead. Neither opens
 * more than a server caller could by sending an allowed Origin itself.
 */
function fromOwnPage(request: FastifyRequest, origin: string | undefined): boolean {
  if (origin === undefined) return request.headers['sec-fetch-site'] === 'same-origin';
  return origin === `${request.protocol}://${request.host}`;
}

function allows(chatbot: PublicChatbotRow, request: FastifyRequest, origin: string | undefined): boolean {
  if (chatbot.allowedOrigins.length === 0) return true;
  if (origin !== undefined && chatbot.allowedOrigins.includes(origin)) return true;
  return fromOwnPage(request, origin);
}

export function createPublicGuard(deps: { limiter: RateLimiter; limits: PublicLimits }): PublicGuard {
  const { limiter, limits } = deps;
  const policies = {
    visitor: { name: 'public_visitor', rule: limits.visitor },
    ip: { name: 'public_ip', rule: limits.ip },
    chatbot: { name: 'public_chatbot', rule: limits.chatbot },
  };

  function origin(request: FastifyRequest, reply: FastifyReply, chatbot: PublicChatbotRow, options: { readableRefusal?: boolean } = {}) {
    const from = request.headers.origin;
    if (!allows(chatbot, request, from)) {
      // The chatbot's page is the widget's first request: a refused site may read why, so the
      // widget can say the site is not allowed rather than fail like a network error. The
      // refusal tells nothing the site could not learn by asking without a browser.
      if (options.readableRefusal && from !== undefined) reply.header('access-control-allow-origin', from).header('vary', 'Origin');
      throw originNotAllowed();
    }
    // Answers differ by origin (allowed or refused), so caches must keep them apart.
    reply.header('vary', 'Origin');
    if (from === undefined) return;
    reply.header('access-control-allow-origin', from);
    reply.header('access-control-expose-headers', EXPOSED);
  }

  function readable(request: FastifyRequest, reply: FastifyReply) {
    reply.header('vary', 'Origin');
    const from = request.headers.origin;
    if (from === undefined) return;
    reply.header('access-control-allow-origin', from);
    reply.header('access-control-expose-headers', EXPOSED);
  }

  return {
    origin,
    readable,
    preflight(request, reply, chatbot) {
      if (chatbot) origin(request, reply, chatbot);
      else readable(request, reply);
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S))
        .header('content-length', '0')
        .send();
    },
    async limit(request, chatbotId, visitor) {
      // The caller's own limits first, together (with Redis, one round trip): one that is held
      // there must not use up the chatbot's, or a single address or visitor could lock everyone out.
      await refuseLongest([limiter.consume(policies.ip, clientAddressKey(request.ip)), ...(visitor ? [limiter.consume(policies.visitor, visitor)] : [])]);
      await limiter.consume(policies.chatbot, chatbotId);
    },
    limitAddress: (request) => limiter.consume(policies.ip, clientAddressKey(request.ip)),
    async limitRest(chatbotId, visitor) {
      if (visitor) await limiter.consume(policies.visitor, visitor);
      await limiter.consume(policies.chatbot, chatbotId);
    },
  };
}
