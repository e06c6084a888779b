import { and, asc, eq, ilike, or, sql, type SQL } from 'drizzle-orm';
import type { Scoped } from '../../db/scope.js';
import { users, type UserRow } from '../../db/schema.js';

export interface AdminRepo {
  /** Oldest first; `after` is the id of the last user seen (ids are time-ordered). */
  listUsers(search: string | null, limit: number, after: string | null): Promise<UserRow[]>;
  findUser(id: string): Promise<UserRow | undefined>;
  /**
   * Applies the change only if its author, read again under a lock that every admin change takes,
   * may still make it (`mayAct`): 'refused' when they may not, undefined when there is no such user.
   */
  updateUser(actor: Actor, id: string, changes: { role?: 'user' | 'admin'; isActive?: boolean }, now: Date): Promise<UserRow | 'refused' | undefined>;
  stats(): Promise<{ users: number; chatbots: number; conversations: number; messages: number; replies: number; prompt: number; completion: number }>;
}

export interface Actor {
  id: string;
  /** Whether this user, as stored now, may still change other users. */
  mayAct(row: UserRow): boolean;
}

// Admin changes of users, one at a time (the second key is unused): an author's right to act is
// read again after every change made before theirs. Two-key space, as users.repo's lock.
const ADMIN_CHANGES_LOCK = 7_142_003;

/** LIKE wildcards in a search are taken literally. */
const literal = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createAdminRepo(scoped: Scoped): AdminRepo {
  return {
    async listUsers(search, limit, after) {
      const conditions: SQL[] = [];
      if (search) {
        const pattern = `%${literal(search)}%`;
        conditions.push(or(ilike(users.username, pattern), ilike(users.email, pattern))!);
      }
      if (after) conditions.push(sql`${users.id} > ${after}`);
      return scoped.system('admin', ({ db }) =>
        db
          .select()
          .from(users)
          .where(and(...conditions))
          .orderBy(asc(users.id))
          .limit(limit + 1),
      );
    },
    async findUser(id) {
      const [row] = await scoped.system('admin', ({ db }) => db.select().from(users).where(eq(users.id, id)));
      return row;
    },
    async updateUser(actor, id, changes, now) {
      return scoped.system('admin', async ({ db }) => {
        await db.execute(sql`SELECT pg_advisory_xact_lock(${ADMIN_CHANGES_LOCK}, 0)`);
        const [author] = await db.select().from(users).where(eq(users.id, actor.id));
        if (!author || !actor.mayAct(author)) return 'refused' as const;
        const [row] = await db
          .update(users)
          .set({ ...changes, updatedAt: now })
          .where(eq(users.id, id))
          .returning();
        return row;
      });
    },
    // Replies and tokens as /v1/usage counts them (every channel, kept when a conversation is
    // deleted): stored messages leave out API-key completions, which store none, and deleted conversations.
    async stats() {
      const [row] = await scoped.system('admin', ({ sql }) =>
        sql.query<Record<string, number | string>>(
          `SELECT (SELECT count(*) FROM users) AS users,
                  (SELECT count(*) FROM chatbots) AS chatbots,
                  (SELECT count(*) FROM conversations) AS conversations,
                  (SELECT count(*) FROM messages) AS messages,
                  (SELECT coalesce(sum(messages), 0) FROM usage_daily) AS replies,
                  (SELECT coalesce(sum(prompt_tokens), 0) FROM usage_daily) AS prompt,
                  (SELECT coalesce(sum(completion_tokens), 0) FROM usage_daily) AS completion`,
        ),
      );
      const n = (key: string) => Number(row?.[key] ?? 0);
      return { users: n('users'), chatbots: n('chatbots'), conversations: n('conversations'), messages: n('messages'), replies: n('replies'), prompt: n('prompt'), completion: n('completion') };
    },
  };
}
