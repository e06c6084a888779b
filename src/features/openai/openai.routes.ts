// The OpenAI-compatible endpoints (§8): POST /v1/chat/completions and GET /v1/models, so any
// OpenAI SDK talks to a Parley chatbot by changing its base URL. They live in their own
// encapsulated scope: its error handler answers in OpenAI's error shape, here and nowhere else.
import type { Services } from '../../compose.js';
import { bearerSecurity } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { principalOf } from '../auth/authenticate.js';
import { explainMessageForms } from './message-forms.js';
import { createCompletions } from './openai-completions.js';
import { openAiErrorHandler } from './openai-errors.js';
import { ChatCompletionBody, ChatCompletionResponse, ModelList, ModelParams, ModelSchema, openAiErrors } from './openai.schemas.js';
import { createOpenAiModels } from './openai.service.js';

const tags = ['openai'];
const security = bearerSecurity;

const completionSchema = {
  tags,
  security,
  summary: 'OpenAI Chat Completions, answered by a chatbot',
  description:
    'OpenAI\'s Chat Completions format, whole or streamed (`stream: true`), answered by the chatbot `model` names (its id or slug, ' +
    'or for an API key a model its chatbot allows) with its system prompt, knowledge and limits. Client `system` messages come ' +
    'after the chatbot\'s own instructions. `temperature`, `max_tokens` and `stop` are honoured. Nothing is stored but usage. Errors are OpenAI\'s `{error: {message, type, param, code}}`; ' +
    'answers a retry cannot fix or would repeat carry `x-should-retry: false`. Fields Parley does not use are ignored; what it cannot honour ' +
    'is refused: `n > 1`, tools (unless `tool_choice` is `none`), a `tool_choice` other than `none`/`auto`, JSON `response_format`s, `logprobs`, audio; in `messages`, ' +
    'parts other than text, `tool`/`function` messages and tool calls, each refusal naming the parameter.',
  body: ChatCompletionBody,
  response: { 200: ChatCompletionResponse, ...openAiErrors(400, 401, 403, 404, 413, 429, 500, 502, 503) },
};

export function registerOpenAiRoutes(app: App, services: Services): void {
  const models = createOpenAiModels({ chatbots: services.chatbots, allowedModels: services.config.llm.models });
  const completions = createCompletions({ chat: services.chat, models, keys: services.keys, heartbeats: services.heartbeats, jobs: services.jobs });
  const onRequest = services.authenticateKeys;

  void app.register(async (scope: App) => {
    scope.setErrorHandler(openAiErrorHandler);

    // The answer's first statement checks a key itself (Principal.keyCheck): no read of its own.
    scope.post('/v1/chat/completions', { onRequest: services.authenticateAnswer, preValidation: explainMessageForms, schema: completionSchema }, (request, reply) => completions.complete(request, reply, request.body));

    scope.get(
      '/v1/models',
      { onRequest, schema: { tags, security, summary: 'The models (chatbots) the caller may use, in OpenAI\'s list shape', response: { 200: ModelList, ...openAiErrors(401, 403, 429, 503) } } },
      async (request) => ({ object: 'list' as const, data: await models.list(principalOf(request)) }),
    );

    scope.get(
      '/v1/models/:id',
      { onRequest, schema: { tags, security, summary: 'One model the caller may use', params: ModelParams, response: { 200: ModelSchema, ...openAiErrors(401, 403, 404, 429, 503) } } },
      async (request) => models.get(principalOf(request), request.params.id),
    );
    // The router takes a path segment of at most 100 characters, and a slash a client did not
    // encode (`openai/gpt-4o`) makes two: without this, both got the generic 404 problem, not
    // OpenAI's `model_not_found` the SDKs raise as NotFoundError.
    scope.get('/v1/models/*', { onRequest, schema: { hide: true } }, async (request) => models.get(principalOf(request), (request.params as { '*': string })['*']));
  });
}
