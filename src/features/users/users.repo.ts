import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { users, type UserRow } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export interface NewLocalUser {
  username: string;
  email: string | null;
  passwordHash: string;
}

export interface UsersRepo {
  insertLocal(user: NewLocalUser, now: Date): Promise<UserRow>;
  findById(id: string): Promise<UserRow | undefined>;
  findLocalByUsername(username: string): Promise<UserRow | undefined>;
  /** The earliest local account that registered this email. */
  findLocalByEmail(email: string): Promise<UserRow | undefined>;
  setPasswordHash(id: string, passwordHash: string, now: Date): Promise<void>;
}

export function createUsersRepo(db: Db): UsersRepo {
  const local = isNull(users.issuer);
  return {
    async insertLocal(user, now) {
      const [row] = await db
        .insert(users)
        .values({ id: newId(), ...user, createdAt: now, updatedAt: now })
        .returning();
      return row!;
    },
    async findById(id) {
      const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
      return row;
    },
    async findLocalByUsername(username) {
      const [row] = await db
        .select()
        .from(users)
        .where(and(local, sql`lower(${users.username}) = lower(${username})`))
        .limit(1);
      return row;
    },
    async findLocalByEmail(email) {
      const [row] = await db
        .select()
        .from(users)
        .where(and(local, sql`lower(${users.email}) = lower(${email})`))
        .orderBy(asc(users.createdAt), asc(users.id))
        .limit(1);
      return row;
    },
    async setPasswordHash(id, passwordHash, now) {
      await db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, id));
    },
  };
}
