// Parley's public face (§7): a public chatbot's page and the start of a visitor's conversation,
// by slug or id. Each request passes the chatbot's origins and the public limits first
// (public-guard.ts); CORS here follows the chatbot, not CORS_ORIGINS.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { openRouteBodyLimit } from '../../http/body-limits.js';
import { problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { bearerToken, principalOf, type Authenticate } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import { chatbotKey } from './public-chatbots.service.js';
import type { PublicChatbotRow } from './public-chatbots.repo.js';
import { PublicChatbotParams, PublicChatbotSchema } from './public-chatbots.schemas.js';
import type { PublicChatbotsService } from './public-chatbots.service.js';
import type { PublicDirectory } from './public-directory.js';
import type { PublicGuard } from './public-guard.js';
import { looksLikeVisitorToken, type VisitorClaims, type VisitorTokens } from './visitor-tokens.js';
import { StartVisitBody, VisitSchema } from './visitors.schemas.js';
import { noPublicChatbot, type VisitorsService } from './visitors.service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: @fastify/cors (CORS_ORIGINS) leaves the route to answer CORS itself. */
    cors?: false;
  }
}

const tags = ['public'];
/** Public routes answer CORS per chatbot; the app-wide CORS plugin leaves them alone. */
export const perChatbotCors: { cors: false } = { cors: false };

export interface PublicRoutesDeps {
  publicChatbots: PublicChatbotsService;
  directory: PublicDirectory;
  guard: PublicGuard;
  visitors: VisitorsService;
  visitorTokens: VisitorTokens;
  /** Authenticates a host site's signed-in user (every user strategy of the API). */
  authenticate: Authenticate;
}


export function registerPublicRoutes(app: App, deps: PublicRoutesDeps): void {
  // In this order, which is the order of the OpenAPI document's paths.
  registerChatbotPageRoute(app, deps);
  registerStartConversationRoute(app, deps);
  registerPreflightRoutes(app, deps);
}

async function publicChatbot(directory: PublicDirectory, raw: string): Promise<PublicChatbotRow> {
  const key = chatbotKey(raw);
  const chatbot = key ? await directory.find(key) : undefined;
  if (!chatbot) throw noPublicChatbot();
  return chatbot;
}

/**
 * The chatbot a page names, once its address is let through. The address is counted before the
 * lookup: made-up names cost the database a query each, and are held like any other request.
 * Refusals made before the chatbot is known (429, and the 404 of a private, deleted or unknown
 * one) are readable by any origin: they are the same for every page and tell nothing a server
 * caller could not learn, and the widget can then say when to try again or that the chatbot is
 * not available, where an unreadable answer looks like the network. A database fault (not an
 * AppError) stays unreadable, as elsewhere.
 */
async function namedChatbot(request: FastifyRequest, reply: FastifyReply, { directory, guard }: Pick<PublicRoutesDeps, 'directory' | 'guard'>) {
  try {
    await guard.limitAddress(request);
    return await publicChatbot(directory, (request.params as { chatbot: string }).chatbot);
  } catch (error) {
    if (error instanceof AppError) guard.readable(request, reply);
    throw error;
  }
}

/**
 * Who starts the visit: nobody yet (no token: a new visitor), a returning visitor (their visitor
 * token), or a host site's signed-in user (their access token, Parley's or a configured issuer's).
 */
async function visitorOf(
  request: FastifyRequest,
  { visitorTokens, authenticate }: Pick<PublicRoutesDeps, 'visitorTokens' | 'authenticate'>,
): Promise<{ returning: VisitorClaims } | { user: Principal } | null> {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const token = bearerToken(header);
  if (!token) throw new AppError('invalid_token', 'Send a visitor token or your user token as Authorization: Bearer <token>, or no Authorization header for a new visitor');
  if (looksLikeVisitorToken(token)) return { returning: await visitorTokens.verify(token) };
  await authenticate(request);
  const user = principalOf(request);
  if (user.kind !== 'user') throw new AppError('invalid_token', 'Send a visitor token or a user\'s token');
  return { user };
}

function registerChatbotPageRoute(app: App, deps: PublicRoutesDeps): void {
  const { publicChatbots, guard } = deps;

  app.get(
    '/v1/public/chatbots/:chatbot',
    {
      config: perChatbotCors,
      schema: {
        tags,
        security: [],
        summary: "A public chatbot's name, description, greeting and owner, by slug or id",
        description: 'No token needed (an Authorization header is ignored). A private, deleted or unknown chatbot answers the same 404.',
        params: PublicChatbotParams,
        response: { 200: PublicChatbotSchema, ...problems(403, 404, 429) },
      },
    },
    async (request, reply) => {
      const chatbot = await namedChatbot(request, reply, deps);
      guard.origin(request, reply, chatbot, { readableRefusal: true });
      await guard.limitRest(chatbot.id, null);
      // Caches may keep the page but must ask again before reuse: a chatbot made private or
      // deleted stops showing on the next request, not after an expiry.
      reply.header('cache-control', 'no-cache');
      return publicChatbots.page(chatbot);
    },
  );
}

function registerStartConversationRoute(app: App, deps: PublicRoutesDeps): void {
  const { guard, visitors } = deps;
  const chatbots = new WeakMap<FastifyRequest, PublicChatbotRow>();

  app.post(
    '/v1/public/chatbots/:chatbot/conversations',
    {
      config: perChatbotCors,
      bodyLimit: openRouteBodyLimit(app),
      // Before the body is read: a foreign page is told 403 whatever it sends, and a body the
      // parser or the schema refuses is counted against its address like any other request. The
      // address is counted before the chatbot is looked up, so a flood of made-up names is held
      // too; the chatbot only once the caller's own limits let the request through.
      onRequest: async (request, reply) => {
        const chatbot = await namedChatbot(request, reply, deps);
        guard.origin(request, reply, chatbot);
        chatbots.set(request, chatbot);
      },
      schema: {
        tags,
        security: [{}, { bearerAuth: [] }],
        summary: "Start a visitor's conversation with a public chatbot",
        description:
          "Without a token, records a new visitor; with `Authorization: Bearer <visitor_token>`, the same visitor starts another conversation. With a signed-in user's token (Parley's, or a configured issuer's: the host site's user), the conversation is that user's: one visitor per user and chatbot, listed in the user's GET /v1/conversations. Answers a visitor token for this chatbot, renewed for 30 days.",
        params: PublicChatbotParams,
        body: StartVisitBody,
        response: { 201: VisitSchema, ...problems(400, 401, 403, 404, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const chatbot = chatbots.get(request)!;
      const who = await visitorOf(request, deps);
      if (who && 'user' in who) {
        await guard.limitRest(chatbot.id, `user:${who.user.actorId}`);
        return reply.code(201).header('cache-control', 'no-store').send(await visitors.startVerified(chatbot, request.body, { id: who.user.actorId, username: who.user.username }));
      }
      await guard.limitRest(chatbot.id, who?.returning.visitor ?? null);
      return reply.code(201).header('cache-control', 'no-store').send(await visitors.start(chatbot, request.body, who?.returning ?? null));
    },
  );
}

function registerPreflightRoutes(app: App, deps: PublicRoutesDeps): void {
  const { directory, guard } = deps;

  for (const url of ['/v1/public/chatbots/:chatbot', '/v1/public/chatbots/:chatbot/conversations']) {
    app.options(url, { config: perChatbotCors, schema: { hide: true, params: PublicChatbotParams } }, async (request, reply) => {
      await guard.limitAddress(request);
      return guard.preflight(request, reply, await publicChatbot(directory, request.params.chatbot));
    });
  }
}
