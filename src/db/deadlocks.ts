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

/**
 * Runs `work` again when PostgreSQL made it a deadlock's victim. Only for work whose every effect
 * is in the database: one statement outside a transaction, or a transaction that returns what
 * it did (nothing sent or streamed from within).
 */
export async function retryingDeadlocks<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= DEADLOCK_ATTEMPTS || !isDeadlock(error)) throw error;
      // The other side holds its locks until it commits: a short pause, varied so that two
      // victims of one cycle do not meet again at once.
      await sleep(5 + Math.random() * 20);
    }
  }
}
