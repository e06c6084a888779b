// Replies a stopped process never stored: it was killed, ran out of memory, or its machine went
// away mid-turn. Their conversations stay held until the lease runs out (two minutes: every
// message answers 409 conversation_busy, "a reply is still being generated", though none is),
// and their user message is left without a reply for good. At start, before serving, each gets
// its reply stored — the text produced so far as `interrupted` (the AI SDK channel keeps it as it
// goes), else `failed` — with error `server_stopped`, and is let go.
//
// Which holds are such ones: on the embedded database, every one (one process per folder, and
// this one has not started a turn yet); on PostgreSQL, where other instances may be mid-turn,
// those whose lease has run out or whose instance the watcher saw go silent (instances.ts). Runs
// before requests, through row security as they do: an owner that is no superuser (managed
// PostgreSQL) is subject to it too, and saw no hold at all. Which conversations are held is read
// as the stop poller reads them; each is then stored as its user.
import type { Scoped } from '../../db/scope.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { holderGone } from './turns.sql.js';

interface CutTurn extends Record<string, unknown> {
  id: string;
  user_id: string;
  busy_reply_id: string;
  busy_text: string | null;
}

const CUT = (everyHold: boolean, watched: boolean) => `
SELECT c.id, c.user_id, c.busy_reply_id, c.busy_text
  FROM conversations c
 WHERE c.busy_reply_id IS NOT NULL${everyHold ? '' : ` AND (c.busy_until < now()${watched ? ` OR ${holderGone('c', '$1::uuid')}` : ''})`}`;

// The read scans every conversation (an index on the hold would stop each turn's start from
// updating its row in place, migration 0016), every minute on every instance: on 400,000
// conversations 520–860 ms, ~577 ms of it LLVM compiling the statement, whose cost passes
// jit_above_cost. Compiled or not, a scan is read once; without JIT, ~100 ms.
const NO_JIT = "SELECT set_config('jit', 'off', true)";

// Only while the same hold is there: a turn that ended meanwhile (PostgreSQL) is left alone.
// Its times are the app clock's ($7), as every other writer's: the database's now() carries
// microseconds, and list cursors (milliseconds) would then skip rows in the same millisecond.
// Messages are read in id order, and ids are time-ordered. A regenerate's hold stores no user
// message: the conversation's newest message is then the reply being replaced, which stays.
export const STORE_CUT_TURN = `
WITH held AS (
  SELECT id FROM conversations WHERE id = $1 AND busy_reply_id = $2::uuid
), r AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, error_code, created_at)
  SELECT $2::uuid, held.id, $3::uuid, 'assistant', $4::text, $5::text, $6::int, 'server_stopped', $7::timestamptz
    FROM held
   WHERE NOT coalesce((SELECT m.role = 'assistant' FROM messages m WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT 1), true)
  ON CONFLICT (id) DO NOTHING
  RETURNING id
)
UPDATE conversations
   SET message_count = message_count + (SELECT count(*) FROM r),
       updated_at = CASE WHEN EXISTS (SELECT 1 FROM r) THEN $7::timestamptz ELSE updated_at END,
       busy_reply_id = NULL, busy_until = NULL, stop_reply_id = NULL, busy_text = NULL
 WHERE id = $1 AND busy_reply_id = $2::uuid`;

/** Stores the replies of turns cut short by a process that stopped; how many conversations it let go. */
export async function storeCutTurns(
  scoped: Scoped,
  options: {
    everyHold: boolean;
    /** This instance's id (instances.ts): holds of instances it saw go silent are cut too. */
    watcher?: string | null;
    countTokens(text: string): number | Promise<number>;
    clock?: Clock;
  },
): Promise<number> {
  const clock = options.clock ?? systemClock;
  const watcher = options.everyHold ? null : (options.watcher ?? null);
  const cut = await scoped.system('stop-poll', async ({ sql }) => {
    await sql.query(NO_JIT);
    return sql.query<CutTurn>(CUT(options.everyHold, watcher !== null), watcher === null ? [] : [watcher]);
  });
  for (const turn of cut) {
    const text = turn.busy_text ?? '';
    const status = text === '' ? 'failed' : 'interrupted';
    const tokens = text === '' ? 0 : await options.countTokens(text);
    const now = clock.now().toISOString();
    await scoped.user(turn.user_id, ({ sql }) => sql.query(STORE_CUT_TURN, [turn.id, turn.busy_reply_id, turn.user_id, text, status, tokens, now]));
  }
  return cut.length;
}
