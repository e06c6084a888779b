import { and, asc, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import type { Scoped } from '../../db/scope.js';
import { users, type UserRow } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export interface NewLocalUser {
  username: string;
  email: string | null;
  passwordHash: string;
}

export interface ExternalIdentity {
  issuer: string;
  externalId: string;
  username: string;
  email: string | null;
}

export interface UsersRepo {
  /** Creates the user of an external identity on first sight, or updates a changed username/email. */
  syncExternal(identity: ExternalIdentity, now: Date): Promise<{ user: UserRow; change: 'created' | 'updated' | 'none' }>;
  insertLocal(user: NewLocalUser, now: Date): Promise<UserRow>;
  findById(id: string): Promise<UserRow | undefined>;
  findLocalByUsername(username: string): Promise<UserRow | undefined>;
  /** The earliest local account that registered this email. */
  findLocalByEmail(email: string): Promise<UserRow | undefined>;
  setPasswordHash(id: string, passwordHash: string, now: Date): Promise<void>;
}

// Sign-in and sync look users up by name or external id, before anyone is known: the `auth`
// scope. A known user reads and changes only their own row.
export function createUsersRepo(scoped: Scoped): UsersRepo {
  const local = isNull(users.issuer);
  return {
    syncExternal: (identity, now) => scoped.system('auth', async ({ db }) => {
      // One statement, so concurrent first requests with one token create exactly one user.
      const [row] = await db
        .insert(users)
        .values({ id: newId(), ...identity, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({
          target: [users.issuer, users.externalId],
          targetWhere: sql`${users.issuer} IS NOT NULL`,
          set: { username: sql`excluded.username`, email: sql`excluded.email`, updatedAt: now },
          setWhere: sql`${users.username} IS DISTINCT FROM excluded.username OR ${users.email} IS DISTINCT FROM excluded.email`,
        })
        .returning({ ...getTableColumns(users), inserted: sql<boolean>`(xmax = 0)` });
      if (row) {
        const { inserted, ...user } = row;
        return { user, change: inserted ? 'created' : 'updated' };
      }
      const [existing] = await db
        .select()
        .from(users)
        .where(and(eq(users.issuer, identity.issuer), eq(users.externalId, identity.externalId)))
        .limit(1);
      return { user: existing!, change: 'none' as const };
    }),
    async insertLocal(user, now) {
      const [row] = await scoped.system('auth', ({ db }) =>
        db
          .insert(users)
          .values({ id: newId(), ...user, createdAt: now, updatedAt: now })
          .returning(),
      );
      return row!;
    },
    async findById(id) {
      const [row] = await scoped.user(id, ({ db }) => db.select().from(users).where(eq(users.id, id)).limit(1));
      return row;
    },
    findLocalByUsername: (username) => scoped.system('auth', async ({ db }) => {
      const [row] = await db
        .select()
        .from(users)
        .where(and(local, sql`lower(${users.username}) = lower(${username})`))
        .limit(1);
      return row;
    }),
    findLocalByEmail: (email) => scoped.system('auth', async ({ db }) => {
      const [row] = await db
        .select()
        .from(users)
        .where(and(local, sql`lower(${users.email}) = lower(${email})`))
        .orderBy(asc(users.createdAt), asc(users.id))
        .limit(1);
      return row;
    }),
    async setPasswordHash(id, passwordHash, now) {
      await scoped.user(id, ({ db }) => db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, id)));
    },
  };
}
