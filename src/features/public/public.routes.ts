// Parley's public face (§7): routes anyone may call without an account. They take no token
// and look at none, so a stray or stale Authorization header from a host page changes nothing.
import { problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { PublicChatbotParams, PublicChatbotSchema } from './public-chatbots.schemas.js';
import type { PublicChatbotsService } from './public-chatbots.service.js';

const tags = ['public'];

export function registerPublicRoutes(app: App, deps: { publicChatbots: PublicChatbotsService }): void {
  const { publicChatbots } = deps;

  app.get(
    '/v1/public/chatbots/:chatbot',
    {
      schema: {
        tags,
        security: [],
        summary: 'A public chatbot\'s name, description, greeting and owner, by slug or id',
        description: 'No token needed. A private, deleted or unknown chatbot answers the same 404.',
        params: PublicChatbotParams,
        response: { 200: PublicChatbotSchema, ...problems(404) },
      },
    },
    async (request, reply) => {
      // Caches may keep the page but must ask again before reuse: a chatbot made private or
      // deleted stops showing on the next request, not after an expiry.
      reply.header('cache-control', 'no-cache');
      return publicChatbots.get(request.params.chatbot);
    },
  );
}
