// The request DefaultChatTransport (the AI SDK's `useChat`) sends, and the UI message stream
// Parley answers (§8). Bodies and queries keep unknown fields (§12): the transport adds the
// app's own `body` fields and later AI SDK releases add more, and none of them is an error.
import { Type, type Static, type TSchema } from 'typebox';
import { EndUserField } from '../api-keys/end-user.js';
import { WHOLE_HISTORY_FACTOR } from './last-message-body.js';

/** The conversation-naming chat id: the client's, 1–200 characters (as openClientChat requires). */
const ChatId = Type.String({ minLength: 1, maxLength: 200, description: "The client's chat id; names one conversation per caller, created on first use" });

/** One part of a UI message; only `text` parts are read; a `file` in the new user message is refused (422), the rest (data, tools, reasoning) are ignored. */
const UiMessagePart = Type.Object(
  { type: Type.String({ maxLength: 200 }), text: Type.Optional(Type.String()) },
  { title: 'UIMessagePart', additionalProperties: true },
);

const UiMessage = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 200 })),
    role: Type.Union([Type.Literal('system'), Type.Literal('user'), Type.Literal('assistant')]),
    parts: Type.Array(UiMessagePart, { maxItems: 1000 }),
  },
  { title: 'UIMessage', additionalProperties: true },
);
export type UiMessage = Static<typeof UiMessage>;

export const AiSdkChatBody = Type.Object(
  {
    id: ChatId,
    messages: Type.Array(UiMessage, {
      maxItems: 10_000,
      description:
        "The client's history, advisory: only the last message (the new user message) is taken; the server's stored history is what the model sees. " +
        `The earlier messages are skipped as the body arrives (checked to be JSON, not validated): the whole history may be sent, the body up to ${WHOLE_HISTORY_FACTOR} times BODY_LIMIT, the rest of it within BODY_LIMIT`,
    }),
    trigger: Type.Optional(
      Type.Union([Type.Literal('submit-message'), Type.Literal('regenerate-message')], { description: '`regenerate-message` answers the last message again, replacing the last reply' }),
    ),
    messageId: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'With `regenerate-message`: the message to answer again. Only the last reply, or the message it answers, can be (422 for an earlier one); an id the chat has not stored means the last',
      }),
    ),
    chatbot_id: Type.Optional(Type.String({ maxLength: 100, description: "Accounts: the chatbot of a new chat (the default chatbot when absent); keys and visitors use their credential's" })),
    user: EndUserField,
  },
  { title: 'AiSdkChatRequest', additionalProperties: true },
);
export type AiSdkChatInput = Static<typeof AiSdkChatBody>;

export const ChatIdParams = Type.Object({ id: ChatId });
export const ResumeQuery = Type.Object({ user: EndUserField }, { additionalProperties: true });

// The chunks of the stream, for documentation only (the stream is written outside the serialiser).
const chunk = <Props extends Record<string, TSchema>>(type: string, props: Props, description: string) =>
  Type.Object({ type: Type.Literal(type), ...props }, { additionalProperties: false, description });

export const UiMessageChunk = Type.Union(
  [
    chunk('start', { messageId: Type.String({ format: 'uuid', description: "The stored reply's id" }) }, 'First'),
    chunk('message-metadata', { messageMetadata: Type.Object({}, { additionalProperties: true }) }, 'After start: `{conversation_id}`; before finish: the stored reply\'s `{conversation_id, status, created_at, usage?, latency_ms?}`'),
    chunk('start-step', {}, 'The model starts answering'),
    chunk('text-start', { id: Type.String() }, 'The reply\'s text part begins'),
    chunk('text-delta', { id: Type.String(), delta: Type.String() }, 'The next piece of the reply'),
    chunk('text-end', { id: Type.String() }, 'The text part is complete'),
    chunk('finish-step', {}, 'The model finished'),
    chunk('finish', {}, 'The reply is stored (complete, or interrupted by a stop)'),
    chunk('error', { errorText: Type.String() }, 'The turn failed after the stream began; then `[DONE]`'),
  ],
  {
    title: 'UIMessageChunk',
    description:
      'Each Server-Sent Event is `data:` one JSON chunk; the stream ends with `data: [DONE]`. Only the chunk types and fields every ' +
      '`ai` client from 5.0 on accepts. Comment lines (`: keep-alive`) are heartbeats.',
  },
);

/** The `200 text/event-stream` answer: the AI SDK UI message stream protocol (header `x-vercel-ai-ui-message-stream: v1`). */
export const UiMessageStreamAnswer = {
  description: 'The AI SDK UI message stream (`x-vercel-ai-ui-message-stream: v1`)',
  content: { 'text/event-stream': { schema: UiMessageChunk } },
};

export const NothingRunningAnswer = Type.Null({ description: 'No reply is being generated in this chat' });
