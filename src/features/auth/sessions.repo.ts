import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Access, Db, SqlRunner } from '../../db/client.js';
import { scopeGate, type Scoped } from '../../db/scope.js';
import { refreshTokens, sessions, users, type RefreshTokenRow, type SessionRow, type UserRow } from '../../db/schema.js';
import { newId } from '../../lib/ids.js';

export interface SessionsRepo {
  create(userId: string, now: Date): Promise<SessionRow>;
  addRefreshToken(sessionId: string, tokenHash: string, now: Date, expiresAt: Date): Promise<void>;
  /** Marks an unexpired, unrotated token as rotated; undefined when another request did it first or it is unusable. */
  rotate(tokenHash: string, now: Date): Promise<RefreshTokenRow | undefined>;
  findToken(tokenHash: string): Promise<RefreshTokenRow | undefined>;
  findWithUser(sessionId: string): Promise<{ session: SessionRow; user: UserRow } | undefined>;
  /** The user of a session that is not revoked, when that user is active: what every request checks. */
  findLive(sessionId: string): Promise<LiveSession | undefined>;
  revoke(sessionId: string, reason: string, now: Date): Promise<void>;
  touch(sessionId: string, now: Date): Promise<void>;
  /**
   * One transaction in the `auth` scope, for work that must happen entirely or not at all
   * (registration); repositories join it through `within(tx)`.
   */
  transaction<T>(fn: (tx: Access) => Promise<T>): Promise<T>;
  /** The same repository working inside the caller's transaction. */
  within(tx: Access): SessionsRepo;
}

export interface LiveSession {
  userId: string;
  username: string;
  role: UserRow['role'];
}

// One statement, no transaction: the check every uncached request makes costs one round trip.
const FIND_LIVE = `SELECT u.id AS user_id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.id = $1 AND s.revoked_at IS NULL AND u.is_active AND ${scopeGate('auth')}`;

type Run = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
type Open = <T>(fn: (tx: Access) => Promise<T>) => Promise<T>;

// Refresh tokens arrive before anyone is known, so sessions work in the `auth` scope.
export function createSessionsRepo(scoped: Scoped, sql: SqlRunner): SessionsRepo {
  const open: Open = (fn) => scoped.system('auth', fn);
  return sessionsRepo(open, (fn) => open(({ db }) => fn(db)), sql);
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
    async rotate(tokenHash, now) {
      const [row] = await auth((db) =>
        db
          .update(refreshTokens)
          .set({ rotatedAt: now })
          .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.rotatedAt), gt(refreshTokens.expiresAt, now)))
          .returning(),
      );
      return row;
    },
    async findToken(tokenHash) {
      const [row] = await auth((db) => db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)).limit(1));
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
    async revoke(sessionId, reason, now) {
      await auth((db) =>
        db
          .update(sessions)
          .set({ revokedAt: now, revokedReason: reason })
          .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))),
      );
    },
    async touch(sessionId, now) {
      await auth((db) => db.update(sessions).set({ lastRefreshedAt: now }).where(eq(sessions.id, sessionId)));
    },
    transaction: open,
    // Inside a transaction, a further `transaction` joins it rather than opening another.
    within: (tx) => sessionsRepo((fn) => fn(tx), (fn) => fn(tx.db), tx.sql),
  };
}
