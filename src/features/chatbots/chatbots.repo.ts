import { and, desc, eq, gt, isNull, or, sql, type SQL } from 'drizzle-orm';
import { constraintName, isUniqueViolation } from '../../db/errors.js';
import { chatbots, webhookDeliveries, type ChatbotRow } from '../../db/schema.js';
import type { Access, Db } from '../../db/client.js';
import { RETRY_DEADLOCKS } from '../../db/deadlocks.js';
import type { Scoped } from '../../db/scope.js';
import { nextFreeSlug } from './slugs.js';

export type ChatbotValues = Omit<typeof chatbots.$inferInsert, 'id' | 'userId' | 'createdAt' | 'updatedAt' | 'knowledgeChunks' | 'knowledgeBytes'>;
export type ChatbotChanges = Partial<ChatbotValues>;
type SecretColumns = 'webhookSecret' | 'webhookPreviousSecret' | 'webhookPreviousSecretUntil';
/** An update may compute the webhook secret's columns from what the row holds when it is written. */
export type ChatbotUpdate = Omit<ChatbotChanges, SecretColumns> & { [K in SecretColumns]?: ChatbotValues[K] | SQL };

export interface ChatbotsRepo {
  /** Inserts with the first free slug from `base` (or exactly `exact`); null when that slug is taken (from a base: every one tried). */
  insert(userId: string, values: Omit<ChatbotValues, 'slug'>, slug: { exact: string } | { base: string }, now: Date): Promise<ChatbotRow | null>;
  find(userId: string, id: string): Promise<ChatbotRow | undefined>;
  findBySlug(userId: string, slug: string): Promise<ChatbotRow | undefined>;
  findDefault(userId: string): Promise<ChatbotRow | undefined>;
  /** Newest first; `after` is the (created_at, id) of the last row seen. `userId` null: every user's (admins). */
  list(userId: string | null, limit: number, after: [Date, string] | null): Promise<ChatbotRow[]>;
  /** Null when an explicit new slug is taken; undefined when no such chatbot. */
  update(userId: string, id: string, changes: ChatbotUpdate, now: Date): Promise<ChatbotRow | null | undefined>;
  remove(userId: string, id: string): Promise<boolean>;
}

// Tries, each a transaction. Same-base creations never clash (they take turns); a retry is only
// for a slug given exactly or set by PATCH meanwhile, which takes no turn.
const MAX_SLUG_ATTEMPTS = 5;

// Creations from one base take turns on a lock held until commit, so each reads the slugs the
// one before it committed: acme-support, acme-support-2… (§5) even when many come at once, where
// reading and inserting unguarded gave them all the same slug. The lock statement also opens this
// transaction's read to every user's slugs (they are unique across users; the `slugs` scope),
// and the insert stays the user's own.
const TAKE_BASE_TURN = "SELECT set_config('app.scope', 'slugs', true), pg_advisory_xact_lock(hashtext($1::text))";

/** The slugs from `base` that chatbots have, and those other accounts gave up and hold (migrations/0031). */
async function takenLike({ db, sql: raw }: Access, base: string, userId: string): Promise<string[]> {
  const rows = await db
    .select({ slug: chatbots.slug })
    .from(chatbots)
    .where(or(eq(chatbots.slug, base), sql`${chatbots.slug} ~ ${`^${base}-[0-9]+$`}`));
  const held = await raw.query<{ slug: string }>('SELECT released_slugs_like($1, $2::uuid) AS slug', [base, userId]);
  return [...rows.map((row) => row.slug), ...held.map((row) => row.slug)];
}

/**
 * A webhook_url changed (or turned on again after a 410 Gone): the chatbot's events waiting out
 * their backoff are due now, at the new url, with their ids and their place in the retry schedule.
 * The owner fixing a receiver that was down otherwise saw them move on only at their next
 * scheduled attempt, up to hours later. One in flight (leased) is left to its attempt: another
 * instance would send it a second time meanwhile; its outcome is recorded as due now
 * (webhooks.repo.ts, finish).
 */
async function dueAtNewUrl(db: Db, userId: string, chatbotId: string, now: Date): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: now })
    .where(
      and(
        eq(webhookDeliveries.userId, userId),
        eq(webhookDeliveries.chatbotId, chatbotId),
        eq(webhookDeliveries.status, 'pending'),
        isNull(webhookDeliveries.leaseToken),
        gt(webhookDeliveries.nextAttemptAt, now),
      ),
    );
}

async function updateOnce(db: Db, userId: string, id: string, changes: ChatbotUpdate, now: Date): Promise<ChatbotRow[]> {
  const mine = and(eq(chatbots.id, id), eq(chatbots.userId, userId));
  const url = changes.webhookUrl;
  // Locked as the update would (not against the foreign keys of rows being added meanwhile), so
  // the webhook read here is the one this update replaces.
  const [before] = url ? await db.select({ url: chatbots.webhookUrl, enabled: chatbots.webhookEnabled }).from(chatbots).where(mine).for('no key update') : [];
  const rows = await db
    .update(chatbots)
    .set({ ...changes, updatedAt: now })
    .where(mine)
    .returning();
  if (rows.length > 0 && before && (before.url !== url || !before.enabled)) await dueAtNewUrl(db, userId, id, now);
  return rows;
}

type InsertValues = Omit<typeof chatbots.$inferInsert, 'slug'>;

async function insertOnce(scoped: Scoped, values: InsertValues, slug: { exact: string } | { base: string }): Promise<ChatbotRow> {
  return scoped.user(values.userId, async (tx) => {
    let chosen: string;
    if ('exact' in slug) chosen = slug.exact;
    else {
      await tx.sql.query(TAKE_BASE_TURN, [slug.base]);
      chosen = nextFreeSlug(slug.base, await takenLike(tx, slug.base, values.userId));
    }
    const [row] = await tx.db
      .insert(chatbots)
      .values({ ...values, slug: chosen })
      .returning();
    return row!;
  });
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
        try {
          return await insertOnce(scoped, { ...values, id: newId(), userId, createdAt: now, updatedAt: now }, slug);
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
      return null;
    },
    async update(userId, id, changes, now) {
      try {
        const [row] = await scoped.user(userId, ({ db }) => updateOnce(db, userId, id, changes, now));
        return row;
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },
    async remove(userId, id) {
      // The conversations go first, a batch a transaction: in one statement, a chatbot with
      // 400,000 conversations (4 million messages) took 12 s to delete, and one a little larger
      // outlasted DATABASE_STALL_TIMEOUT (15 s), answered 503 and could never be deleted.
      for (const batch of REMOVE_FIRST) {
        for (;;) {
          const gone = await scoped.user(userId, ({ sql: raw }) => raw.query(batch, [id, userId]), RETRY_DEADLOCKS);
          if (gone.length < REMOVE_BATCH) break;
        }
      }
      // Its conversations are locked before the chatbot's row (those started meanwhile). A reply's
      // store holds its conversation and may then need the chatbot's row (the foreign key of its
      // day's first usage row): with the chatbot's row taken first, by the cascade, the two
      // deadlocked, and PostgreSQL took a second to say so. What still deadlocks is run again
      // (db/deadlocks.ts).
      const rows = await scoped.user(
        userId,
        async ({ db, sql: raw }) => {
          await raw.query('SELECT count(*) FROM (SELECT 1 FROM conversations WHERE chatbot_id = $1 AND user_id = $2 ORDER BY id FOR UPDATE) held', [id, userId]);
          return db
            .delete(chatbots)
            .where(and(eq(chatbots.id, id), eq(chatbots.userId, userId)))
            .returning({ id: chatbots.id });
        },
        RETRY_DEADLOCKS,
      );
      return rows.length > 0;
    },
  };
}

/**
 * Conversations deleted per transaction when their chatbot is: about 20 ms a batch with ten
 * messages a conversation, on a 2-core machine. A batch of 1,000 took up to 300 ms there and, with the test
 * files running beside it, once outlasted a 500 ms stall timeout. Smaller batches hold their locks
 * for less time, and their extra transactions cost nothing measurable (24 ms a batch of 250,
 * 92–95 ms a batch of 1,000).
 */
export const REMOVE_BATCH = 250;
// What grows with a chatbot's traffic, deleted a batch at a time before the chatbot: its
// conversations (with their messages), then its visitors (one for each visitor who came; their
// conversations are gone by then). Locked in id order, like the last step's, so that two
// deletions of one chatbot wait in turn.
const REMOVE_FIRST = ['conversations', 'visitors'].map(
  (table) => `
WITH doomed AS (SELECT id FROM ${table} WHERE chatbot_id = $1 AND user_id = $2 ORDER BY id LIMIT ${REMOVE_BATCH} FOR UPDATE)
DELETE FROM ${table} t USING doomed WHERE t.id = doomed.id RETURNING 1`,
);

export function createChatbotsRepo(scoped: Scoped, newId: () => string): ChatbotsRepo {
  return { ...createChatbotWrites(scoped, newId), ...createChatbotReads(scoped) };
}
