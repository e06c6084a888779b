import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Scoped } from '../../db/scope.js';
import { conversations, messages } from '../../db/schema.js';
import type { ConversationsRepo } from './conversations.repo.js';

// A user message's own context (up to 20,000 characters, kept for a regenerate) is no part of
// what a page of the history shows: not read for it.
const { context: _context, ...LISTED } = getTableColumns(messages);

/** The messages of conversations: pages of a history, a reply's feedback. */
export function createConversationMessagesRepo(scoped: Scoped): Pick<ConversationsRepo, 'messages' | 'setFeedback'> {
  return {
    async messages(userId, tenant, conversationId, limit, after) {
      return scoped.user(userId, ({ db }) =>
        db
          .select(LISTED)
          .from(messages)
          .where(and(eq(messages.conversationId, conversationId), eq(messages.userId, tenant), after ? sql`${messages.id} > ${after}` : undefined))
          .orderBy(asc(messages.id))
          .limit(limit + 1),
      );
    },
    async setFeedback(userId, id, rating, comment, audience) {
      const theirs = audience
        ? sql`${messages.conversationId} IN (SELECT ${conversations.id} FROM ${conversations} WHERE ${conversations.userId} = ${userId}::uuid AND ${conversations.visitorId} = ${audience.id} AND ${conversations.chatbotId} = ${audience.chatbotId}::uuid)`
        : undefined;
      const [row] = await scoped.user(userId, ({ db }) =>
        db
          .update(messages)
          .set({ feedbackRating: rating, feedbackComment: comment })
          .where(and(eq(messages.id, id), eq(messages.userId, userId), eq(messages.role, 'assistant'), theirs))
          .returning(),
      );
      return row;
    },
  };
}
