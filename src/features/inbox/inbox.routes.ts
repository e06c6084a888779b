import type { onRequestHookHandler } from 'fastify';
import { emptyBodyAsObject } from '../../http/hooks.js';
import { IdParams } from '../../http/params.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf } from '../auth/authenticate.js';
import { InboxPage, InboxQuery, PREVIEW_CHARS, ReadBody, ReadSchema } from './inbox.schemas.js';
import type { InboxService } from './inbox.service.js';

const tags = ['inbox'];
const security = bearerSecurity;

export function registerInboxRoutes(app: App, deps: { inbox: InboxService; authenticate: onRequestHookHandler }): void {
  const { inbox, authenticate } = deps;

  app.get(
    '/v1/chatbots/:id/conversations',
    {
      onRequest: authenticate,
      schema: {
        tags,
        security,
        summary: "Your chatbot's inbox: its visitors' conversations, latest activity first",
        description:
          'Each row names the visitor (the label their page chose and the name they gave), how many of their messages ' +
          `are unread, and the newest message of either role (content cut to ${PREVIEW_CHARS} code points; a failed reply is ` +
          'passed over, so a question left unanswered shows). Your own ' +
          'conversations with the chatbot are in GET /v1/conversations; read a visitor\'s whole conversation with ' +
          'GET /v1/conversations/{id}/messages.',
        params: IdParams,
        querystring: InboxQuery,
        response: { 200: InboxPage, ...problems(401, 403, 404, 422) },
      },
    },
    async (request) => inbox.list(principalOf(request), request.params.id, request.query),
  );

  app.post(
    '/v1/conversations/:id/read',
    {
      onRequest: authenticate,
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        security,
        summary: 'Mark a conversation read (its unread count becomes 0, or counts what came after the message you saw)',
        description:
          'Leaves the conversation\'s activity time as it was, so the inbox order does not change. Your own ' +
          'conversations have nothing unread: marking one read answers the same 200.',
        params: IdParams,
        body: ReadBody,
        response: { 200: ReadSchema, ...problems(400, 401, 403, 404, 413, 422) },
      },
    },
    async (request) => inbox.markRead(principalOf(request), request.params.id, request.body.through_message_id),
  );
}
