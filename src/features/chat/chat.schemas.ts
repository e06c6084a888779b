import { Type, type Static, type TSchema } from 'typebox';
import { EndUserField } from '../api-keys/end-user.js';
import { MAX_CONTEXT_CHARS, MessageSchema } from '../conversations/conversations.schemas.js';

// The configured MAX_MESSAGE_CHARS is checked by the service; this only bounds the parser.
const Content = Type.String({ maxLength: 1_000_000, description: 'At most MAX_MESSAGE_CHARS (default 32,000) characters; not blank' });
const TurnContext = Type.String({ maxLength: MAX_CONTEXT_CHARS, description: 'Extra knowledge for this turn only' });
const Stream = Type.Boolean({ description: 'Answer with Server-Sent Events (also chosen by Accept: text/event-stream)' });

export const SendMessageBody = Type.Object(
  { content: Content, context: Type.Optional(TurnContext), stream: Type.Optional(Stream), user: EndUserField },
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
    user: EndUserField,
  },
  { additionalProperties: false, title: 'ChatRequest' },
);
export type ChatInput = Static<typeof ChatBody>;

export const RegenerateBody = Type.Object({ stream: Type.Optional(Stream), user: EndUserField }, { additionalProperties: false, title: 'RegenerateRequest' });
export const StopBody = Type.Object({ user: EndUserField }, { additionalProperties: false });

export const TurnAnswer = Type.Object({ user_message: MessageSchema, reply: MessageSchema }, { title: 'TurnAnswer' });
export const ChatAnswer = Type.Object(
  { conversation_id: Type.String({ format: 'uuid' }), user_message: MessageSchema, reply: MessageSchema },
  { title: 'ChatAnswer' },
);
export const RegenerateAnswer = Type.Object({ reply: MessageSchema }, { title: 'RegenerateAnswer' });
export const StopAnswer = Type.Object({ stopped: Type.Boolean({ description: 'Whether a reply was being generated' }) }, { title: 'StopAnswer' });

// The `data` of each Server-Sent Event of a streamed turn (§6.1); documentation only, as the
// stream is written outside Fastify's serialiser.
export const MessageStartEvent = Type.Object(
  {
    conversation_id: Type.String({ format: 'uuid' }),
    user_message: Type.Union([MessageSchema, Type.Null()], { description: 'The stored message just sent; null when regenerating' }),
    reply_id: Type.String({ format: 'uuid', description: 'The id the stored reply will have' }),
  },
  { title: 'MessageStartEvent', description: '`event: message.start`, first, before the model produces anything' },
);
export const MessageDeltaEvent = Type.Object(
  { reply_id: Type.String({ format: 'uuid' }), delta: Type.String({ description: 'The next piece of the reply\'s text' }) },
  { title: 'MessageDeltaEvent', description: '`event: message.delta`, one per chunk of the reply' },
);
export const MessageEndEvent = Type.Object(
  { reply: MessageSchema },
  { title: 'MessageEndEvent', description: '`event: message.end`, last: the stored reply (complete or interrupted) with usage and latency' },
);
export const StreamErrorEvent = Type.Object(
  { code: Type.String({ description: 'A stable error code, as in problem+json' }), message: Type.String() },
  { title: 'StreamErrorEvent', description: '`event: error`, last, instead of message.end: the turn failed after the stream began' },
);

const frame = <Name extends string, Data extends TSchema>(event: Name, data: Data) =>
  Type.Object({ event: Type.Literal(event), data }, { description: `\`event: ${event}\` then \`data:\` the JSON below` });

export const TurnEventStream = Type.Union(
  [frame('message.start', MessageStartEvent), frame('message.delta', MessageDeltaEvent), frame('message.end', MessageEndEvent), frame('error', StreamErrorEvent)],
  {
    title: 'TurnEvent',
    description:
      'One Server-Sent Event: an `event:` line naming it, a `data:` line of JSON. In order: `message.start`, ' +
      '`message.delta` per chunk, then `message.end` or `error`, and the stream ends. Comment lines (`: keep-alive`) are heartbeats.',
  },
);

/** The `200 text/event-stream` answer of a streamed turn, beside its 201 JSON answer. */
export const TurnStreamAnswer = {
  description: 'Server-Sent Events, with `stream: true` or `Accept: text/event-stream`',
  content: { 'text/event-stream': { schema: TurnEventStream } },
};

export const STREAM_DESCRIPTION =
  'With `stream: true` or `Accept: text/event-stream` the answer is `200 text/event-stream`: `message.start` ' +
  '`{conversation_id, user_message, reply_id}`, `message.delta` `{reply_id, delta}` per chunk, then `message.end` `{reply}` ' +
  'or `error` `{code, message}`. Send an `Idempotency-Key` header to make retries safe.';
