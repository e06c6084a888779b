import { Type, type Static } from 'typebox';
import type { ConversationRow, MessageRow } from '../../db/schema.js';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';
import { EndUserField } from '../api-keys/end-user.js';
import { MAX_TITLE_GRAPHEME_UNITS, MAX_TITLE_GRAPHEMES, MAX_TITLE_UNITS } from '../../lib/text.js';

export const MAX_CONTEXT_CHARS = 20_000;

// The service checks graphemes (as the title taken from a first message is cut); this only bounds the parser.
const Title = Type.String({
  minLength: 1,
  maxLength: MAX_TITLE_UNITS,
  pattern: '\\S',
  description: `At most ${MAX_TITLE_GRAPHEMES} grapheme clusters of at most ${MAX_TITLE_GRAPHEME_UNITS} UTF-16 code units each; not blank`,
});
const Context = Type.String({ maxLength: MAX_CONTEXT_CHARS, description: 'Extra knowledge for this conversation (data for the model, not instructions)' });
const Status = Type.Union([Type.Literal('active'), Type.Literal('completed')]);

export const CreateConversationBody = Type.Object(
  {
    chatbot_id: Type.Optional(Type.String({ maxLength: 100, description: 'Defaults to your default chatbot' })),
    title: Type.Optional(Title),
    context: Type.Optional(Context),
    user: EndUserField,
  },
  { additionalProperties: false, title: 'NewConversation' },
);
export type CreateConversationInput = Static<typeof CreateConversationBody>;

export const UpdateConversationBody = Type.Object(
  { title: Type.Optional(Type.Union([Title, Type.Null()])), status: Type.Optional(Status), context: Type.Optional(Type.Union([Context, Type.Null()])), user: EndUserField },
  { additionalProperties: false, minProperties: 1, title: 'ConversationChanges' },
);
export type UpdateConversationInput = Static<typeof UpdateConversationBody>;

export const ListConversationsQuery = Type.Object(
  {
    chatbot_id: Type.Optional(Type.String({ maxLength: 100 })),
    status: Type.Optional(Status),
    limit: LimitQuery,
    cursor: Type.Optional(CursorQuery),
    user: EndUserField,
  },
  { additionalProperties: false },
);
export type ListConversationsInput = Static<typeof ListConversationsQuery>;

export const ConversationSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    chatbot_id: Type.String({ format: 'uuid' }),
    title: Type.Union([Type.String(), Type.Null()]),
    status: Status,
    context: Type.Union([Type.String(), Type.Null()]),
    message_count: Type.Integer({ description: 'Stored messages of both roles' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time', description: 'Latest activity: when the latest reply was stored, or the conversation last changed' }),
  },
  { title: 'Conversation' },
);
export type Conversation = Static<typeof ConversationSchema>;
export const ConversationPage = pageOf(ConversationSchema, 'ConversationPage');

export const MessageSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
    content: Type.String(),
    status: Type.Union([Type.Literal('complete'), Type.Literal('interrupted'), Type.Literal('failed')]),
    created_at: Type.String({ format: 'date-time' }),
    usage: Type.Optional(Type.Object({ prompt_tokens: Type.Integer(), completion_tokens: Type.Integer() })),
    latency_ms: Type.Optional(Type.Integer({ description: 'Time the model took for this reply' })),
    error: Type.Optional(Type.String({ description: 'Why a reply failed: the model call\'s fault (network_error, timeout, server_error, rate_limited, quota_exceeded, rejected, stream_error), internal_error, or server_stopped (the server stopped while the reply was generated; stored when it started again)' })),
    feedback: Type.Union([
      Type.Object({ rating: Type.Union([Type.Literal('like'), Type.Literal('dislike'), Type.Null()]), comment: Type.Union([Type.String(), Type.Null()]) }),
      Type.Null(),
    ]),
  },
  { title: 'Message' },
);
export type Message = Static<typeof MessageSchema>;
export const MessagePage = pageOf(MessageSchema, 'MessagePage');
export const ListMessagesQuery = Type.Object({ limit: LimitQuery, cursor: Type.Optional(CursorQuery), user: EndUserField }, { additionalProperties: false });

export function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    chatbot_id: row.chatbotId,
    title: row.title,
    status: row.status,
    context: row.context,
    message_count: row.messageCount,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export type MessageFields = Pick<
  MessageRow,
  'id' | 'role' | 'content' | 'status' | 'createdAt' | 'promptTokens' | 'completionTokens' | 'latencyMs' | 'errorCode' | 'feedbackRating' | 'feedbackComment'
>;

export function toMessage(row: MessageFields): Message {
  const message: Message = {
    id: row.id,
    role: row.role,
    content: row.content,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    feedback: row.feedbackRating || row.feedbackComment ? { rating: row.feedbackRating, comment: row.feedbackComment } : null,
  };
  if (row.promptTokens !== null || row.completionTokens !== null) {
    message.usage = { prompt_tokens: row.promptTokens ?? 0, completion_tokens: row.completionTokens ?? 0 };
  }
  if (row.latencyMs !== null) message.latency_ms = row.latencyMs;
  if (row.errorCode) message.error = row.errorCode;
  return message;
}
