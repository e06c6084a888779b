// OpenAI's Chat Completions and Models shapes (§8), as far as Parley honours them. Bodies keep
// fields Parley does not use (§12 "Unknown fields": OpenAI clients send many), and most optional
// scalars also take null, which several clients send for "not set".
import { Type, type Static, type TSchema } from 'typebox';
import { MAX_REPLY_TOKENS } from '../chatbots/chatbots.schemas.js';

const nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** As OpenAI's: up to four, none empty. */
export const MAX_STOP_SEQUENCES = 4;
/** The longest `model` taken: ids, slugs and provider model names are far shorter. */
export const MAX_MODEL_NAME = 200;

/** The longest stop sequence taken, in characters. */
export const MAX_STOP_CHARS = 1000;

const StopSequence = Type.String({ minLength: 1, maxLength: MAX_STOP_CHARS });

const TextPart = Type.Object(
  { type: Type.Literal('text'), text: Type.String({ maxLength: 1_000_000 }) },
  { additionalProperties: true, title: 'TextContentPart' },
);

export const ChatMessage = Type.Object(
  {
    role: Type.Union([Type.Literal('system'), Type.Literal('developer'), Type.Literal('user'), Type.Literal('assistant')], {
      description: 'Tool messages are refused: this chatbot offers no tools',
    }),
    content: Type.Union([Type.String({ maxLength: 1_000_000 }), Type.Array(TextPart, { maxItems: 1000 })], {
      description: "Text, or an array of text parts. Other part types are refused in the last message and left out of earlier ones (an assistant's `refusal` part is read as its text)",
    }),
  },
  { additionalProperties: true, title: 'ChatCompletionMessage' },
);
export type ChatMessageInput = Static<typeof ChatMessage>;

export const ChatCompletionBody = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: MAX_MODEL_NAME, description: 'The chatbot (its id, or its slug in any case), or a model it allows (see GET /v1/models)' }),
    messages: Type.Array(ChatMessage, {
      minItems: 1,
      maxItems: 10_000,
      description: 'The conversation to answer; the last message must be the user\'s. Client system messages come after the chatbot\'s own instructions.',
    }),
    stream: nullable(Type.Boolean()),
    stream_options: nullable(Type.Object({ include_usage: nullable(Type.Boolean()) }, { additionalProperties: true })),
    temperature: nullable(Type.Number({ minimum: 0, maximum: 2 })),
    // Passed to the model as given: bounded as a chatbot's own, so no provider is sent `1e+300`.
    max_tokens: nullable(Type.Integer({ minimum: 1, maximum: MAX_REPLY_TOKENS, description: 'Deprecated by OpenAI in favour of max_completion_tokens; both are honoured' })),
    max_completion_tokens: nullable(Type.Integer({ minimum: 1, maximum: MAX_REPLY_TOKENS })),
    n: nullable(Type.Integer({ minimum: 1, description: 'Only 1: Parley answers one choice' })),
    stop: nullable(
      Type.Union([StopSequence, Type.Array(StopSequence, { minItems: 1, maxItems: MAX_STOP_SEQUENCES })], {
        description: `Up to ${MAX_STOP_SEQUENCES} sequences: the answer ends before the first of them`,
      }),
    ),
    user: nullable(Type.String({ maxLength: 1000, description: 'API keys: the end user (1–128 characters of [A-Za-z0-9._@-])' })),
    tools: nullable(Type.Array(Type.Unknown(), { description: 'Refused unless empty or `tool_choice` is `none`: the chatbot offers no tools' })),
    functions: nullable(Type.Array(Type.Unknown(), { description: 'Refused unless empty or `function_call` is `none`: the chatbot offers no functions' })),
    function_call: nullable(Type.Unknown({ description: 'Deprecated by OpenAI in favour of tool_choice; `none` lets `functions` be sent' })),
    response_format: nullable(
      Type.Object({ type: Type.String({ maxLength: 100 }) }, { additionalProperties: true, description: 'Only `{"type": "text"}`: the chatbot answers in text (JSON mode and schemas are refused)' }),
    ),
    logprobs: nullable(Type.Boolean({ description: 'Only false: Parley gives no log-probabilities' })),
    top_logprobs: nullable(Type.Integer({ minimum: 0, description: 'Only 0' })),
    tool_choice: nullable(Type.Unknown({ description: '`none` or `auto` only: the chatbot offers no tools' })),
    modalities: nullable(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 10, description: 'Only `["text"]`' })),
    audio: nullable(Type.Unknown({ description: 'Refused: the chatbot answers in text' })),
  },
  { additionalProperties: true, title: 'ChatCompletionRequest', description: 'OpenAI Chat Completions; fields not listed are accepted and ignored' },
);
export type ChatCompletionInput = Static<typeof ChatCompletionBody>;

const Usage = Type.Object(
  { prompt_tokens: Type.Integer(), completion_tokens: Type.Integer(), total_tokens: Type.Integer() },
  { title: 'CompletionUsage' },
);
const FinishReason = Type.Union([Type.Literal('stop'), Type.Literal('length')], {
  description: '`length` when the reply used every token it was allowed; a reply the server cuts short (shutdown) is an error, never a finish',
});

export const ChatCompletion = Type.Object(
  {
    id: Type.String({ description: '`chatcmpl-` and the reply\'s id' }),
    object: Type.Literal('chat.completion'),
    created: Type.Integer({ description: 'Unix seconds' }),
    model: Type.String({ description: 'The `model` of the request' }),
    choices: Type.Array(
      Type.Object({
        index: Type.Integer(),
        message: Type.Object({ role: Type.Literal('assistant'), content: Type.String(), refusal: Type.Null() }),
        logprobs: Type.Null(),
        finish_reason: FinishReason,
      }),
    ),
    usage: Usage,
  },
  { title: 'ChatCompletion' },
);
export type ChatCompletionAnswer = Static<typeof ChatCompletion>;

export const ChatCompletionChunk = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('chat.completion.chunk'),
    created: Type.Integer(),
    model: Type.String(),
    choices: Type.Array(
      Type.Object({
        index: Type.Integer(),
        delta: Type.Object({ role: Type.Optional(Type.Literal('assistant')), content: Type.Optional(Type.String()) }),
        logprobs: Type.Null(),
        finish_reason: Type.Union([FinishReason, Type.Null()]),
      }),
      { description: 'One choice; empty in the usage chunk' },
    ),
    usage: Type.Optional(Type.Union([Usage, Type.Null()], { description: 'With `stream_options.include_usage` only: null, then the totals in the last chunk' })),
  },
  { title: 'ChatCompletionChunk', description: 'One `data:` frame of a streamed answer' },
);

export const OpenAiError = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: 'invalid_request_error, authentication_error, permission_error, requests, insufficient_quota, server_error' }),
      param: Type.Union([Type.String(), Type.Null()]),
      code: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  { title: 'OpenAIError', description: 'OpenAI\'s error shape (not problem+json, on these endpoints only)' },
);
export type OpenAiErrorBody = Static<typeof OpenAiError>;

const StreamFrame = Type.Union([ChatCompletionChunk, OpenAiError, Type.Literal('[DONE]')], {
  title: 'ChatCompletionStreamFrame',
  description:
    'Data-only Server-Sent Events: `data: <chunk>` frames, the first with `delta.role: "assistant"`, the last content one with ' +
    '`finish_reason`; with `stream_options.include_usage` one more chunk with `choices: []` and the usage; then `data: [DONE]`. ' +
    'A failure after the first byte is one `data: {"error": {…}}` frame and the stream ends without `[DONE]`. Comment lines ' +
    '(`: keep-alive`) are heartbeats.',
});

/** One 200 answer, JSON or an event stream as `stream` asks. */
export const ChatCompletionResponse = {
  description: 'The answer: JSON, or with `stream: true` Server-Sent Events',
  content: { 'application/json': { schema: ChatCompletion }, 'text/event-stream': { schema: StreamFrame } },
};

export const ModelSchema = Type.Object(
  {
    id: Type.String({ description: 'The chatbot\'s slug, or a model name this server allows' }),
    object: Type.Literal('model'),
    created: Type.Integer({ description: 'Unix seconds' }),
    owned_by: Type.String(),
  },
  { title: 'Model' },
);
export type OpenAiModel = Static<typeof ModelSchema>;

export const ModelList = Type.Object({ object: Type.Literal('list'), data: Type.Array(ModelSchema) }, { title: 'ModelList' });

export const ModelParams = Type.Object({ id: Type.String({ maxLength: MAX_MODEL_NAME }) });

/** OpenAI-shaped errors for the given statuses, for route schemas. */
export const openAiErrors = (...statuses: number[]): Record<number, typeof OpenAiError> => Object.fromEntries(statuses.map((status) => [status, OpenAiError]));
