import type { Scoped } from '../../db/scope.js';

/** One inbox row as read: the preview is cut to at most `previewChars + 1` code points by the query. */
export interface InboxEntry {
  conversationId: string;
  visitorLabel: string;
  visitorName: string | null;
  unreadCount: number;
  updatedAt: Date;
  lastMessage: { id: string; role: 'user' | 'assistant'; content: string; createdAt: Date } | null;
}

export interface InboxRepo {
  /**
   * Visitors' conversations of one of the user's chatbots, newest activity first; `after` is the
   * (updated_at, id) of the last row seen. Fetches `limit + 1` rows (toPage's "is there more").
   * `previewChars`: the last message's content is read up to one code point past this.
   */
  list(userId: string, chatbotId: string, limit: number, after: [Date, string] | null, previewChars: number): Promise<InboxEntry[]>;
  /**
   * Sets unread_count to 0, or with `throughMessageId` to the count of user messages after that one
   * (never raising it), without touching updated_at. What is left unread; 'no_conversation' when
   * the user has no such conversation, 'no_message' when the message is not one of it.
   */
  markRead(userId: string, conversationId: string, throughMessageId?: string): Promise<number | 'no_conversation' | 'no_message'>;
}

type Row = {
  id: string;
  updated_at: Date | string;
  unread_count: number | string;
  label: string;
  name: string | null;
  m_id: string | null;
  m_role: 'user' | 'assistant' | null;
  m_content: string | null;
  m_created_at: Date | string | null;
};

// One statement per page. The keyset walks conversations_chatbot_visits_idx (chatbot_id,
// updated_at DESC, id DESC: visitors' conversations only, migration 0030); the last
// message of each row shown is one probe of messages_conversation_idx (conversation_id, id), ids
// being time-ordered. left() counts characters, so a long message is never read whole.
// A failed reply is no answer the visitor got: the preview passes over it to the question it left
// unanswered, rather than show a blank or a fragment as the chatbot's answer (a visitor's next
// message starts the next turn, so the probe seldom steps over more than one).
const page = (keyset: boolean) => `
SELECT c.id, c.updated_at, c.unread_count, v.visitor_id AS label, v.name,
       m.id AS m_id, m.role AS m_role, m.content AS m_content, m.created_at AS m_created_at
  FROM conversations c
  JOIN visitors v ON v.id = c.visitor_id
  LEFT JOIN LATERAL (
    SELECT id, role, left(content, $4::int + 1) AS content, created_at
      FROM messages
     WHERE conversation_id = c.id AND user_id = $1 AND status <> 'failed'
     ORDER BY id DESC
     LIMIT 1
  ) m ON true
 WHERE c.chatbot_id = $2::uuid AND c.user_id = $1 AND c.visitor_id IS NOT NULL
   ${keyset ? 'AND (c.updated_at, c.id) < ($5::timestamptz, $6::uuid)' : ''}
 ORDER BY c.updated_at DESC, c.id DESC
 LIMIT $3::int`;

export const FIRST_PAGE = page(false);
const NEXT_PAGE = page(true);

// Only the count changes: updated_at stays, so reading a conversation does not move it in the inbox.
const MARK_READ = 'UPDATE conversations SET unread_count = 0 WHERE id = $2::uuid AND user_id = $1 RETURNING unread_count';
// Read up to a message: the row is locked first, so the count (a statement of its own, with a
// snapshot taken after the lock) sees every message a turn that held the row committed. Counted
// from the messages, since the counter is all the row keeps; a turn's user message and its bump
// of the counter commit together.
const LOCK = 'SELECT id FROM conversations WHERE id = $2::uuid AND user_id = $1 FOR UPDATE';
const MESSAGE_OF = 'SELECT id FROM messages WHERE id = $3::uuid AND conversation_id = $2::uuid AND user_id = $1';
const MARK_READ_THROUGH = `
UPDATE conversations
   SET unread_count = LEAST(unread_count, (SELECT count(*) FROM messages
                                            WHERE conversation_id = $2::uuid AND user_id = $1 AND role = 'user' AND id > $3::uuid))
 WHERE id = $2::uuid AND user_id = $1
RETURNING unread_count`;

const toEntry = (row: Row): InboxEntry => ({
  conversationId: row.id,
  visitorLabel: row.label,
  visitorName: row.name,
  unreadCount: Number(row.unread_count),
  updatedAt: new Date(row.updated_at),
  lastMessage:
    row.m_id === null
      ? null
      : { id: row.m_id, role: row.m_role!, content: row.m_content ?? '', createdAt: new Date(row.m_created_at!) },
});

export function createInboxRepo(scoped: Scoped): InboxRepo {
  return {
    async list(userId, chatbotId, limit, after, previewChars) {
      const params: unknown[] = [userId, chatbotId, limit + 1, previewChars];
      if (after) params.push(after[0].toISOString(), after[1]);
      const rows = await scoped.user(userId, ({ sql }) => sql.query<Row>(after ? NEXT_PAGE : FIRST_PAGE, params));
      return rows.map(toEntry);
    },
    async markRead(userId, conversationId, throughMessageId) {
      return scoped.user(userId, async ({ sql }) => {
        if (throughMessageId === undefined) {
          const rows = await sql.query<{ unread_count: number | string }>(MARK_READ, [userId, conversationId]);
          return rows.length > 0 ? Number(rows[0]!.unread_count) : 'no_conversation';
        }
        const params = [userId, conversationId, throughMessageId];
        if ((await sql.query(LOCK, params.slice(0, 2))).length === 0) return 'no_conversation';
        if ((await sql.query(MESSAGE_OF, params)).length === 0) return 'no_message';
        const rows = await sql.query<{ unread_count: number | string }>(MARK_READ_THROUGH, params);
        return Number(rows[0]!.unread_count);
      });
    },
  };
}
