import { and, desc, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { Access } from '../../db/client.js';
import { RETRY_DEADLOCKS } from '../../db/deadlocks.js';
import { isForeignKeyViolation } from '../../db/errors.js';
import type { Scoped } from '../../db/scope.js';
import { conversations, messages, visitors, type ConversationRow, type MessageRow } from '../../db/schema.js';
import { createConversationMessagesRepo } from './conversation-messages.repo.js';

export interface ConversationFilter {
  chatbotId?: string;
  status?: 'active' | 'completed';
}

export type ConversationChanges = Partial<Pick<ConversationRow, 'title' | 'status' | 'context'>>;

/** A public visitor: their server id and the one chatbot their token is for. */
export interface VisitorKey {
  id: string;
  chatbotId: string;
}

/**
 * With `endUser`, the conversation is a key's end user's (api-keys/end-user.ts): the party it
 * belongs to is a visitors row of its own (made on first use), so the owner's inbox shows it and
 * its id (`visitorId`) can never be a public visitor's.
 */
type NewConversation = Pick<ConversationRow, 'id' | 'userId' | 'chatbotId' | 'title' | 'context'> & { visitorId?: string | null; endUser?: string };

async function ensureEndUser(db: Access['db'], row: NewConversation, now: Date) {
  if (!row.endUser || !row.visitorId) return;
  await db
    .insert(visitors)
    .values({ id: row.visitorId, userId: row.userId, chatbotId: row.chatbotId, visitorId: row.endUser, firstSeen: now, lastSeen: now })
    .onConflictDoNothing();
}

export interface ConversationsRepo {
  /** Undefined when the chatbot went meanwhile (deleted since it was looked up). */
  insert(row: NewConversation, now: Date): Promise<ConversationRow | undefined>;
  /** The conversation a client's chat id names for this audience, if it was ever used. */
  findClientChat(userId: string, visitorId: string | null, clientChatId: string): Promise<ConversationRow | undefined>;
  /** The conversation a client's chat id names for this audience, made on first use (race-safe); undefined when the chatbot went meanwhile. */
  openClientChat(row: NewConversation & { clientChatId: string }, now: Date): Promise<ConversationRow | undefined>;
  /** With `visitor`: only that visitor's conversation on that chatbot. */
  find(userId: string, id: string, visitor?: VisitorKey): Promise<ConversationRow | undefined>;
  /**
   * The account's own conversations (not its public chatbots' visitors'), or with `audience` only
   * that visitor's or end user's on that chatbot; newest activity first; `after` is the (updated_at, id) of the last row seen.
   */
  list(userId: string, filter: ConversationFilter, limit: number, after: [Date, string] | null, audience?: VisitorKey): Promise<ConversationRow[]>;
  update(userId: string, id: string, changes: ConversationChanges, now: Date): Promise<ConversationRow | undefined>;
  remove(userId: string, id: string): Promise<boolean>;
  /** Deletes the conversation only while it holds no message and no reply is being generated. */
  removeIfEmpty(userId: string, id: string): Promise<boolean>;
  /** Deletes every message unless a reply is being generated: 'busy', 'gone' or 'cleared'. */
  clear(userId: string, id: string, now: Date): Promise<'busy' | 'gone' | 'cleared'>;
  /**
   * Oldest first; `after` is the id of the last message seen (ids are time-ordered). `tenant`: the
   * conversation's `user_id` (the chatbot owner's, for a verified user's visit).
   */
  messages(userId: string, tenant: string, conversationId: string, limit: number, after: string | null): Promise<Omit<MessageRow, 'context'>[]>;
  /** With `audience`: only on a reply in that visitor's or end user's conversations. */
  setFeedback(userId: string, id: string, rating: 'like' | 'dislike' | null, comment: string | null, audience?: VisitorKey): Promise<MessageRow | undefined>;
}

const owned = (userId: string, id: string) => and(eq(conversations.id, id), eq(conversations.userId, userId));
// A verified user's visits of other people's public chatbots are theirs to read (§7): they live
// in the chatbot owner's tenant, bound to the user by their visitor (migrations/0011).
const myVisits = (userId: string) =>
  sql`${conversations.visitorId} IN (SELECT ${visitors.id} FROM ${visitors} WHERE ${visitors.verifiedUserId} = ${userId}::uuid)`;

/**
 * The chatbot a new conversation is for was looked up before the insert, and may be deleted in
 * between: its rows then refuse the conversation's reference to it, which is no fault of ours.
 */
async function unlessChatbotGone<T>(insert: () => Promise<T>): Promise<T | undefined> {
  try {
    return await insert();
  } catch (error) {
    if (isForeignKeyViolation(error)) return undefined;
    throw error;
  }
}

const clientChat = (userId: string, visitorId: string | null, clientChatId: string) =>
  and(eq(conversations.userId, userId), visitorId ? eq(conversations.visitorId, visitorId) : isNull(conversations.visitorId), eq(conversations.clientChatId, clientChatId));

/** Making conversations, and finding the one a client's chat id names. */
function createConversationStarts(scoped: Scoped): Pick<ConversationsRepo, 'insert' | 'openClientChat' | 'findClientChat'> {
  return {
    async insert({ endUser, ...row }, now) {
      const created = await unlessChatbotGone(() =>
        scoped.user(row.userId, async ({ db }) => {
          await ensureEndUser(db, { ...row, endUser }, now);
          return db
            .insert(conversations)
            .values({ ...row, createdAt: now, updatedAt: now })
            .returning();
        }),
      );
      return created?.[0];
    },
    async openClientChat({ endUser, ...row }, now) {
      return unlessChatbotGone(() =>
        scoped.user(row.userId, async ({ db }) => {
          await ensureEndUser(db, { ...row, endUser }, now);
          const [created] = await db
            .insert(conversations)
            .values({ ...row, createdAt: now, updatedAt: now })
            .onConflictDoNothing()
            .returning();
          if (created) return created;
          const [existing] = await db.select().from(conversations).where(clientChat(row.userId, row.visitorId ?? null, row.clientChatId)).limit(1);
          return existing!;
        }),
      );
    },
    async findClientChat(userId, visitorId, clientChatId) {
      const [row] = await scoped.user(userId, ({ db }) => db.select().from(conversations).where(clientChat(userId, visitorId, clientChatId)).limit(1));
      return row;
    },
  };
}

/** One conversation by id, and pages of them. */
function createConversationReads(scoped: Scoped): Pick<ConversationsRepo, 'find' | 'list'> {
  return {
    async find(userId, id, visitor) {
      const whose = visitor
        ? and(owned(userId, id), eq(conversations.visitorId, visitor.id), eq(conversations.chatbotId, visitor.chatbotId))
        : and(eq(conversations.id, id), or(eq(conversations.userId, userId), myVisits(userId)));
      const [row] = await scoped.user(userId, ({ db }) => db.select().from(conversations).where(whose).limit(1));
      return row;
    },
    async list(userId, filter, limit, after, audience) {
      const conditions: SQL[] = [];
      if (filter.chatbotId) conditions.push(eq(conversations.chatbotId, filter.chatbotId));
      if (filter.status) conditions.push(eq(conversations.status, filter.status));
      if (after) conditions.push(sql`(${conversations.updatedAt}, ${conversations.id}) < (${after[0].toISOString()}::timestamptz, ${after[1]}::uuid)`);
      const newestFirst = [desc(conversations.updatedAt), desc(conversations.id)];
      // Two index walks, each stopping at the page's end, merged here: one query with an OR would
      // sort all of a user's conversations for every page.
      if (audience) {
        const theirs = and(eq(conversations.userId, userId), eq(conversations.visitorId, audience.id), eq(conversations.chatbotId, audience.chatbotId), ...conditions);
        return scoped.user(userId, ({ db }) => db.select().from(conversations).where(theirs).orderBy(...newestFirst).limit(limit + 1));
      }
      return scoped.user(userId, async ({ db }) => {
        const own = await db
          .select()
          .from(conversations)
          .where(and(eq(conversations.userId, userId), isNull(conversations.visitorId), ...conditions))
          .orderBy(...newestFirst)
          .limit(limit + 1);
        const visits = await db
          .select()
          .from(conversations)
          .where(and(myVisits(userId), ...conditions))
          .orderBy(...newestFirst)
          .limit(limit + 1);
        if (visits.length === 0) return own;
        const byActivity = (a: ConversationRow, b: ConversationRow) => b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
        return [...own, ...visits].sort(byActivity).slice(0, limit + 1);
      });
    },
  };
}

/** Changing and deleting conversations, and clearing their history. */
function createConversationChanges(scoped: Scoped): Pick<ConversationsRepo, 'update' | 'remove' | 'removeIfEmpty' | 'clear'> {
  // A deletion locks the conversation and then its messages; what takes them the other way (a
  // chatbot's deletion meeting a reply's store and this one at once) can make it a deadlock's
  // victim, and it is tried again (db/deadlocks.ts).
  const deleting = <T>(userId: string, fn: (tx: Access) => Promise<T>) => scoped.user(userId, fn, RETRY_DEADLOCKS);
  return {
    async update(userId, id, changes, now) {
      const [row] = await scoped.user(userId, ({ db }) =>
        db
          .update(conversations)
          .set({ ...changes, updatedAt: now })
          .where(owned(userId, id))
          .returning(),
      );
      return row;
    },
    async remove(userId, id) {
      const rows = await deleting(userId, ({ db }) => db.delete(conversations).where(owned(userId, id)).returning({ id: conversations.id }));
      return rows.length > 0;
    },
    async removeIfEmpty(userId, id) {
      const rows = await deleting(userId, ({ db }) =>
        db
          .delete(conversations)
          .where(and(owned(userId, id), eq(conversations.messageCount, 0), sql`${conversations.busyUntil} IS NULL`))
          .returning({ id: conversations.id }),
      );
      return rows.length > 0;
    },
    async clear(userId, id, now) {
      return deleting(userId, async ({ db: tx }) => {
        // The collector's place (the question it last asked, a list item begun) was in the history
        // cleared: the next turn starts over from the values collected, which stay.
        const [row] = await tx
          .update(conversations)
          .set({ messageCount: 0, unreadCount: 0, collectState: null, updatedAt: now })
          .where(and(owned(userId, id), sql`(${conversations.busyUntil} IS NULL OR ${conversations.busyUntil} < now())`))
          .returning({ id: conversations.id });
        if (!row) {
          const [exists] = await tx.select({ id: conversations.id }).from(conversations).where(owned(userId, id));
          return exists ? 'busy' : 'gone';
        }
        await tx.delete(messages).where(and(eq(messages.conversationId, id), eq(messages.userId, userId)));
        return 'cleared';
      });
    },
  };
}

export function createConversationsRepo(scoped: Scoped): ConversationsRepo {
  return {
    ...createConversationStarts(scoped),
    ...createConversationReads(scoped),
    ...createConversationChanges(scoped),
    ...createConversationMessagesRepo(scoped),
  };
}
