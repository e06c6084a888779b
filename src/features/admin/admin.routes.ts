// Administration (§3 roles): users and usage across the server. To anyone but an admin these
// routes do not exist (404), signed in or not, so their presence reveals nothing.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { decodeCursor, toPage } from '../../lib/pages.js';
import { IdParams, resourceId } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { principalOf, type Authenticate } from '../auth/authenticate.js';
import type { AdminService } from './admin.service.js';
import { AdminUserSchema, ListUsersQuery, StatsQuery, StatsSchema, UpdateUserBody, UserPage } from './admin.schemas.js';

/** Where every admin route lives: the HTTP layer answers refused input under it as it does these routes' refusals. */
export const ADMIN_PATH_PREFIX = '/v1/admin/';

const tags = ['admin'];
const security = bearerSecurity;

/**
 * How a credential is refused before it is known to be an admin's. Any of them would tell the
 * caller that the route exists (a 401 to a stale token, the 403 a valid API key gets everywhere
 * keys do not reach, its per-key 429), so each is the 404 of a route that does not. Faults (503)
 * still say what they are.
 */
const REFUSALS: ReadonlySet<string> = new Set(['unauthorized', 'invalid_token', 'forbidden', 'rate_limited']);

/**
 * A caller refused here gets the server's own not-found answer (headers included), made by the
 * not-found handler itself, so no detail of it tells a hidden route from a path naming nothing.
 */
function adminsOnly(authenticate: Authenticate) {
  return async function adminsOnlyHook(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      await authenticate(request);
    } catch (error) {
      if (!(error instanceof AppError) || !REFUSALS.has(error.code)) throw error;
      reply.callNotFound();
      return reply;
    }
    if (principalOf(request).role === 'admin') return undefined;
    reply.callNotFound();
    return reply;
  };
}

export function registerAdminRoutes(
  app: App,
  deps: { admin: AdminService; authenticate: Authenticate; clock: Clock },
): void {
  const { admin, authenticate, clock } = deps;
  const onRequest = adminsOnly(authenticate);

  app.get(
    `${ADMIN_PATH_PREFIX}users`,
    { onRequest, schema: { tags, security, summary: 'Every user (admins)', querystring: ListUsersQuery, response: { 200: UserPage, ...problems(404, 422) } } },
    async (request) => {
      const after = decodeCursor(request.query.cursor, [isUuid]);
      const rows = await admin.listUsers(request.query.q ?? null, request.query.limit, after ? after[0]! : null);
      return toPage(rows, request.query.limit, admin.shown, (row) => [row.id]);
    },
  );

  app.patch(
    `${ADMIN_PATH_PREFIX}users/:id`,
    {
      onRequest,
      schema: { tags, security, summary: 'Change a user\'s role or deactivate them (admins)', params: IdParams, body: UpdateUserBody, response: { 200: AdminUserSchema, ...problems(400, 404, 409, 422) } },
    },
    async (request, reply) => {
      const id = resourceId(request.params.id, 'user');
      const { role, is_active } = request.body;
      // Demoted or deactivated meanwhile, the author is answered as any non-admin is.
      const refused = new AppError('not_found', 'refused');
      try {
        return await admin.updateUser(principalOf(request).actorId, id, { role, isActive: is_active }, clock.now(), () => refused);
      } catch (error) {
        if (error !== refused) throw error;
        reply.callNotFound();
        return reply;
      }
    },
  );

  app.get(
    `${ADMIN_PATH_PREFIX}stats`,
    { onRequest, schema: { tags, security, summary: 'Counts and token usage across the server (admins)', querystring: StatsQuery, response: { 200: StatsSchema, ...problems(404, 422) } } },
    async () => {
      const stats = await admin.stats();
      return { users: stats.users, chatbots: stats.chatbots, conversations: stats.conversations, messages: stats.messages, replies: stats.replies, tokens: { prompt: stats.prompt, completion: stats.completion } };
    },
  );
}
