// A table locked by another session, as a long ALTER TABLE or an operator's LOCK TABLE holds it,
// and a look at which of the database's processes are still running a statement.
import type postgres from 'postgres';
import type { TestApp } from './app.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` while `direct` holds an ACCESS EXCLUSIVE lock on a fresh table; `fn` gets the table's
 * name and a marker to put in the statements it sends, for `processesStillRunning`.
 */
export async function whileLocked(direct: postgres.Sql, fn: (table: string, marker: string) => Promise<void>): Promise<void> {
  const table = `stall_lock_${process.pid}_${Date.now()}`;
  await direct.unsafe(`CREATE TABLE ${table} (n int)`);
  try {
    await direct.begin(async (locker) => {
      await locker.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      await fn(table, `behind-a-lock-${table}`);
    });
  } finally {
    await direct.unsafe(`DROP TABLE IF EXISTS ${table}`);
  }
}

/** Processes of the database still running a statement marked so, after giving them up to 5 s to end. */
export async function processesStillRunning(observer: postgres.Sql, marker: string): Promise<number> {
  let count = -1;
  for (let attempt = 0; attempt < 50 && count !== 0; attempt++) {
    if (attempt > 0) await pause(100);
    const [row] = await observer.unsafe(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' AND position($1 in query) > 0`,
      [marker],
    );
    count = Number(row!.n);
  }
  return count;
}

/**
 * From a second connection, in one transaction: runs `hold` (a `SELECT … FOR UPDATE` of the
 * rows a deletion would take first), starts `waiting` (or lets one started before run on), and
 * once the app's connection waits for that transaction (pg_blocking_pids), runs `then` (the
 * deletion) and commits. Returns what `waiting` ends with. For lock-order tests: a statement
 * that takes the rows in the other order deadlocks here every time.
 */
export async function whileRowsHeld<T>(
  t: Pick<TestApp, 'database'>,
  url: string,
  steps: { hold: [string, unknown[]]; waiting: () => Promise<T>; then: [string, unknown[]] },
): Promise<T> {
  const { default: connect } = await import('postgres');
  const [{ schema }] = (await t.database.sql.query<{ schema: string }>('SELECT current_schema() AS schema', [])) as [{ schema: string }];
  const direct = connect(url, { max: 1, onnotice: () => {} });
  try {
    await direct.unsafe(`SET search_path TO "${schema}"`);
    let outcome: Promise<T> | undefined;
    await direct.begin(async (tx) => {
      // PostgreSQL looks for a deadlock once, in the session whose wait reaches deadlock_timeout
      // first, and fails that one. This side waits far longer than the app's sessions, so that
      // when there is a cycle the app's side is its victim, and never this one.
      await tx.unsafe(`SET LOCAL deadlock_timeout = '20s'`);
      await tx.unsafe(steps.hold[0], steps.hold[1] as never[]);
      outcome = steps.waiting();
      outcome.catch(() => {});
      for (let i = 0; ; i++) {
        // Asked on this connection: through the app's pool, on a loaded machine, the answer came
        // after the app's deadlock_timeout, whose look then found no cycle yet.
        const rows = await tx.unsafe('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))');
        if (Number(rows[0]?.n) > 0) break;
        if (i >= 300) throw new Error('the statement under test never waited for the held rows');
        await pause(20);
      }
      await tx.unsafe(steps.then[0], steps.then[1] as never[]);
    });
    return await outcome!;
  } finally {
    await direct.end();
  }
}
