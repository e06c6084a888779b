import { and, desc, eq, or, sql, type SQL } from 'drizzle-orm';
import { constraintName, isUniqueViolation } from '../../db/errors.js';
import { chatbots, type ChatbotRow } from '../../db/schema.js';
import type { Access } from '../../db/client.js';
import type { Scoped } from '../../db/scope.js';
import { nextFreeSlug } from './slugs.js';

export type ChatbotValues = Omit<typeof chatbots.$inferInsert, 'id' | 'userId' | 'createdAt' | 'updatedAt' | 'knowledgeChunks'>;
export type ChatbotChanges = Partial<ChatbotValues>;

export interface ChatbotsRepo {
  /** Inserts with the first free slug from `slugBase` (or exactly `slug`); null when an exact slug is taken. */
  insert(userId: string, values: Omit<ChatbotValues, 'slug'>, slug: { exact: string } | { base: string }, now: Date): Promise<ChatbotRow | null>;
  find(userId: string, id: string): Promise<ChatbotRow | undefined>;
  findBySlug(userId: string, slug: string): Promise<ChatbotRow | undefined>;
  findDefault(userId: string): Promise<ChatbotRow | undefined>;
  /** Newest first; `after` is the (created_at, id) of the last row seen. `userId` null: every user's (admins). */
  list(userId: string | null, limit: number, after: [Date, string] | null): Promise<ChatbotRow[]>;
  /** Null when an explicit new slug is taken; undefined when no such chatbot. */
  update(userId: string, id: string, changes: ChatbotChanges, now: Date): Promise<ChatbotRow | null | undefined>;
  remove(userId: string, id: string): Promise<boolean>;
}

const MAX_SLUG_ATTEMPTS = 5;

// Slugs are unique across users, so this one read looks at everyone's (the `slugs` scope).
async function takenLike(scoped: Scoped, base: string): Promise<string[]> {
  const rows = await scoped.system('slugs', ({ db }) =>
    db
      .select({ slug: chatbots.slug })
      .from(chatbots)
      .where(or(eq(chatbots.slug, base), sql`${chatbots.slug} ~ ${`^${base}-[0-9]+$`}`)),
  );
  return rows.map((row) => row.slug);
}

async function findDefault(scoped: Scoped, userId: string): Promise<ChatbotRow | undefined> {
  const [row] = await scoped.user(userId, ({ db }) =>
    db
      .select()
      .from(chatbots)
      .where(and(eq(chatbots.userId, userId), eq(chatbots.isDefault, true)))
      .limit(1),
  );
  return row;
}

function createChatbotReads(scoped: Scoped): Pick<ChatbotsRepo, 'find' | 'findBySlug' | 'findDefault' | 'list'> {
  return {
    async find(userId, id) {
      const [row] = await scoped.user(userId, ({ db }) =>
        db.select().from(chatbots).where(and(eq(chatbots.id, id), eq(chatbots.userId, userId))).limit(1),
      );
      return row;
    },
    async findBySlug(userId, slug) {
      const [row] = await scoped.user(userId, ({ db }) =>
        db.select().from(chatbots).where(and(eq(chatbots.slug, slug), eq(chatbots.userId, userId))).limit(1),
      );
      return row;
    },
    findDefault: (userId) => findDefault(scoped, userId),
    async list(userId, limit, after) {
      const conditions: SQL[] = [];
      if (userId) conditions.push(eq(chatbots.userId, userId));
      if (after) conditions.push(sql`(${chatbots.createdAt}, ${chatbots.id}) < (${after[0].toISOString()}::timestamptz, ${after[1]}::uuid)`);
      const page = ({ db }: Access) =>
        db
          .select()
          .from(chatbots)
          .where(and(...conditions))
          .orderBy(desc(chatbots.createdAt), desc(chatbots.id))
          .limit(limit + 1);
      return userId ? scoped.user(userId, page) : scoped.system('admin', page);
    },
  };
}

function createChatbotWrites(scoped: Scoped, newId: () => string): Pick<ChatbotsRepo, 'insert' | 'update' | 'remove'> {
  return {
    async insert(userId, values, slug, now) {
      for (let attempt = 0; attempt < MAX_SLUG_ATTEMPTS; attempt++) {
        const chosen = 'exact' in slug ? slug.exact : nextFreeSlug(slug.base, await takenLike(scoped, slug.base));
        try {
          const [row] = await scoped.user(userId, ({ db }) =>
            db
              .insert(chatbots)
              .values({ ...values, id: newId(), userId, slug: chosen, createdAt: now, updatedAt: now })
              .returning(),
          );
          return row!;
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          // The one-default-per-user index: someone else created the default first.
          if (values.isDefault && constraintName(error) === 'chatbots_one_default_per_user') {
            const existing = await findDefault(scoped, userId);
            if (existing) return existing;
          }
          if ('exact' in slug) return null;
        }
      }
      throw new Error(`could not find a free slug for "${'base' in slug ? slug.base : slug.exact}"`);
    },
    async update(userId, id, changes, now) {
      try {
        const [row] = await scoped.user(userId, ({ db }) =>
          db
            .update(chatbots)
            .set({ ...changes, updatedAt: now })
            .where(and(eq(chatbots.id, id), eq(chatbots.userId, userId)))
            .returning(),
        );
        return row;
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },
    async remove(userId, id) {
      const rows = await scoped.user(userId, ({ db }) =>
        db
          .delete(chatbots)
          .where(and(eq(chatbots.id, id), eq(chatbots.userId, userId)))
          .returning({ id: chatbots.id }),
      );
      return rows.length > 0;
    },
  };
}

export function createChatbotsRepo(scoped: Scoped, newId: () => string): ChatbotsRepo {
  return { ...createChatbotWrites(scoped, newId), ...createChatbotReads(scoped) };
}
