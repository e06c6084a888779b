// Instances on one PostgreSQL database tell each other they are alive (migrations/0021). Each turn's
// hold names its instance; an instance silent for GONE_AFTER_BEATS heartbeats (killed, out of
// memory, its machine gone) is taken for gone, and the others store its replies cut short and free
// its conversations at once (cut-turns.ts, REFUSAL in turns.sql.ts), where the two-minute lease
// alone kept them busy (409) and a resuming client waiting. One small write per instance per
// heartbeat, whatever the number of replies running; the conversations are read only while a
// gone instance is known. Every time is the database's clock, so instances' clocks may differ.
// An instance judges only a silence it was there for, saying it is alive itself all along: when
// the database comes back after an outage, every instance was silent, and none is cut.
import { randomUUID } from 'node:crypto';
import type { SqlRunner } from '../../db/client.js';
import type { Scoped } from '../../db/scope.js';
import type { Jobs } from '../../jobs/jobs.js';

/** Heartbeats an instance may miss (a slow database, a busy event loop) before it counts as gone. */
export const GONE_AFTER_BEATS = 6;

export interface InstancePulse {
  /** This instance's id, named on every hold it takes. */
  readonly id: string;
  /** Says this instance is alive; true when another one is gone (its holds may wait to be cut). */
  beat(): Promise<boolean>;
  /** Forgets gone instances that hold nothing any more. */
  forgetGone(): Promise<void>;
  /** Shutdown: this instance is gone now, so whatever it still holds is cut by the others at once. */
  leave(): Promise<void>;
}

// A beat after this instance's own window passed (the database away, its event loop held) starts
// a new unbroken run (`since`): it judges others' silence only from there (holderGone).
const BEAT = `
WITH beat AS (
  INSERT INTO instances (id, seen_at, gone_after, since) VALUES ($1, now(), now() + $2::int * interval '1 millisecond', now())
  ON CONFLICT (id) DO UPDATE SET seen_at = now(), gone_after = EXCLUDED.gone_after,
         since = CASE WHEN instances.gone_after < now() THEN now() ELSE instances.since END
  RETURNING since
)
SELECT EXISTS (SELECT 1 FROM instances i, beat
                WHERE i.id <> $1 AND i.gone_after < now() AND beat.since <= now() - (i.gone_after - i.seen_at)) AS others_gone`;

const FORGET_GONE = `
DELETE FROM instances i
 WHERE i.gone_after < now() AND i.id <> $1
   AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.busy_instance = i.id AND c.busy_reply_id IS NOT NULL)`;

export function createInstancePulse(scoped: Scoped, options: { heartbeatMs: number; id?: string }): InstancePulse {
  const id = options.id ?? randomUUID();
  const goneAfterMs = options.heartbeatMs * GONE_AFTER_BEATS;
  // The stop poll's scope reads every conversation's hold, as the cut-turns sweep does.
  const run = <T>(fn: (sql: SqlRunner) => Promise<T>) => scoped.system('stop-poll', ({ sql }) => fn(sql));
  return {
    id,
    async beat() {
      const [row] = await run((sql) => sql.query<{ others_gone: boolean }>(BEAT, [id, goneAfterMs]));
      return row?.others_gone === true;
    },
    async forgetGone() {
      await run((sql) => sql.query(FORGET_GONE, [id]));
    },
    async leave() {
      await run((sql) => sql.query('UPDATE instances SET gone_after = now() WHERE id = $1', [id]));
    },
  };
}

/** Each beat: when another instance is gone, `cutGone` stores what it held, then it is forgotten. */
export function scheduleHeartbeat(
  jobs: Pick<Jobs, 'every'>,
  pulse: InstancePulse,
  heartbeatMs: number,
  cutGone: () => Promise<void>,
): void {
  // The first beat at start, so the instance is known before it takes its first hold.
  jobs.every(
    'instance heartbeat',
    heartbeatMs,
    async () => {
      if (!(await pulse.beat())) return;
      await cutGone();
      await pulse.forgetGone();
    },
    // Resting, the instance holds nothing and is taken for gone; the first request after waits for a beat.
    { atStart: true, rests: true, atWake: true },
  );
}
