import { and, eq, sql } from 'drizzle-orm';
import type { Access } from '../../db/client.js';
import type { Scoped } from '../../db/scope.js';
import { chatbots, conversations, visitors } from '../../db/schema.js';

export interface VisitStart {
  ownerId: string;
  chatbotId: string;
  conversationId: string;
  /** A returning visitor (from their token), or a new one to record. */
  visitor: { known: string } | { new: string; label: string };
  name: string | null;
}

export interface VisitorsRepo {
  /**
   * Records the visitor (new, or seen again) and opens a conversation for them, in one
   * transaction in the owner's tenant. `unknown_visitor` when a returning visitor is no longer on
   * record; `no_chatbot` when the chatbot is no longer public (see stillPublic). Started: the user
   * a returning visitor is bound to, if any (a host site's signed-in user).
   */
  startVisit(start: VisitStart, now: Date): Promise<{ verifiedUser: string | null } | 'unknown_visitor' | 'no_chatbot'>;
  /**
   * A verified user's visit: the one visitor bound to that user on this chatbot (recorded on their
   * first visit) gets a new conversation. Returns the visitor's id; null when the chatbot is no longer public.
   */
  startVerifiedVisit(start: Omit<VisitStart, 'visitor'> & { userId: string; label: string; newVisitor: string }, now: Date): Promise<string | null>;
}

// One visitor per (chatbot, verified user): a later visit finds it and keeps its first label.
const VERIFIED_VISITOR = `
INSERT INTO visitors AS v (id, user_id, chatbot_id, visitor_id, name, first_seen, last_seen, verified_user_id)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
ON CONFLICT (chatbot_id, verified_user_id) WHERE verified_user_id IS NOT NULL
DO UPDATE SET last_seen = EXCLUDED.last_seen, name = coalesce(EXCLUDED.name, v.name)
RETURNING id`;

/**
 * The chatbot was found public from what this instance keeps of it (public-directory.ts), which
 * another instance's delete or change may have made stale. Read again, and held (KEY SHARE) so it
 * is not deleted before the visit commits; a visit to a chatbot gone meanwhile then stores nothing.
 */
async function stillPublic(db: Access['db'], start: { ownerId: string; chatbotId: string }): Promise<boolean> {
  const rows = await db
    .select({ id: chatbots.id })
    .from(chatbots)
    .where(and(eq(chatbots.id, start.chatbotId), eq(chatbots.userId, start.ownerId), eq(chatbots.isPublic, true)))
    .for('key share');
  return rows.length > 0;
}

/**
 * The visitor a visit is for: a returning one seen again (null when no longer on record), or a
 * new one recorded; with the user a returning visitor is bound to, if any.
 */
async function visitorOf(db: Access['db'], start: VisitStart, now: Date): Promise<{ id: string; verifiedUser: string | null } | null> {
  if ('known' in start.visitor) {
    const [seen] = await db
      .update(visitors)
      .set({ lastSeen: now, name: sql`coalesce(${start.name}::text, ${visitors.name})` })
      .where(and(eq(visitors.id, start.visitor.known), eq(visitors.chatbotId, start.chatbotId), eq(visitors.userId, start.ownerId)))
      .returning({ id: visitors.id, verifiedUser: visitors.verifiedUserId });
    return seen ?? null;
  }
  await db.insert(visitors).values({
    id: start.visitor.new,
    userId: start.ownerId,
    chatbotId: start.chatbotId,
    visitorId: start.visitor.label,
    name: start.name,
    firstSeen: now,
    lastSeen: now,
  });
  return { id: start.visitor.new, verifiedUser: null };
}

async function openVisit(db: Access['db'], start: Pick<VisitStart, 'ownerId' | 'chatbotId' | 'conversationId'>, visitorId: string, now: Date) {
  await db.insert(conversations).values({ id: start.conversationId, userId: start.ownerId, chatbotId: start.chatbotId, visitorId, createdAt: now, updatedAt: now });
}

export function createVisitorsRepo(scoped: Scoped): VisitorsRepo {
  return {
    async startVisit(start, now) {
      return scoped.user(start.ownerId, async ({ db }) => {
        if (!(await stillPublic(db, start))) return 'no_chatbot' as const;
        const visitor = await visitorOf(db, start, now);
        if (visitor === null) return 'unknown_visitor' as const;
        await openVisit(db, start, visitor.id, now);
        return { verifiedUser: visitor.verifiedUser };
      });
    },
    async startVerifiedVisit(start, now) {
      return scoped.user(start.ownerId, async ({ db, sql: raw }) => {
        if (!(await stillPublic(db, start))) return null;
        const [visitor] = await raw.query<{ id: string }>(VERIFIED_VISITOR, [
          start.newVisitor,
          start.ownerId,
          start.chatbotId,
          start.label,
          start.name,
          now,
          start.userId,
        ]);
        await openVisit(db, start, visitor!.id, now);
        return visitor!.id;
      });
    },
  };
}
