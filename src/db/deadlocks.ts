// PostgreSQL ends a deadlock by failing one of the transactions in it (40P01, after
// deadlock_timeout), rolled back whole; its documentation has the application try it again.
// Lock orders are kept the same where we can see them (turns.sql.ts), but a deletion's cascades
// lock parents before children while inserts check their parents (foreign keys) after writing:
// a chatbot deleted while its turns end meets them in both orders. Tried again, the victim waits
// for the other side's commit like any lock, and then sees its outcome (a deleted conversation
// is a 404). PGlite is one session and never deadlocks.
import { setTimeout as sleep } from 'node:timers/promises';
import { databaseErrorCode } from './errors.js';

/** Tries in all: PostgreSQL detects a deadlock only after deadlock_timeout (1 s by default). */
export const DEADLOCK_ATTEMPTS = 3;

export const isDeadlock = (error: unknown): boolean => databaseErrorCode(error) === '40P01';

export interface DeadlockCounts {
  /** Times work was a deadlock's victim and was run again. */
  retried: number;
  /** Times it was still a victim on its last try, and failed. */
  failed: number;
}

export interface DeadlockRetries {
  /**
   * Runs `work` again when PostgreSQL made it a deadlock's victim. Only for work whose every
   * effect is in the database: one statement outside a transaction, or a transaction that returns
   * what it did (nothing sent or streamed from within).
   */
  retrying<T>(work: () => Promise<T>): Promise<T>;
  /** `work` once, or through `retrying` when the transaction's options ask for it (RETRY_DEADLOCKS). */
  asAsked<T>(options: { retryDeadlocks?: boolean } | undefined, work: () => Promise<T>): Promise<T>;
  /** Since the database was opened: what `/metrics` shows, so that a lock order gone wrong shows before users see it. */
  counts(): DeadlockCounts;
}

export function createDeadlockRetries(): DeadlockRetries {
  const counts: DeadlockCounts = { retried: 0, failed: 0 };
  const retrying = async <T>(work: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!isDeadlock(error)) throw error;
        if (attempt >= DEADLOCK_ATTEMPTS) {
          counts.failed++;
          throw error;
        }
        counts.retried++;
        // The other side holds its locks until it commits, but the row it waited for is its own
        // only once its session runs again: a row our rollback freed goes to whoever comes first.
        // Back within 5–25 ms on a loaded machine, the victim took it again, made the same cycle
        // and was its victim once more, a second deadlock_timeout later (test/db/deadlock-victims.test.ts
        // with a CPU hog, twice in 9 runs); a third time, the request fails. So a longer pause,
        // varied so that two victims of one cycle do not meet again at once.
        await sleep(50 * attempt + Math.random() * 100);
      }
    }
  };
  return {
    retrying,
    asAsked: (options, work) => (options?.retryDeadlocks ? retrying(work) : work()),
    counts: () => ({ ...counts }),
  };
}

/** A transaction's options (db/client.ts TransactionOptions) for one run again when it is a deadlock's victim. */
export const RETRY_DEADLOCKS = { retryDeadlocks: true } as const;
