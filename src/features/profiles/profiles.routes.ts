import type { onRequestHookHandler } from 'fastify';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf } from '../auth/authenticate.js';
import type { PublicGuard } from '../public/public-guard.js';
import { ProfileBody, ProfileSchema, PublicProfileSchema, UsernameParams } from './profiles.schemas.js';
import type { ProfilesService } from './profiles.service.js';

const tags = ['profiles'];

export function registerProfileRoutes(
  app: App,
  deps: { profiles: ProfilesService; authenticate: onRequestHookHandler; guard: Pick<PublicGuard, 'limitAddress'> },
): void {
  const { profiles, authenticate, guard } = deps;
  const security = bearerSecurity;

  app.get(
    '/v1/profile',
    {
      onRequest: authenticate,
      schema: { tags, security, summary: 'Your profile (empty fields until you write it)', response: { 200: ProfileSchema, ...problems(401, 403) } },
    },
    async (request) => profiles.get(principalOf(request)),
  );

  app.put(
    '/v1/profile',
    {
      onRequest: authenticate,
      schema: {
        tags,
        security,
        summary: 'Replace your profile; chatbots with use_profile answer about you from it',
        body: ProfileBody,
        response: { 200: ProfileSchema, ...problems(400, 401, 403, 413, 422) },
      },
    },
    async (request) => profiles.replace(principalOf(request), request.body),
  );

  app.get(
    '/v1/public/profiles/:username',
    {
      // Public like the chatbot pages (§7), and each name asked is a query, found or not: the
      // address is counted first, as theirs is.
      onRequest: async (request) => guard.limitAddress(request),
      schema: {
        tags: [...tags, 'public'],
        summary: "A user's profile, shown while they have a public chatbot that uses it (404 otherwise)",
        params: UsernameParams,
        response: { 200: PublicProfileSchema, ...problems(404, 429) },
      },
    },
    async (request) => profiles.findPublic(request.params.username),
  );
}
