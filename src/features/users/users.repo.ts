import { and, asc, eq, getTableColumns, isNull, lt, or, sql } from 'drizzle-orm';
import type { Access, Db } from '../../db/client.js';
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
  /** The token's `iat`; null for a token without one, which cannot be ordered against others. */
  issuedAt: Date | null;
}

export interface UsersRepo {
  /** Creates the user of an external identity on first sight, or updates a changed username/email. */
  syncExternal(identity: ExternalIdentity, now: Date): Promise<{ user: UserRow; change: 'created' | 'updated' | 'none' }>;
  insertLocal(user: NewLocalUser, now: Date): Promise<UserRow>;
  findById(id: string): Promise<UserRow | undefined>;
  findLocalByUsername(username: string): Promise<UserRow | undefined>;
  /** The local account with this email (at most one: migrations/0006). */
  findLocalByEmail(email: string): Promise<UserRow | undefined>;
  /**
   * Local usernames, lowercased, that are `base` or start with `base-`: what a made-up username
   * must avoid. Inside a caller's transaction (`within`), other sign-ups made from the same base
   * wait here until that transaction ends, so they choose one after another and never collide.
   */
  localUsernamesLike(base: string): Promise<string[]>;
  /** Replaces a local user's hash only while it is still `expected`: false when it changed meanwhile. */
  replacePasswordHash(id: string, expected: string, passwordHash: string, now: Date): Promise<boolean>;
  /** The same repository working inside the caller's transaction, under that transaction's scope. */
  within(tx: Access): UsersRepo;
}

type Run = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;

// The first key of the transaction-scoped advisory lock that queues sign-ups sharing a username
// base (the second is the base's hash); migrations lock a single-key space, which never clashes.
const USERNAME_BASE_LOCK = 7_142_002;

// Sign-in and sync look users up by name or external id, before anyone is known: the `auth`
// scope. A known user reads and changes only their own row.
export function createUsersRepo(scoped: Scoped): UsersRepo {
  return usersRepo(
    (fn) => scoped.system('auth', ({ db }) => fn(db)),
    (userId) => (fn) => scoped.user(userId, ({ db }) => fn(db)),
  );
}

// A token issued before a rename stays valid until it expires (an old tab), so tokens are ordered
// by `iat`: one applies its username and email only when it is at least as new as the token that
// set or last confirmed them. Tokens of one second cannot be ordered, and the one used last wins.
// A token without `iat` cannot be ordered at all: it applies only while no dated token has set the
// names (an issuer that never dates its tokens syncs as it always did), and never undoes a dated one.
const APPLIES = sql`(${users.username} IS DISTINCT FROM excluded.username OR ${users.email} IS DISTINCT FROM excluded.email)
  AND (${users.claimsIssuedAt} IS NULL OR excluded.claims_issued_at >= ${users.claimsIssuedAt})`;

// One statement, so concurrent first requests with one token create exactly one user.
async function syncExternal(db: Db, identity: ExternalIdentity, now: Date): ReturnType<UsersRepo['syncExternal']> {
  const { issuedAt, ...claims } = identity;
  const [row] = await db
    .insert(users)
    .values({ id: newId(), ...claims, claimsIssuedAt: issuedAt, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: [users.issuer, users.externalId],
      targetWhere: sql`${users.issuer} IS NOT NULL`,
      set: { username: sql`excluded.username`, email: sql`excluded.email`, claimsIssuedAt: sql`excluded.claims_issued_at`, updatedAt: now },
      setWhere: APPLIES,
    })
    .returning({ ...getTableColumns(users), inserted: sql<boolean>`(xmax = 0)` });
  if (row) {
    const { inserted, ...user } = row;
    return { user, change: inserted ? 'created' : 'updated' };
  }
  const identified = and(eq(users.issuer, identity.issuer), eq(users.externalId, identity.externalId));
  const [existing] = await db.select().from(users).where(identified).limit(1);
  const user = existing!;
  const same = user.username === identity.username && user.email === identity.email;
  if (!issuedAt || !same || (user.claimsIssuedAt && user.claimsIssuedAt >= issuedAt)) return { user, change: 'none' };
  // A newer token with the same names confirms them: a token issued before it, while the user had
  // another name at the issuer (renamed and back), no longer applies. Only while still true.
  const [confirmed] = await db
    .update(users)
    .set({ claimsIssuedAt: issuedAt })
    .where(and(identified, eq(users.username, identity.username), sql`${users.email} IS NOT DISTINCT FROM ${identity.email}`, or(isNull(users.claimsIssuedAt), lt(users.claimsIssuedAt, issuedAt))))
    .returning();
  return { user: confirmed ?? user, change: 'none' };
}

function usersRepo(auth: Run, self: (userId: string) => Run): UsersRepo {
  const local = isNull(users.issuer);
  return {
    syncExternal: (identity, now) => auth((db) => syncExternal(db, identity, now)),
    insertLocal: (user, now) => auth(async (db) => {
      const [row] = await db
        .insert(users)
        .values({ id: newId(), ...user, createdAt: now, updatedAt: now })
        .returning();
      return row!;
    }),
    findById: (id) => self(id)(async (db) => {
      const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
      return row;
    }),
    findLocalByUsername: (username) => auth(async (db) => {
      const [row] = await db
        .select()
        .from(users)
        .where(and(local, sql`lower(${users.username}) = lower(${username})`))
        .limit(1);
      return row;
    }),
    findLocalByEmail: (email) => auth(async (db) => {
      const [row] = await db
        .select()
        .from(users)
        .where(and(local, sql`lower(${users.email}) = lower(${email})`))
        .orderBy(asc(users.createdAt), asc(users.id))
        .limit(1);
      return row;
    }),
    localUsernamesLike: (base) => auth(async (db) => {
      await db.execute(sql`SELECT pg_advisory_xact_lock(${USERNAME_BASE_LOCK}, hashtext(${base}))`);
      const rows = await db
        .select({ name: sql<string>`lower(${users.username})` })
        .from(users)
        .where(and(local, sql`(lower(${users.username}) = ${base} OR starts_with(lower(${users.username}), ${`${base}-`}))`));
      return rows.map((row) => row.name);
    }),
    replacePasswordHash: (id, expected, passwordHash, now) => self(id)(async (db) => {
      const rows = await db
        .update(users)
        .set({ passwordHash, updatedAt: now })
        .where(and(eq(users.id, id), eq(users.passwordHash, expected), isNull(users.issuer)))
        .returning({ id: users.id });
      return rows.length === 1;
    }),
    within: (tx) => {
      const run: Run = (fn) => fn(tx.db);
      return usersRepo(run, () => run);
    },
  };
}
