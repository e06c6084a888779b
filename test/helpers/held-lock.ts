// A table locked by another session, as a long ALTER TABLE or an operator's LOCK TABLE holds it,
// and a look at which of the database's processes are still running a statement.
import type postgres from 'postgres';

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
