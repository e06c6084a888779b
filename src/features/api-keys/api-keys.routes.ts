import { Type } from 'typebox';
import { emptyBodyAsObject } from '../../http/hooks.js';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf, type Authenticate } from '../auth/authenticate.js';
import { CreatedKeySchema, CreateKeyBody, KeyPage, KeyParams, ListKeysQuery } from './api-keys.schemas.js';
import type { ApiKeysService } from './api-keys.service.js';

const tags = ['api-keys'];
const security = bearerSecurity;

/** The owner manages a chatbot's keys; a key itself reaches none of these (403). */
export function registerApiKeyRoutes(app: App, deps: { apiKeys: ApiKeysService; authenticate: Authenticate }): void {
  const { apiKeys, authenticate } = deps;

  app.post(
    '/v1/chatbots/:id/keys',
    {
      onRequest: authenticate,
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        security,
        summary: 'Create an API key for this chatbot (the key is shown once)',
        params: IdParams,
        body: CreateKeyBody,
        response: { 201: CreatedKeySchema, ...problems(400, 401, 403, 404, 422) },
      },
    },
    // The one answer that shows the key: never kept by a browser's or a proxy's cache (as token answers, RFC 6749 §5.1).
    async (request, reply) => reply.code(201).header('cache-control', 'no-store').send(await apiKeys.create(principalOf(request), request.params.id, request.body)),
  );

  app.get(
    '/v1/chatbots/:id/keys',
    {
      onRequest: authenticate,
      schema: {
        tags,
        security,
        summary: "This chatbot's API keys, oldest first (prefixes, never the keys)",
        params: IdParams,
        querystring: ListKeysQuery,
        response: { 200: KeyPage, ...problems(401, 403, 404, 422) },
      },
    },
    async (request) => apiKeys.list(principalOf(request), request.params.id, request.query),
  );

  app.delete(
    '/v1/chatbots/:id/keys/:key_id',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'Revoke an API key: refused from the next request on, on every instance', params: KeyParams, response: { 204: Type.Null(), ...problems(401, 403, 404) } },
    },
    async (request, reply) => {
      await apiKeys.remove(principalOf(request), request.params.id, request.params.key_id);
      return reply.code(204).send(null);
    },
  );
}
