// Forgets refresh tokens past their expiry, and sessions left with none. Rotation keeps every spent
// token, so reuse is caught when a stolen one comes back; without this sweep every refresh left a
// row for good. A spent token is kept until its own expiry: a victim presenting the token a thief
// rotated must still find it spent, and after expiry nobody can use it anyway.
import type { Scoped } from '../../db/scope.js';
import type { Clock } from '../../lib/clock.js';

/** Rows per statement, and statements per run: a backlog is worked off a bounded piece a run. */
export const SESSION_SWEEP_BATCH = 5_000;
const BATCHES_PER_RUN = 20;

const EXPIRED_TOKENS = `DELETE FROM refresh_tokens WHERE id IN (
  SELECT id FROM refresh_tokens WHERE expires_at < $1::timestamptz LIMIT ${SESSION_SWEEP_BATCH}) RETURNING 1`;

// Every token of a session was issued by its last refresh at the latest, so one idle for a whole
// token lifetime holds only expired tokens; the NOT EXISTS keeps one whose first token is being added.
const EMPTY_SESSIONS = `DELETE FROM sessions WHERE id IN (
  SELECT s.id FROM sessions s WHERE s.last_refreshed_at < $1::timestamptz
     AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)
   LIMIT ${SESSION_SWEEP_BATCH}) RETURNING 1`;

export interface SessionSweep {
  /** Deletes expired tokens, then sessions idle for a token lifetime with none left; answers how many rows. */
  run(): Promise<number>;
}

export function createSessionSweep(deps: { scoped: Scoped; clock: Clock; refreshTokenTtlMs: number }): SessionSweep {
  const { scoped, clock, refreshTokenTtlMs } = deps;
  // Sessions and tokens are the `auth` scope's (migrations/0004): each statement a transaction of its own.
  const batch = (statement: string, before: Date) =>
    scoped.system('auth', async ({ sql }) => (await sql.query(statement, [before.toISOString()])).length);
  async function drain(statement: string, before: Date): Promise<number> {
    let deleted = 0;
    for (let n = 0; n < BATCHES_PER_RUN; n++) {
      const gone = await batch(statement, before);
      deleted += gone;
      if (gone < SESSION_SWEEP_BATCH) break;
    }
    return deleted;
  }
  return {
    async run() {
      const now = clock.now();
      const tokens = await drain(EXPIRED_TOKENS, now);
      return tokens + (await drain(EMPTY_SESSIONS, new Date(now.getTime() - refreshTokenTtlMs)));
    },
  };
}
