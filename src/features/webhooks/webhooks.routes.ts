import { emptyBodyAsObject } from '../../http/hooks.js';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf, type Authenticate } from '../auth/authenticate.js';
import { DeliveryPage, DeliveryParams, DeliverySchema, ListDeliveriesQuery, NoFieldsBody, WebhookSecretSchema } from './webhooks.schemas.js';
import type { WebhooksService } from './webhooks.service.js';

const tags = ['webhooks'];
const security = bearerSecurity;

/** The owner's view of a chatbot's webhook (§9.4); API keys reach none of it (403), as other chatbot settings. */
export function registerWebhookRoutes(app: App, deps: { webhooks: WebhooksService; authenticate: Authenticate }): void {
  const { webhooks, authenticate } = deps;

  app.get(
    '/v1/chatbots/:id/webhook-deliveries',
    {
      onRequest: authenticate,
      schema: {
        tags,
        security,
        summary: "This chatbot's webhook events, newest first, each with its attempts (status and latency)",
        params: IdParams,
        querystring: ListDeliveriesQuery,
        response: { 200: DeliveryPage, ...problems(401, 403, 404, 422) },
      },
    },
    async (request) => webhooks.deliveries(principalOf(request), request.params.id, request.query),
  );

  app.post(
    '/v1/chatbots/:id/webhook-deliveries/:delivery_id/redeliver',
    {
      onRequest: authenticate,
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        security,
        summary: 'Send an event again now (same webhook-id and body); failures retry on the usual schedule',
        params: DeliveryParams,
        body: NoFieldsBody,
        response: { 202: DeliverySchema, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => reply.code(202).send(await webhooks.redeliver(principalOf(request), request.params.id, request.params.delivery_id)),
  );

  app.post(
    '/v1/chatbots/:id/webhook-secret',
    {
      onRequest: authenticate,
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        security,
        summary: 'Rotate the webhook signing secret (the new one is shown once)',
        params: IdParams,
        body: NoFieldsBody,
        response: { 200: WebhookSecretSchema, ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    // Shown once: not for a browser's or proxy's cache to keep.
    async (request, reply) => reply.header('cache-control', 'no-store').send(await webhooks.rotateSecret(principalOf(request), request.params.id)),
  );
}
