import type { onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { bindEndUser, EndUserField, EndUserQuery } from '../api-keys/end-user.js';
import { principalOf } from '../auth/authenticate.js';
import {
  ConversationPage,
  ConversationSchema,
  CreateConversationBody,
  ListConversationsQuery,
  ListMessagesQuery,
  MessagePage,
  MessageSchema,
  toConversation,
  UpdateConversationBody,
} from './conversations.schemas.js';
import type { ConversationsService } from './conversations.service.js';

const tags = ['conversations'];
const security = bearerSecurity;

const CollectedData = Type.Object(
  {
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'Values gathered so far, by field key (each validated before it was stored)' }),
    missing: Type.Array(Type.String(), { description: 'Keys of the required fields not filled yet' }),
    completed: Type.Boolean(),
  },
  { title: 'CollectedData' },
);

const FeedbackBody = Type.Object(
  {
    rating: Type.Union([Type.Literal('like'), Type.Literal('dislike'), Type.Null()]),
    comment: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    user: EndUserField,
  },
  { additionalProperties: false, title: 'Feedback' },
);

type ConversationRoutesDeps = Parameters<typeof registerConversationRoutes>[1];

// Accounts and chatbot API keys (for the end user the request names) reach these routes.
export function registerConversationRoutes(app: App, deps: { conversations: ConversationsService; authenticate: onRequestHookHandler }): void {
  registerConversationListRoutes(app, deps);
  registerConversationItemRoutes(app, deps);
  registerConversationContentRoutes(app, deps);
}

/** /v1/conversations: starting one, listing them, the latest active one. */
function registerConversationListRoutes(app: App, deps: ConversationRoutesDeps): void {
  const { conversations, authenticate } = deps;

  app.post(
    '/v1/conversations',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: { tags, security, summary: 'Start a conversation', body: CreateConversationBody, response: { 201: ConversationSchema, ...problems(400, 401, 404, 413, 422) } },
    },
    async (request, reply) => {
      const created = toConversation(await conversations.create(principalOf(request), request.body));
      // RFC 9110 §15.3.2: without it, a 201 says the request's own URI is what was created.
      return reply.code(201).header('location', `/v1/conversations/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/conversations',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: { tags, security, summary: 'Your conversations, latest activity first', querystring: ListConversationsQuery, response: { 200: ConversationPage, ...problems(401, 404, 422) } },
    },
    async (request) => conversations.list(principalOf(request), request.query),
  );

  app.get(
    '/v1/conversations/latest',
    { onRequest: authenticate,
      preHandler: bindEndUser, schema: { tags, security, summary: 'Your active conversation with the latest activity', querystring: EndUserQuery, response: { 200: ConversationSchema, ...problems(401, 404) } } },
    async (request) => conversations.latest(principalOf(request)),
  );
}

/** /v1/conversations/:id: reading, changing and deleting one conversation. */
function registerConversationItemRoutes(app: App, deps: ConversationRoutesDeps): void {
  const { conversations, authenticate } = deps;

  app.get(
    '/v1/conversations/:id',
    { onRequest: authenticate,
      preHandler: bindEndUser, schema: { tags, security, summary: 'One of your conversations', params: IdParams, querystring: EndUserQuery, response: { 200: ConversationSchema, ...problems(401, 404) } } },
    async (request) => conversations.get(principalOf(request), request.params.id),
  );

  app.patch(
    '/v1/conversations/:id',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: { tags, security, summary: 'Rename, complete or reopen a conversation', params: IdParams, body: UpdateConversationBody, response: { 200: ConversationSchema, ...problems(400, 401, 404, 413, 422) } },
    },
    async (request) => conversations.update(principalOf(request), request.params.id, request.body),
  );

  app.delete(
    '/v1/conversations/:id',
    { onRequest: authenticate,
      preHandler: bindEndUser, schema: { tags, security, summary: 'Delete a conversation and its messages', params: IdParams, querystring: EndUserQuery, response: { 204: Type.Null(), ...problems(401, 404) } } },
    async (request, reply) => {
      await conversations.remove(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}

/** What a conversation holds: its messages, its collected data, feedback on its replies. */
function registerConversationContentRoutes(app: App, deps: ConversationRoutesDeps): void {
  const { conversations, authenticate } = deps;

  app.get(
    '/v1/conversations/:id/messages',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: { tags, security, summary: 'A conversation\'s messages, oldest first', params: IdParams, querystring: ListMessagesQuery, response: { 200: MessagePage, ...problems(401, 404, 422) } },
    },
    async (request) => conversations.messages(principalOf(request), request.params.id, request.query),
  );

  app.delete(
    '/v1/conversations/:id/messages',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: { tags, security, summary: 'Clear the history and keep the conversation', params: IdParams, querystring: EndUserQuery, response: { 204: Type.Null(), ...problems(401, 404, 409) } },
    },
    async (request, reply) => {
      await conversations.clear(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/conversations/:id/data',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: {
        tags,
        security,
        summary: 'What the conversation has collected: values, required fields still missing, completed',
        params: IdParams,
        querystring: EndUserQuery,
        response: { 200: CollectedData, ...problems(401, 404, 422) },
      },
    },
    async (request) => conversations.data(principalOf(request), request.params.id),
  );

  app.put(
    '/v1/messages/:id/feedback',
    {
      onRequest: authenticate,
      preHandler: bindEndUser,
      schema: { tags, security, summary: 'Rate a reply (like, dislike, or null to clear)', params: IdParams, body: FeedbackBody, response: { 200: MessageSchema, ...problems(400, 401, 404, 413, 422) } },
    },
    async (request) => conversations.feedback(principalOf(request), request.params.id, request.body),
  );
}
