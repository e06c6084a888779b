import { and, eq, isNull, ne } from 'drizzle-orm';
import type { Access, Db, SqlRunner } from '../../db/client.js';
import { scopeGate, type Scoped } from '../../db/scope.js';
import { refreshTokens, sessions, users, type RefreshTokenRow, type SessionRow, type UserRow } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export interface SessionsRepo {
  create(userId: string, now: Date): Promise<SessionRow>;
  addRefreshToken(sessionId: string, tokenHash: string, now: Date, expiresAt: Date): Promise<void>;
  /**
   * Replaces an unexpired, unrotated token of a live session (not revoked, its user active) by
   * `next` in one statement, keeping `next` sealed on the spent row; undefined when another
   * request did it first or the token is unusable.
   */
  rotate(tokenHash: string, now: Date, next: Successor): Promise<{ sessionId: string } | undefined>;
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

function sessionsRepo(open: Open, auth: Run, sql: SqlRunner): SessionsRepo {
  return {
    async create(userId, now) {
      const [row] = await auth((db) => db.insert(sessions).values({ id: newId(), userId, createdAt: now, lastRefreshedAt: now }).returning());
      return row!;
    },
    async addRefreshToken(sessionId, tokenHash, now, expiresAt) {
      await auth((db) => db.insert(refreshTokens).values({ id: newId(), sessionId, tokenHash, createdAt: now, expiresAt }));
    },
    async rotate(tokenHash, now, next) {
      const params = [tokenHash, now.toISOString(), next.sealed, newId(), next.tokenHash, next.expiresAt.toISOString()];
      const [row] = await open(({ sql: tx }) => tx.query<{ session_id: string }>(ROTATE, params));
      return row && { sessionId: row.session_id };
    },
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
