// `parley doctor`'s instances line (PostgreSQL): the instances that say they are alive on this
// database (features/chat/instances.ts), and replies still held by one that stopped saying so.
// Those are stored cut short by a running instance's heartbeat; with none running, their
// conversations answer 409 until an instance starts, which an operator should hear of.
import type { SqlRunner } from '../../db/client.js';
import { result, type CheckResult } from './doctor.checks.js';

type InstanceRow = { id: string; gone: boolean; silent_s: number; holds: number };

// Read in the scope the heartbeat and the cut-turns sweep read holds in; nothing is written.
// now() is this transaction's start: a heartbeat whose transaction began a moment later and
// committed first is younger than that, and reads as 0 s, not "-0.0 s ago".
const INSTANCES = `
SELECT i.id, i.gone_after < now() AS gone, greatest(0, extract(epoch FROM now() - i.seen_at))::float8 AS silent_s,
       (SELECT count(*)::int FROM conversations c WHERE c.busy_instance = i.id AND c.busy_reply_id IS NOT NULL) AS holds
  FROM instances i
 ORDER BY i.seen_at DESC`;

const seconds = (s: number) => (s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`);
const SHOWN = 4;
const times = (rows: InstanceRow[]) => rows.slice(0, SHOWN).map((row) => seconds(Number(row.silent_s))).join(', ') + (rows.length > SHOWN ? ', …' : '');
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export async function checkInstances(sql: SqlRunner): Promise<CheckResult> {
  const rows = await sql.transaction(async (tx) => {
    await tx.query("SELECT set_config('app.scope', 'stop-poll', true)", []);
    return tx.query<InstanceRow>(INSTANCES, []);
  });
  const alive = rows.filter((row) => !row.gone);
  const gone = rows.filter((row) => row.gone);
  const held = gone.reduce((sum, row) => sum + Number(row.holds), 0);
  const heard = alive.length ? `${plural(alive.length, 'instance', 'instances')} running (last heartbeat ${times(alive)} ago)` : 'no instance running';
  const stopped = gone.length ? `; ${plural(gone.length, 'instance', 'instances')} gone (silent ${times(gone)})` : '';
  // An instance resting while nobody uses it (QUIET_AFTER) is silent too, and holds nothing.
  const silent = gone.length ? `; ${plural(gone.length, 'instance', 'instances')} silent ${times(gone)} (stopped, or resting while nobody uses it: QUIET_AFTER)` : '';
  if (held === 0) return result('instances', 'ok', `${heard}${silent}`);
  const replies = `${plural(held, 'reply', 'replies')} still held by ${gone.length === 1 ? 'it' : 'them'}`;
  if (alive.length) return result('instances', 'ok', `${heard}${stopped}, ${replies}: the running instances store them cut short at a heartbeat`);
  return result(
    'instances',
    'warn',
    `${heard}${stopped}, ${replies}: their conversations answer 409 conversation_busy until an instance runs`,
    'start parley serve: within six heartbeats (INSTANCE_HEARTBEAT_MS) it stores those replies cut short and frees their conversations',
  );
}
