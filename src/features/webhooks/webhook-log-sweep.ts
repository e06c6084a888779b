// Forgets webhook events settled longer than WEBHOOK_LOG_RETENTION ago, with their attempts
// (migrations/0024): every completed conversation of a chatbot with a webhook adds one, and the
// log is read newest first, so without this the tables grew with every account's traffic for good.
import { and, asc, inArray, lt, ne } from 'drizzle-orm';
import type { Scoped } from '../../db/scope.js';
import { webhookDeliveries } from '../../db/schema.js';
import type { Clock } from '../../lib/clock.js';

/**
 * Events per statement, and statements per run. Each statement is a transaction of its own and
 * deletes at most 50 attempts an event (the rest went as they fell out of the log), so a backlog
 * of years (an upgrade, a long-stopped sweep) is worked off a bounded piece a run and never holds
 * the tables for long.
 */
export const SWEEP_BATCH = 200;
export const SWEEP_BATCHES_PER_RUN = 10;

export interface WebhookLogSweep {
  /** Deletes up to SWEEP_BATCH × SWEEP_BATCHES_PER_RUN of the oldest events past the retention; answers how many. */
  run(): Promise<number>;
}

export function createWebhookLogSweep(deps: { scoped: Scoped; clock: Clock; retentionMs: number }): WebhookLogSweep {
  const { scoped, clock, retentionMs } = deps;
  const batch = (before: Date) =>
    scoped.system('webhooks', async ({ db }) => {
      // Pending events are kept: one being sent, or due, is the worker's, however old.
      const settledBefore = and(ne(webhookDeliveries.status, 'pending'), lt(webhookDeliveries.createdAt, before));
      const oldest = db.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(settledBefore).orderBy(asc(webhookDeliveries.createdAt)).limit(SWEEP_BATCH);
      // The conditions again: a delivery redelivered since the ids were read is pending now, and
      // PostgreSQL re-tests only these on its newer version.
      const gone = await db.delete(webhookDeliveries).where(and(inArray(webhookDeliveries.id, oldest), settledBefore)).returning({ id: webhookDeliveries.id });
      return gone.length;
    });
  return {
    async run() {
      const before = new Date(clock.now().getTime() - retentionMs);
      let deleted = 0;
      for (let n = 0; n < SWEEP_BATCHES_PER_RUN; n++) {
        const gone = await batch(before);
        deleted += gone;
        if (gone < SWEEP_BATCH) break;
      }
      return deleted;
    },
  };
}
