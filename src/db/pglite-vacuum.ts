// The embedded database reclaims the row versions updates and deletes leave behind, as
// autovacuum would on a server: a table is vacuumed once its dead rows pass 50 + 20% of its rows
// (PostgreSQL's defaults). Without it a conversations table and its indexes grew by ~240 bytes a
// turn for good. Each VACUUM is one call into PGlite's WebAssembly, during which the event loop
// waits: measured here, 2–7 ms on a small table, 274 ms on 100,000 conversations with 20,000 dead,
// 621 ms on 400,000 messages with 80,000 dead (docs/decisions.md). One table a pass, the most dead
// first, so the loop gets its turn between two.
import type { Jobs } from '../jobs/jobs.js';
import type { SqlRunner } from './client.js';
import { carriedCounts, type CarriedCounts } from './pglite-counters.js';

// $1: the dead rows counted before this start (pglite-counters.ts), added to those counted since.
const DEAD_TABLES = `
SELECT name, table_name, dead FROM (
  SELECT format('%I.%I', s.schemaname, s.relname) AS name, s.relname AS table_name, c.reltuples,
         (s.n_dead_tup + coalesce(($1::jsonb -> s.relname ->> 'dead')::float8, 0))::float8 AS dead
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
   WHERE s.schemaname = current_schema()
) counted
 WHERE dead > 50 + 0.2 * greatest(reltuples, 0)
 ORDER BY dead DESC`;

/** Vacuums the table with the most dead rows past the threshold, if any; returns it and its dead rows. */
export async function vacuumDeadestTable(
  owner: Pick<SqlRunner, 'query'>,
  maintain: (statement: string) => Promise<void>,
  carried: CarriedCounts = carriedCounts(null),
): Promise<{ name: string; dead: number } | null> {
  const [deadest] = await owner.query<{ name: string; table_name: string; dead: number }>(DEAD_TABLES, [carried.json()]);
  if (!deadest) return null;
  await maintain(`VACUUM ${deadest.name}`);
  carried.vacuumed(deadest.table_name);
  return { name: deadest.name, dead: Math.round(Number(deadest.dead)) };
}

/** Runs vacuumDeadestTable every `everyMs` as a background job, saying which table it vacuumed. */
export function keepVacuumed({ jobs, owner, maintain, carried, log, everyMs }: { jobs: Pick<Jobs, 'every'>; owner: Pick<SqlRunner, 'query'>; maintain: (statement: string) => Promise<void>; carried: CarriedCounts; log: { info(fields: object, message: string): void }; everyMs: number }): void {
  jobs.every('embedded database vacuum', everyMs, async () => {
    const started = performance.now();
    const vacuumed = await vacuumDeadestTable(owner, maintain, carried);
    if (vacuumed) log.info({ table: vacuumed.name, dead_rows: vacuumed.dead, ms: Math.round(performance.now() - started) }, "vacuumed the embedded database's table with the most dead rows");
  });
}
