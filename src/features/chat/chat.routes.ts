import { emptyBodyAsObject } from '../../http/hooks.js';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import { wantsEventStream } from '../../http/sse.js';
import type { App } from '../../http/types.js';
import { bindEndUser } from '../api-keys/end-user.js';
import { principalOf, type Authenticate } from '../auth/authenticate.js';
import { ChatAnswer, ChatBody, RegenerateAnswer, RegenerateBody, SendMessageBody, StopAnswer, StopBody, STREAM_DESCRIPTION, TurnAnswer, TurnStreamAnswer } from './chat.schemas.js';
import type { ChatService } from './chat.service.js';
import type { TurnResponder } from './turn-responder.js';

const tags = ['chat'];
const security = bearerSecurity;
const turnProblems = problems(400, 401, 404, 409, 413, 422, 429, 502);

// A turn answers 201 JSON, or 200 text/event-stream when streamed; both are documented.
const sendSchema = {
  tags,
  security,
  summary: 'Send a message and get the reply',
  description: STREAM_DESCRIPTION,
  params: IdParams,
  body: SendMessageBody,
  response: { 200: TurnStreamAnswer, 201: TurnAnswer, ...turnProblems },
};
const regenerateSchema = {
  tags,
  security,
  summary: 'Answer the last message again, replacing the last reply',
  description: STREAM_DESCRIPTION,
  params: IdParams,
  body: RegenerateBody,
  response: { 200: TurnStreamAnswer, 201: RegenerateAnswer, ...turnProblems },
};
const chatSchema = {
  tags,
  security,
  summary: 'One call: send a message, in a new conversation unless one is named',
  description: STREAM_DESCRIPTION,
  body: ChatBody,
  response: { 200: TurnStreamAnswer, 201: ChatAnswer, ...turnProblems },
};

type ChatRoutesDeps = Parameters<typeof registerChatRoutes>[1];

export function registerChatRoutes(app: App, deps: { chat: ChatService; responder: TurnResponder; authenticate: Authenticate }): void {
  // In this order, which is the order of the OpenAPI document's paths.
  registerConversationTurnRoutes(app, deps);
  registerOneCallRoute(app, deps);
}

/** A turn in a conversation named by the URL: send, regenerate, and stop the reply running. */
function registerConversationTurnRoutes(app: App, deps: ChatRoutesDeps): void {
  const { chat, responder, authenticate } = deps;

  app.post(
    '/v1/conversations/:id/messages',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: sendSchema,
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const { stream, user: _user, ...input } = request.body;
      return responder.respond(
        request,
        reply,
        { caller, streaming: wantsEventStream(request, stream), shape: (r) => ({ user_message: r.userMessage, reply: r.reply }) },
        (options) => chat.send(caller, request.params.id, input, options),
      );
    },
  );

  app.post(
    '/v1/conversations/:id/regenerate',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      preValidation: emptyBodyAsObject,
      schema: regenerateSchema,
    },
    async (request, reply) => {
      const caller = principalOf(request);
      return responder.respond(
        request,
        reply,
        { caller, streaming: wantsEventStream(request, request.body.stream), shape: (r) => ({ reply: r.reply }) },
        (options) => chat.regenerate(caller, request.params.id, options),
      );
    },
  );

  app.post(
    '/v1/conversations/:id/stop',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      preValidation: emptyBodyAsObject,
      schema: { tags, security, summary: 'End the reply being generated, keeping what was produced', params: IdParams, body: StopBody, response: { 200: StopAnswer, ...problems(401, 404, 422) } },
    },
    async (request) => chat.stop(principalOf(request), request.params.id),
  );
}

/** The one-call chat: a new conversation unless the body names one. */
function registerOneCallRoute(app: App, deps: ChatRoutesDeps): void {
  const { chat, responder, authenticate } = deps;

  app.post(
    '/v1/chat',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: chatSchema,
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const { stream, user: _user, ...input } = request.body;
      return responder.respond(
        request,
        reply,
        { caller, streaming: wantsEventStream(request, stream), shape: (r) => ({ conversation_id: r.conversationId, user_message: r.userMessage, reply: r.reply }) },
        (options) => chat.chat(caller, input, options),
      );
    },
  );
}
