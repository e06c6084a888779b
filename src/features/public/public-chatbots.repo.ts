import { and, eq } from 'drizzle-orm';
import { chatbots, users } from '../../db/schema.js';
import type { Scoped } from '../../db/scope.js';

export interface PublicChatbotRow {
  id: string;
  slug: string;
  name: string;
  description: string;
  greeting: string;
  ownerUsername: string;
}

/** A chatbot named by its (lowercase) id or by its (lowercase) slug. */
export type ChatbotKey = { id: string } | { slug: string };

export interface PublicChatbotsRepo {
  /** The chatbot when it is public and its owner active; undefined for every other. */
  find(key: ChatbotKey): Promise<PublicChatbotRow | undefined>;
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
            ownerUsername: users.username,
          })
          .from(chatbots)
          .innerJoin(users, eq(users.id, chatbots.userId))
          .where(and('id' in key ? eq(chatbots.id, key.id) : eq(chatbots.slug, key.slug), eq(chatbots.isPublic, true), eq(users.isActive, true)))
          .limit(1),
      );
      return row;
    },
  };
}
