// A key acts for its chatbot on behalf of an end user the request names (§8, §12): `user` in the
// body, or `?user=` on GET. Their conversations are apart from every other end user's (the
// audience below) and their turns count against RATE_LIMIT_API_KEY_USER.
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { validationError, type InputPart } from '../../errors/app-error.js';
import type { Principal } from '../auth/principal.js';
import { looksLikeKey } from './key-format.js';

export const END_USER_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/;

/**
 * The caller with its end user. For a key: `user` must match the pattern (422 otherwise), and
 * `required` makes a missing one a 422 too. Other callers act for themselves: returned unchanged.
 */
export function withEndUser(caller: Principal, user: unknown, options: { required: boolean; part?: InputPart }): Principal {
  if (caller.kind !== 'apiKey') return caller;
  const part = options.part ?? 'body';
  if (user === undefined || user === null) {
    if (options.required) throw validationError('user', 'an API key acts for an end user: name them with `user` (1–128 characters of A-Z a-z 0-9 . _ @ -)', { part });
    return caller;
  }
  if (typeof user !== 'string' || !END_USER_PATTERN.test(user)) {
    throw validationError('user', 'must be 1–128 characters of A-Z a-z 0-9 . _ @ -', { part });
  }
  // A key fits the alphabet: stored as the end user's id, the secret would be listed in the owner's
  // inbox and written to exports.
  if (looksLikeKey(user)) throw validationError('user', 'is an API key: name the end user the call acts for, never a key', { part });
  return { ...caller, endUser: user };
}

/**
 * Who, within the owner's tenant, a conversation belongs to: null for the owner's own, a
 * visitor's server id (`v_…`), or a key's end user on its chatbot (`k:<chatbot>:<user>`; never a
 * visitor id, whose alphabet has no colon). Stored in conversations.visitor_id.
 */
export function audienceOf(caller: Principal): string | null {
  if (caller.kind === 'visitor') return caller.actorId;
  if (caller.kind === 'apiKey') return `k:${caller.chatbotId}:${caller.endUser ?? ''}`;
  return null;
}

/** `user` in a body or a query: validated by the schema, so a bad one is a 422 before anything runs. */
export const EndUserField = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 128,
    pattern: '^[A-Za-z0-9._@-]+$',
    description: 'With an API key: the end user the call acts for (1–128 characters of A-Z a-z 0-9 . _ @ -). Ignored for other callers.',
  }),
);
export const EndUserQuery = Type.Object({ user: EndUserField }, { additionalProperties: false });

/**
 * preHandler for the routes a key reaches (§6 conversations, /v1/chat): the key's end user comes
 * from the body's `user`, or `?user=` on calls without a body. Required with a key.
 */
export async function bindEndUser(request: FastifyRequest): Promise<void> {
  const caller = request.principal;
  if (!caller || caller.kind !== 'apiKey') return;
  const body = request.body as { user?: unknown } | null | undefined;
  const fromBody = body && typeof body === 'object' ? body.user : undefined;
  const fromQuery = (request.query as { user?: unknown } | undefined)?.user;
  request.principal = withEndUser(caller, fromBody ?? fromQuery, { required: true, part: fromBody !== undefined ? 'body' : 'query' });
}
