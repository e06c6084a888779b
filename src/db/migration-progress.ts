// A migration that rewrites or indexes a large table can run for minutes (0029 rewrites the
// search terms of every knowledge chunk: about three minutes for 100,000 chunks on the embedded
// database of a slow machine). An operator who sees "applying migration …" and then nothing may
// take the upgrade for hung and stop it. So a large one says up front how much it works through,
// says every few seconds that it still runs, and says how long it took.
import type { SqlRunner } from './client.js';

/** Tables a migration works through row by row: its top-level UPDATEs, DELETEs and index builds. */
const WORKED_THROUGH = /^(?:UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|CREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON(?:\s+ONLY)?)\s+([a-z_][a-z0-9_]*)/gim;

/** Below this many rows no migration here takes long enough to say more than its name. */
export const LARGE_TABLE_ROWS = 10_000;

/** How often a migration still running says so. */
export const STILL_RUNNING_EVERY_MS = 10_000;

/** Durations below this are not worth a line of their own. */
const WORTH_TIMING_MS = 1_000;

export function tablesWorkedThrough(migrationSql: string): string[] {
  return [...new Set([...migrationSql.matchAll(WORKED_THROUGH)].map((match) => match[1]!.toLowerCase()))];
}

/**
 * The planner's row estimates (pg_class.reltuples, kept by ANALYZE and autovacuum): free to read,
 * and row security does not hide them as it would hide the rows from a count by an owner that is
 * no superuser. A table never analyzed (-1) or not there yet counts nothing.
 */
async function estimatedRows(sql: SqlRunner, tables: string[]): Promise<Array<{ name: string; rows: number }>> {
  if (tables.length === 0) return [];
  const rows = await sql.query<{ name: string; rows: number | string }>(
    `SELECT c.relname AS name, greatest(c.reltuples, 0)::float8 AS rows
       FROM unnest($1::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name)`,
    [tables],
  );
  return rows.map((row) => ({ name: row.name, rows: Math.round(Number(row.rows)) }));
}

const thousands = (n: number) => n.toLocaleString('en-US');

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export interface MigrationProgress {
  /** Ends the "still running" lines; once applied, says how long it took when that was long enough to notice. */
  done(outcome: { applied: boolean }): void;
}

/**
 * Says what a migration about to run works through when that is large, then every
 * STILL_RUNNING_EVERY_MS that it still runs. On the embedded database a single long statement
 * holds this thread, so those lines come only between its statements; the size and the time
 * taken are said either way.
 */
export async function startMigrationProgress(sql: SqlRunner, id: string, migrationSql: string, log: (line: string) => void): Promise<MigrationProgress> {
  const large = (await estimatedRows(sql, tablesWorkedThrough(migrationSql))).filter((table) => table.rows >= LARGE_TABLE_ROWS);
  if (large.length > 0) {
    const what = large.map((table) => `about ${thousands(table.rows)} rows of ${table.name}`).join(' and ');
    log(`  ${id} works through ${what}: this can take minutes (stopped, it is undone, and the next start runs it again)`);
  }
  const started = performance.now();
  const timer = setInterval(() => log(`  still applying ${id}: ${seconds(performance.now() - started)} so far`), STILL_RUNNING_EVERY_MS);
  timer.unref();
  return {
    done({ applied }) {
      clearInterval(timer);
      const took = performance.now() - started;
      if (applied && took >= WORTH_TIMING_MS) log(`  applied ${id} in ${seconds(took)}`);
    },
  };
}
