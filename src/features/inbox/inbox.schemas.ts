// The owner's inbox (§7, §12 "Inbox rows"): their public chatbots' visitors' conversations, newest
// activity first, each with the visitor, what is unread and a preview of the last message.
import { Type, type Static } from 'typebox';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';

/** A last message longer than this (in code points) is cut to it, the "…" included. */
export const PREVIEW_CHARS = 200;

export const InboxQuery = Type.Object({ limit: LimitQuery, cursor: Type.Optional(CursorQuery) }, { additionalProperties: false });
export type InboxQueryInput = Static<typeof InboxQuery>;

export const LastMessageSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
    content: Type.String({ description: `A preview: at most ${PREVIEW_CHARS} code points, ending in "…" when cut` }),
    truncated: Type.Boolean({ description: 'Whether `content` was cut; the whole message is in GET /v1/conversations/{id}/messages' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'InboxLastMessage' },
);

export const InboxRowSchema = Type.Object(
  {
    conversation_id: Type.String({ format: 'uuid' }),
    visitor: Type.Object({
      visitor_id: Type.String({ description: "The page's own label for the visitor (not a credential)" }),
      name: Type.Union([Type.String(), Type.Null()], { description: 'The name the visitor gave, if any' }),
    }),
    unread_count: Type.Integer({ description: "The visitor's messages since the conversation was last marked read" }),
    last_message: Type.Union([LastMessageSchema, Type.Null()], {
      description: "The newest message of either role, a failed reply left out (the visitor's unanswered question shows instead); null before the first",
    }),
    updated_at: Type.String({ format: 'date-time', description: 'Latest activity' }),
  },
  { title: 'InboxRow' },
);
export type InboxRow = Static<typeof InboxRowSchema>;
export const InboxPage = pageOf(InboxRowSchema, 'InboxPage');

/** Marking read takes no fields: no body, or `{}`. */
export const ReadBody = Type.Object(
  {
    through_message_id: Type.Optional(
      Type.String({
        format: 'uuid',
        description:
          'The newest message your page shows. Marks read only up to it: what the visitor sent after it stays unread. ' +
          'Without it, everything is marked read.',
      }),
    ),
  },
  { additionalProperties: false, title: 'MarkRead' },
);

export const ReadSchema = Type.Object(
  {
    conversation_id: Type.String({ format: 'uuid' }),
    unread_count: Type.Integer({ description: 'What is left unread: 0, or the visitor\'s messages after `through_message_id`' }),
  },
  { title: 'ConversationRead' },
);
export type Read = Static<typeof ReadSchema>;
