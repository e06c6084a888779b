import { Type, type Static } from 'typebox';
import { MAX_CONTEXT_CHARS, MessageSchema } from '../conversations/conversations.schemas.js';

// The configured MAX_MESSAGE_CHARS is checked by the service; this only bounds the parser.
const Content = Type.String({ maxLength: 1_000_000, description: 'At most MAX_MESSAGE_CHARS (default 32,000) characters; not blank' });
const TurnContext = Type.String({ maxLength: MAX_CONTEXT_CHARS, description: 'Extra knowledge for this turn only' });
const Stream = Type.Boolean({ description: 'Answer with Server-Sent Events (also chosen by Accept: text/event-stream)' });

export const SendMessageBody = Type.Object(
  { content: Content, context: Type.Optional(TurnContext), stream: Type.Optional(Stream) },
  { additionalProperties: false, title: 'NewMessage' },
);
export type SendMessageInput = Static<typeof SendMessageBody>;

export const ChatBody = Type.Object(
  {
    message: Content,
    conversation_id: Type.Optional(Type.String({ maxLength: 100, description: 'Continue this conversation; a new one is created when absent' })),
    chatbot_id: Type.Optional(Type.String({ maxLength: 100, description: 'For a new conversation; your default chatbot when absent' })),
    context: Type.Optional(TurnContext),
    stream: Type.Optional(Stream),
  },
  { additionalProperties: false, title: 'ChatRequest' },
);
export type ChatInput = Static<typeof ChatBody>;

export const RegenerateBody = Type.Object({ stream: Type.Optional(Stream) }, { additionalProperties: false, title: 'RegenerateRequest' });
export const StopBody = Type.Object({}, { additionalProperties: false });

export const TurnAnswer = Type.Object({ user_message: MessageSchema, reply: MessageSchema }, { title: 'TurnAnswer' });
export const ChatAnswer = Type.Object(
  { conversation_id: Type.String({ format: 'uuid' }), user_message: MessageSchema, reply: MessageSchema },
  { title: 'ChatAnswer' },
);
export const RegenerateAnswer = Type.Object({ reply: MessageSchema }, { title: 'RegenerateAnswer' });
export const StopAnswer = Type.Object({ stopped: Type.Boolean({ description: 'Whether a reply was being generated' }) }, { title: 'StopAnswer' });

export const STREAM_DESCRIPTION =
  'With `stream: true` or `Accept: text/event-stream` the answer is `200 text/event-stream`: `message.start` ' +
  '`{conversation_id, user_message, reply_id}`, `message.delta` `{reply_id, delta}` per chunk, then `message.end` `{reply}` ' +
  'or `error` `{code, message}`. Send an `Idempotency-Key` header to make retries safe.';
