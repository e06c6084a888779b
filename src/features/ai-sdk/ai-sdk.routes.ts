// The AI SDK UI message stream endpoints (§8): POST /v1/ai-sdk/chat, as `useChat`'s
// DefaultChatTransport calls it, and its resume. Accounts, external-JWT users, API keys (for an
// end user named by `user`) and visitors (with their token) all reach them.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../compose.js';
import { bearerSecurity, problems } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { bindEndUser } from '../api-keys/end-user.js';
import { principalOf } from '../auth/authenticate.js';
import { ALLOWED_HEADERS, PREFLIGHT_MAX_AGE_S } from '../public/public-guard.js';
import { AiSdkChatBody, ChatIdParams, NothingRunningAnswer, ResumeQuery, UiMessageStreamAnswer } from './ai-sdk.schemas.js';
import { readLastMessageOnly, WHOLE_HISTORY_FACTOR, wholeHistoryLimit } from './last-message-body.js';
import { MAX_READERS } from './reply-readers.js';
import { createAiSdkChat, type AiSdkChat } from './ai-sdk.service.js';

const tags = ['ai-sdk'];
/** Fastify's own, when the server was built without one. */
const DEFAULT_BODY_LIMIT = 1024 * 1024;
const security = bearerSecurity;

const TURN_DESCRIPTION =
  'The Vercel AI SDK UI message stream protocol, for `useChat` with `DefaultChatTransport` (`api: <base>/v1/ai-sdk/chat`). ' +
  'The chat `id` names one conversation per caller, created on first use. Only the last message (the new user message) is ' +
  'taken: the stored history is what the model sees. The whole history may be sent, as the transport sends it: the earlier messages are ' +
  `skipped as the body arrives (checked to be JSON, never validated), so the body may be up to ${WHOLE_HISTORY_FACTOR} times BODY_LIMIT as long as the rest of it, ` +
  'the new message included, is within BODY_LIMIT (413 otherwise). `trigger: "regenerate-message"` replaces the last reply (a `messageId` naming an earlier message of the chat is 422). Always streamed: ' +
  '`start` (`messageId` = the stored reply id), `message-metadata` (`conversation_id`), `start-step`, `text-start`, `text-delta` ' +
  'per chunk, `text-end`, `finish-step`, `message-metadata` (the stored reply), `finish`, then `data: [DONE]`; or `error`. ' +
  "Aborting the request stops the reply, keeping what was produced as interrupted. API keys name their end user with `user`. " +
  'Unknown fields are ignored. Refusals before the stream are problem+json.';

const RESUME_DESCRIPTION =
  'The reply being generated in this chat (on any instance), from its `start` with the same message id: the text so far, ' +
  "then the rest as it comes, then `finish` and `[DONE]`. 204 when none runs. API keys name their end user with `?user=`. " +
  `One instance serves a running reply to at most ${MAX_READERS} resumed streams at once: 429 past that.`;

export function registerAiSdkRoutes(app: App, services: Services): void {
  const aiSdk = createAiSdkChat(services);
  // Resumed streams of replies running on another instance would otherwise hold the server open.
  app.addHook('preClose', async () => aiSdk.close());

  // The whole history is read (up to its own limit), and all but its last message skipped as it comes.
  const bodyLimit = app.initialConfig.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const readLimit = wholeHistoryLimit(bodyLimit);
  app.post(
    '/v1/ai-sdk/chat',
    {
      bodyLimit: readLimit,
      onRequest: services.authenticateChannels,
      preParsing: readLastMessageOnly({ bodyLimit, readLimit }),
      // A key's end user: `user` in the body, `?user=` on the resume (422 when missing).
      preHandler: bindEndUser,
      schema: {
        tags,
        security,
        summary: 'Chat with the AI SDK UI message stream protocol (useChat)',
        description: TURN_DESCRIPTION,
        body: AiSdkChatBody,
        response: { 200: UiMessageStreamAnswer, ...problems(400, 401, 403, 404, 409, 413, 422, 429) },
      },
    },
    async (request, reply) => {
      return aiSdk.turn(request, reply, principalOf(request), request.body);
    },
  );

  registerResume(app, services, aiSdk);

  // A browser asks before sending a visitor's token, and a preflight names no chatbot: it is
  // answered for any origin. The request itself is held to the chatbot's allowed_origins (a
  // visitor's, 403 otherwise) or to CORS_ORIGINS (an account's: no CORS headers otherwise).
  for (const url of ['/v1/ai-sdk/chat', '/v1/ai-sdk/chat/:id/stream', '/v1/ai-sdk/chat/*']) {
    app.options(url, { config: { cors: false }, schema: { hide: true } }, async (request, reply) => {
      await services.publicGuard.limitAddress(request);
      const origin = request.headers.origin;
      if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S))
        .send();
    });
  }
}

/** The resume's address: the chat id, then this. */
const RESUME_SUFFIX = '/stream';

/**
 * A resume whose chat id is over the router's 100 characters a path segment (a chat id may have
 * 200), or holds a slash (ai 5's transport puts the id in the path unencoded), matched no route:
 * the router's 404, which the transport throws at every reload of the chat. Such addresses come
 * here, `*` being the id and `/stream` (percent-decoded, as the router decodes `:id`). Anything
 * else under the path is the server's own not-found, before credentials are asked for.
 */
const resumeChatId = (request: FastifyRequest) => {
  const rest = (request.params as { '*': string })['*'];
  return rest.endsWith(RESUME_SUFFIX) ? rest.slice(0, -RESUME_SUFFIX.length) : null;
};

async function resumeAddressOnly(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (resumeChatId(request) !== null) return undefined;
  reply.callNotFound();
  return reply;
}

function registerResume(app: App, services: Services, aiSdk: AiSdkChat): void {
  app.get(
    '/v1/ai-sdk/chat/:id/stream',
    {
      onRequest: services.authenticateChannels,
      // A key's end user: `user` in the body, `?user=` on the resume (422 when missing).
      preHandler: bindEndUser,
      schema: {
        tags,
        security,
        summary: 'Resume the reply being generated in an AI SDK chat',
        description: RESUME_DESCRIPTION,
        params: ChatIdParams,
        querystring: ResumeQuery,
        response: { 200: UiMessageStreamAnswer, 204: NothingRunningAnswer, ...problems(401, 403, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      return aiSdk.resume(request, reply, principalOf(request), request.params.id);
    },
  );

  app.get(
    '/v1/ai-sdk/chat/*',
    { onRequest: [resumeAddressOnly, services.authenticateChannels], preHandler: bindEndUser, schema: { hide: true, querystring: ResumeQuery } },
    async (request, reply) => aiSdk.resume(request, reply, principalOf(request), resumeChatId(request)!),
  );
}
