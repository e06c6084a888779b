import { and, eq, sql } from 'drizzle-orm';
import type { Scoped } from '../../db/scope.js';
import { conversations, visitors } from '../../db/schema.js';

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
   * transaction in the owner's tenant. False when a returning visitor is no longer on record.
   */
  startVisit(start: VisitStart, now: Date): Promise<boolean>;
  /**
   * A verified user's visit: the one visitor bound to that user on this chatbot (recorded on their
   * first visit) gets a new conversation. Returns the visitor's id.
   */
  startVerifiedVisit(start: Omit<VisitStart, 'visitor'> & { userId: string; label: string; newVisitor: string }, now: Date): Promise<string>;
}

// One visitor per (chatbot, verified user): a later visit finds it and keeps its first label.
const VERIFIED_VISITOR = `
INSERT INTO visitors AS v (id, user_id, chatbot_id, visitor_id, name, first_seen, last_seen, verified_user_id)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
ON CONFLICT (chatbot_id, verified_user_id) WHERE verified_user_id IS NOT NULL
DO UPDATE SET last_seen = EXCLUDED.last_seen, name = coalesce(EXCLUDED.name, v.name)
RETURNING id`;

export function createVisitorsRepo(scoped: Scoped): VisitorsRepo {
  return {
    async startVisit(start, now) {
      return scoped.user(start.ownerId, async ({ db }) => {
        let visitorId: string;
        if ('known' in start.visitor) {
          const seen = await db
            .update(visitors)
            .set({ lastSeen: now, name: sql`coalesce(${start.name}::text, ${visitors.name})` })
            .where(and(eq(visitors.id, start.visitor.known), eq(visitors.chatbotId, start.chatbotId), eq(visitors.userId, start.ownerId)))
            .returning({ id: visitors.id });
          if (seen.length === 0) return false;
          visitorId = start.visitor.known;
        } else {
          visitorId = start.visitor.new;
          await db.insert(visitors).values({
            id: visitorId,
            userId: start.ownerId,
            chatbotId: start.chatbotId,
            visitorId: start.visitor.label,
            name: start.name,
            firstSeen: now,
            lastSeen: now,
          });
        }
        await db.insert(conversations).values({
          id: start.conversationId,
          userId: start.ownerId,
          chatbotId: start.chatbotId,
          visitorId,
          createdAt: now,
          updatedAt: now,
        });
        return true;
      });
    },
    async startVerifiedVisit(start, now) {
      return scoped.user(start.ownerId, async ({ db, sql: raw }) => {
        const [visitor] = await raw.query<{ id: string }>(VERIFIED_VISITOR, [
          start.newVisitor,
          start.ownerId,
          start.chatbotId,
          start.label,
          start.name,
          now,
          start.userId,
        ]);
        await db.insert(conversations).values({
          id: start.conversationId,
          userId: start.ownerId,
          chatbotId: start.chatbotId,
          visitorId: visitor!.id,
          createdAt: now,
          updatedAt: now,
        });
        return visitor!.id;
      });
    },
  };
}
