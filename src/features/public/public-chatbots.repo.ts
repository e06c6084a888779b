import { and, eq, isNotNull } from 'drizzle-orm';
import { chatbots, conversations, users } from '../../db/schema.js';
import type { Scoped } from '../../db/scope.js';

export interface PublicChatbotRow {
  id: string;
  slug: string;
  name: string;
  description: string;
  greeting: string;
  ownerId: string;
  ownerUsername: string;
  /** Exact origins a browser may call this chatbot's public routes from; empty: any (§7). */
  allowedOrigins: string[];
}

/** A chatbot named by its (lowercase) id or by its (lowercase) slug. */
export type ChatbotKey = { id: string } | { slug: string };

export interface PublicChatbotsRepo {
  /** The chatbot when it is public and its owner active; undefined for every other. */
  find(key: ChatbotKey): Promise<PublicChatbotRow | undefined>;
  /** The public chatbot a visitor's conversation belongs to (a browser's preflight names only the conversation). */
  chatbotOfConversation(conversationId: string): Promise<string | undefined>;
}

export function createPublicChatbotsRepo(scoped: Scoped): PublicChatbotsRepo {
  return {
    async find(key) {
      // The `public` scope (migrations/0008) shows only public chatbots and their owners' rows;
      // the conditions say the same, so neither alone decides what an anonymous caller sees.
      const [row] = await scoped.system('public', ({ db }) =>
        db
          .select({
            id: chatbots.id,
            slug: chatbots.slug,
            name: chatbots.name,
            description: chatbots.description,
            greeting: chatbots.greeting,
            ownerId: chatbots.userId,
            ownerUsername: users.username,
            allowedOrigins: chatbots.allowedOrigins,
          })
          .from(chatbots)
          .innerJoin(users, eq(users.id, chatbots.userId))
          .where(and('id' in key ? eq(chatbots.id, key.id) : eq(chatbots.slug, key.slug), eq(chatbots.isPublic, true), eq(users.isActive, true)))
          .limit(1),
      );
      return row;
    },
    async chatbotOfConversation(conversationId) {
      // The `public` scope (migrations/0009) shows visitors' conversations of public chatbots.
      const [row] = await scoped.system('public', ({ db }) =>
        db
          .select({ chatbotId: conversations.chatbotId })
          .from(conversations)
          .where(and(eq(conversations.id, conversationId), isNotNull(conversations.visitorId)))
          .limit(1),
      );
      return row?.chatbotId;
    },
  };
}
