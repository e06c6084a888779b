// A visitor's conversation (§7): the same turn, messages and stop as §6, through the one chat
// service and turn engine, with a visitor token instead of an account. The token names the
// chatbot; each request passes that chatbot's origins and the public limits first.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { emptyBodyAsObject } from '../../http/hooks.js';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import { wantsEventStream } from '../../http/sse.js';
import type { App } from '../../http/types.js';
import { bearerToken, principalOf } from '../auth/authenticate.js';
import { visitorPrincipal } from '../auth/principal.js';
import { SendMessageBody, StopAnswer, StopBody, STREAM_DESCRIPTION, TurnAnswer, TurnStreamAnswer } from '../chat/chat.schemas.js';
import type { ChatService } from '../chat/chat.service.js';
import type { TurnResponder } from '../chat/turn-responder.js';
import { conversationNotFound, type ConversationsService } from '../conversations/conversations.service.js';
import { ListMessagesQuery, MessagePage } from '../conversations/conversations.schemas.js';
import { isUuid } from '../../lib/ids.js';
import { AppError } from '../../errors/app-error.js';
import type { PublicDirectory } from './public-directory.js';
import type { PublicGuard } from './public-guard.js';
import { perChatbotCors } from './public.routes.js';
import type { VisitorTokens } from './visitor-tokens.js';

const tags = ['public'];
const security = bearerSecurity;

export interface VisitorConversationRoutesDeps {
  chat: ChatService;
  conversations: ConversationsService;
  responder: TurnResponder;
  directory: PublicDirectory;
  guard: PublicGuard;
  visitorTokens: VisitorTokens;
}

const missingToken = () => new AppError('unauthorized', 'Send the visitor token: Authorization: Bearer <visitor_token>');

/**
 * onRequest for a visitor: the visitor token (401 unless valid), its chatbot still public (else
 * the conversation is not found), the chatbot's origins (403), then the public limits (429).
 * Other channels that take visitors (the AI SDK's) use the same check.
 */
export function createVisitorAuthenticate(deps: { directory: PublicDirectory; guard: PublicGuard; visitorTokens: VisitorTokens }) {
  const { directory, guard, visitorTokens } = deps;
  async function chatbotOf(request: FastifyRequest) {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw missingToken();
    const claims = await visitorTokens.verify(token);
    const chatbot = await directory.find({ id: claims.chatbotId });
    if (!chatbot || chatbot.ownerId !== claims.ownerId) throw conversationNotFound();
    return { claims, chatbot };
  }
  return async function visitor(request: FastifyRequest, reply: FastifyReply) {
    const { claims, chatbot } = await chatbotOf(request).catch((error: unknown) => {
      // A database fault stays unreadable, as any 503 before the chatbot is known.
      if (error instanceof AppError) guard.readable(request, reply);
      throw error;
    });
    guard.origin(request, reply, chatbot);
    await guard.limit(request, chatbot.id, claims.visitor);
    request.principal = visitorPrincipal(claims);
  };
}

type VisitorAuthenticate = ReturnType<typeof createVisitorAuthenticate>;

export function registerVisitorConversationRoutes(app: App, deps: VisitorConversationRoutesDeps): void {
  const visitor = createVisitorAuthenticate(deps);
  // In this order, which is the order of the OpenAPI document's paths.
  registerVisitorMessageRoutes(app, deps, visitor);
  registerVisitorStopRoute(app, deps, visitor);
  registerVisitorPreflightRoutes(app, deps);
}

function registerVisitorMessageRoutes(app: App, deps: VisitorConversationRoutesDeps, visitor: VisitorAuthenticate): void {
  const { chat, conversations, responder } = deps;

  app.post(
    '/v1/public/conversations/:id/messages',
    {
      config: perChatbotCors,
      onRequest: visitor,
      schema: {
        tags,
        security,
        summary: "Send a visitor's message and get the reply",
        description: `With the visitor token. ${STREAM_DESCRIPTION}`,
        params: IdParams,
        body: SendMessageBody,
        response: { 200: TurnStreamAnswer, 201: TurnAnswer, ...problems(400, 401, 403, 404, 409, 413, 422, 429, 502) },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const { stream, ...input } = request.body;
      return responder.respond(
        request,
        reply,
        { caller, streaming: wantsEventStream(request, stream), shape: (r) => ({ user_message: r.userMessage, reply: r.reply }) },
        (options) => chat.send(caller, request.params.id, input, options),
      );
    },
  );

  app.get(
    '/v1/public/conversations/:id/messages',
    {
      config: perChatbotCors,
      onRequest: visitor,
      schema: {
        tags,
        security,
        summary: "A visitor's conversation, oldest message first",
        params: IdParams,
        querystring: ListMessagesQuery,
        response: { 200: MessagePage, ...problems(401, 403, 404, 422, 429) },
      },
    },
    async (request) => conversations.messages(principalOf(request), request.params.id, request.query),
  );
}

function registerVisitorStopRoute(app: App, deps: VisitorConversationRoutesDeps, visitor: VisitorAuthenticate): void {
  const { chat } = deps;

  app.post(
    '/v1/public/conversations/:id/stop',
    {
      config: perChatbotCors,
      onRequest: visitor,
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        security,
        summary: 'End the reply being generated, keeping what was produced',
        params: IdParams,
        body: StopBody,
        response: { 200: StopAnswer, ...problems(401, 403, 404, 422, 429) },
      },
    },
    async (request) => chat.stop(principalOf(request), request.params.id),
  );
}

function registerVisitorPreflightRoutes(app: App, deps: VisitorConversationRoutesDeps): void {
  const { directory, guard } = deps;

  // A browser asks before sending the token: the conversation names the chatbot whose origins answer.
  for (const url of ['/v1/public/conversations/:id/messages', '/v1/public/conversations/:id/stop']) {
    app.options(url, { config: perChatbotCors, schema: { hide: true, params: IdParams } }, async (request, reply) => {
      const { id } = request.params;
      await guard.limitAddress(request);
      const chatbot = isUuid(id) ? await directory.ofConversation(id.toLowerCase()) : undefined;
      return guard.preflight(request, reply, chatbot ?? null);
    });
  }
}
