import { and, eq, isNull, ne } from 'drizzle-orm';
import type { Access, Db, SqlRunner } from '../../db/client.js';
import { scopeGate, type Scoped } from '../../db/scope.js';
import { refreshTokens, sessions, users, type RefreshTokenRow, type SessionRow, type UserRow } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export interface SessionsRepo {
  create(userId: string, now: Date): Promise<SessionRow>;
  /**
   * A sign-in's session, made only while the user is active and their password hash is still the
   * one the password was checked against; undefined when it changed meanwhile.
   */
  createWhilePassword(userId: string, passwordHash: string, now: Date): Promise<{ id: string } | undefined>;
  addRefreshToken(sessionId: string, tokenHash: string, now: Date, expiresAt: Date): Promise<void>;
  /**
   * Replaces an unexpired, unrotated token of a live session (not revoked, its user active) by
   * `next` in one statement, keeping `next` sealed on the spent row; undefined when another
   * request did it first or the token is unusable. The session's user is read, and the session
   * marked refreshed, in the same transaction: a failure after the rotation spends nothing, and
   * 'ended' (nothing spent) when the session ended while the token was being spent.
   */
  rotate(tokenHash: string, now: Date, next: Successor): Promise<{ sessionId: string; user: UserRow } | 'ended' | undefined>;
  findToken(tokenHash: string): Promise<SpentToken | undefined>;
  findWithUser(sessionId: string): Promise<{ session: SessionRow; user: UserRow } | undefined>;
  /** The user of a session that is not revoked, when that user is active: what every request checks. */
  findLive(sessionId: string): Promise<LiveSession | undefined>;
  revoke(sessionId: string, reason: string, now: Date): Promise<void>;
  /** Ends every live session of the user but `keep`; how many it ended. */
  revokeOthers(userId: string, keep: string, reason: string, now: Date): Promise<number>;
  touch(sessionId: string, now: Date): Promise<void>;
  /**
   * One transaction in the `auth` scope, for work that must happen entirely or not at all
   * (registration); repositories join it through `within(tx)`.
   */
  transaction<T>(fn: (tx: Access) => Promise<T>): Promise<T>;
  /** The same repository working inside the caller's transaction. */
  within(tx: Access): SessionsRepo;
}

export interface Successor {
  tokenHash: string;
  /** The successor token sealed for the holder of the one it replaces (refresh-successor.ts). */
  sealed: string;
  expiresAt: Date;
}

export type SpentToken = Pick<RefreshTokenRow, 'sessionId' | 'rotatedAt' | 'expiresAt' | 'successorSealed'>;

export interface LiveSession {
  userId: string;
  username: string;
  role: UserRow['role'];
}

// One statement, no transaction: the check every uncached request makes costs one round trip.
const FIND_LIVE = `SELECT u.id AS user_id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.id = $1 AND s.revoked_at IS NULL AND u.is_active AND ${scopeGate('auth')}`;

// One statement, so no request ever sees a token rotated without its successor, and of two
// requests rotating one token at once exactly one inserts a successor. A token whose session
// cannot go on is not spent: a client refused while its user was deactivated still holds a
// token that works once they are active again (rather than one that then reads as reused).
const ROTATE = `WITH spent AS (
    UPDATE refresh_tokens t SET rotated_at = $2::timestamptz, successor_sealed = $3
    WHERE t.token_hash = $1 AND t.rotated_at IS NULL AND t.expires_at > $2::timestamptz
      AND EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
                  WHERE s.id = t.session_id AND s.revoked_at IS NULL AND u.is_active)
    RETURNING t.session_id)
  INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at)
  SELECT $4::uuid, session_id, $5, $2::timestamptz, $6::timestamptz FROM spent
  RETURNING session_id`;

// A password change replaces the hash and ends the user's other sessions in one transaction. The
// user's row is held (FOR SHARE) while the session is made: a change under way is waited for and
// the hash read again after it, and a change that comes after waits until this session exists,
// so it ends it. Checked earlier and made later, a sign-in with the old password outlived the change.
const CREATE_WHILE_PASSWORD = `WITH holder AS (
    SELECT id FROM users WHERE id = $1 AND password_hash = $2 AND is_active FOR SHARE)
  INSERT INTO sessions (id, user_id, created_at, last_refreshed_at)
  SELECT $3::uuid, id, $4::timestamptz, $4::timestamptz FROM holder
  RETURNING id`;

type Run = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
type Open = <T>(fn: (tx: Access) => Promise<T>) => Promise<T>;

// Refresh tokens arrive before anyone is known, so sessions work in the `auth` scope.
export function createSessionsRepo(scoped: Scoped, sql: SqlRunner): SessionsRepo {
  const open: Open = (fn) => scoped.system('auth', fn);
  return sessionsRepo(open, (fn) => open(({ db }) => fn(db)), sql);
}

/** Ending sessions: one (logout, reuse) or all of a user's but one (a password change). */
function sessionEnds(auth: Run): Pick<SessionsRepo, 'revoke' | 'revokeOthers'> {
  return {
    async revoke(sessionId, reason, now) {
      await auth((db) =>
        db
          .update(sessions)
          .set({ revokedAt: now, revokedReason: reason })
          .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))),
      );
    },
    async revokeOthers(userId, keep, reason, now) {
      const rows = await auth((db) =>
        db
          .update(sessions)
          .set({ revokedAt: now, revokedReason: reason })
          .where(and(eq(sessions.userId, userId), ne(sessions.id, keep), isNull(sessions.revokedAt)))
          .returning({ id: sessions.id }),
      );
      return rows.length;
    },
  };
}

/** Thrown inside the rotation's transaction to take it back: the session ended while the token was spent. */
class SessionEnded extends Error {}

/**
 * The rotation, the session's user and its refresh time, in one transaction: a failure after the
 * rotation spends nothing. The session is read again once held: a logout or password change that
 * committed while the token was spent takes the rotation back ('ended').
 */
async function rotate(open: Open, tokenHash: string, now: Date, next: Successor): ReturnType<SessionsRepo['rotate']> {
  const params = [tokenHash, now.toISOString(), next.sealed, newId(), next.tokenHash, next.expiresAt.toISOString()];
  try {
    return await open(async ({ db, sql: tx }) => {
      const [row] = await tx.query<{ session_id: string }>(ROTATE, params);
      if (!row) return undefined;
      const live = and(eq(sessions.id, row.session_id), isNull(sessions.revokedAt));
      const touched = await db.update(sessions).set({ lastRefreshedAt: now }).where(live).returning({ userId: sessions.userId });
      const [user] = touched.length === 1 ? await db.select().from(users).where(eq(users.id, touched[0]!.userId)) : [];
      if (!user?.isActive) throw new SessionEnded();
      return { sessionId: row.session_id, user };
    });
  } catch (error) {
    if (error instanceof SessionEnded) return 'ended';
    throw error;
  }
}

function sessionsRepo(open: Open, auth: Run, sql: SqlRunner): SessionsRepo {
  return {
    async create(userId, now) {
      const [row] = await auth((db) => db.insert(sessions).values({ id: newId(), userId, createdAt: now, lastRefreshedAt: now }).returning());
      return row!;
    },
    async createWhilePassword(userId, passwordHash, now) {
      const params = [userId, passwordHash, newId(), now.toISOString()];
      const [row] = await open(({ sql: tx }) => tx.query<{ id: string }>(CREATE_WHILE_PASSWORD, params));
      return row;
    },
    async addRefreshToken(sessionId, tokenHash, now, expiresAt) {
      await auth((db) => db.insert(refreshTokens).values({ id: newId(), sessionId, tokenHash, createdAt: now, expiresAt }));
    },
    rotate: (tokenHash, now, next) => rotate(open, tokenHash, now, next),
    async findToken(tokenHash) {
      const [row] = await auth((db) =>
        db
          .select({
            sessionId: refreshTokens.sessionId,
            rotatedAt: refreshTokens.rotatedAt,
            expiresAt: refreshTokens.expiresAt,
            successorSealed: refreshTokens.successorSealed,
          })
          .from(refreshTokens)
          .where(eq(refreshTokens.tokenHash, tokenHash))
          .limit(1),
      );
      return row;
    },
    async findWithUser(sessionId) {
      const [row] = await auth((db) =>
        db
          .select({ session: sessions, user: users })
          .from(sessions)
          .innerJoin(users, eq(users.id, sessions.userId))
          .where(eq(sessions.id, sessionId))
          .limit(1),
      );
      return row;
    },
    async findLive(sessionId) {
      const [row] = await sql.query<{ user_id: string; username: string; role: UserRow['role'] }>(FIND_LIVE, [sessionId]);
      return row && { userId: row.user_id, username: row.username, role: row.role };
    },
    ...sessionEnds(auth),
    async touch(sessionId, now) {
      await auth((db) => db.update(sessions).set({ lastRefreshedAt: now }).where(eq(sessions.id, sessionId)));
    },
    transaction: open,
    // Inside a transaction, a further `transaction` joins it rather than opening another.
    within: (tx) => sessionsRepo((fn) => fn(tx), (fn) => fn(tx.db), tx.sql),
  };
}
