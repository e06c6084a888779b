import type { onRequestHookHandler } from 'fastify';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf } from '../auth/authenticate.js';
import { DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS, UsageQuery, UsageSchema } from './usage.schemas.js';
import type { UsageService } from './usage.service.js';

const tags = ['usage'];

export function registerUsageRoutes(app: App, deps: { usage: UsageService; authenticate: onRequestHookHandler }): void {
  const { usage, authenticate } = deps;

  app.get(
    '/v1/usage',
    {
      onRequest: authenticate,
      schema: {
        tags,
        security: bearerSecurity,
        summary: 'Your usage per UTC day: model replies and their prompt and completion tokens',
        description:
          `Summed over every channel of your chatbots, or of the one \`chatbot_id\`. \`from\` and \`to\` are included; ` +
          `without them the answer covers the last ${DEFAULT_RANGE_DAYS} days up to today (UTC). ` +
          `A range that runs backwards or spans more than ${MAX_RANGE_DAYS} days answers 422.`,
        querystring: UsageQuery,
        response: { 200: UsageSchema, ...problems(401, 403, 404, 422) },
      },
    },
    async (request) => usage.daily(principalOf(request), request.query),
  );
}
