import { and, asc, eq, sql } from 'drizzle-orm';
import type { Scoped } from '../../db/scope.js';
import { conversations, messages } from '../../db/schema.js';
import type { ConversationsRepo } from './conversations.repo.js';

/** The messages of conversations: pages of a history, a reply's feedback. */
export function createConversationMessagesRepo(scoped: Scoped): Pick<ConversationsRepo, 'messages' | 'setFeedback'> {
  return {
    async messages(userId, tenant, conversationId, limit, after) {
      return scoped.user(userId, ({ db }) =>
        db
          .select()
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
