import type { onRequestHookHandler } from 'fastify';
import { Type } from 'typebox';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf } from '../auth/authenticate.js';
import { ChatbotPage, ChatbotSchema, ChatbotWithSecretSchema, CreateChatbotBody, ListChatbotsQuery, UpdateChatbotBody } from './chatbots.schemas.js';
import type { ChatbotsService } from './chatbots.service.js';

const tags = ['chatbots'];

export function registerChatbotRoutes(app: App, deps: { chatbots: ChatbotsService; authenticate: onRequestHookHandler }): void {
  const { chatbots, authenticate } = deps;
  const security = bearerSecurity;

  app.post(
    '/v1/chatbots',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'Create a chatbot', body: CreateChatbotBody, response: { 201: ChatbotWithSecretSchema, ...problems(400, 401, 409, 413, 422) } },
    },
    async (request, reply) => {
      const created = await chatbots.create(principalOf(request), request.body);
      // RFC 9110 §15.3.2: without it, a 201 says the request's own URI is what was created. no-store:
      // the answer may show the webhook secret, once.
      return reply.code(201).header('location', `/v1/chatbots/${created.id}`).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/v1/chatbots',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'Your chatbots, newest first', querystring: ListChatbotsQuery, response: { 200: ChatbotPage, ...problems(401, 403, 422) } },
    },
    async (request) => chatbots.list(principalOf(request), request.query),
  );

  app.get(
    '/v1/chatbots/:id',
    { onRequest: authenticate, schema: { tags, security, summary: 'One of your chatbots', params: IdParams, response: { 200: ChatbotSchema, ...problems(401, 404) } } },
    async (request) => chatbots.get(principalOf(request), request.params.id),
  );

  app.patch(
    '/v1/chatbots/:id',
    {
      onRequest: authenticate,
      schema: {
        tags,
        security,
        summary: 'Change a chatbot',
        params: IdParams,
        body: UpdateChatbotBody,
        response: { 200: ChatbotWithSecretSchema, ...problems(400, 401, 404, 409, 413, 422) },
      },
    },
    // no-store: the answer may show the webhook secret, once.
    async (request, reply) => reply.header('cache-control', 'no-store').send(await chatbots.update(principalOf(request), request.params.id, request.body)),
  );

  app.delete(
    '/v1/chatbots/:id',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'Delete a chatbot with its knowledge and conversations', params: IdParams, response: { 204: Type.Null(), ...problems(401, 404) } },
    },
    async (request, reply) => {
      await chatbots.remove(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
