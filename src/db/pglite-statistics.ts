// The embedded database keeps its planner's statistics up to date itself. PGlite runs PostgreSQL
// inside this process as one session, without background workers: no autovacuum, so no table was
// ever analyzed. The planner then guessed a table's rows from nothing, and an export's keyset
// batch ("the next 200 conversations of this chatbot after this one") became a bitmap scan and a
// sort of every conversation left: each batch cost as much as all the rest, 50,000 conversations
// took 7.7 s instead of 2.3 s, and each batch held the event loop (every other request) twice as
// long (docs/decisions.md). Like autovacuum's analyze, a table is analyzed again once the rows
// changed since its last analysis pass 50 + 10% of the rows it had then (PostgreSQL's defaults);
// a table never analyzed that holds data (a folder from before this) is analyzed on the first pass.
// The counts from before a restart are carried over it (pglite-counters.ts).
import type { Jobs } from '../jobs/jobs.js';
import type { SqlRunner } from './client.js';
import { carriedCounts, type CarriedCounts } from './pglite-counters.js';

/**
 * Rows sampled: 300 × this. An ANALYZE is one call into PGlite's WebAssembly, during which the
 * event loop waits: with PostgreSQL's default (100, 30,000 rows) it took 300–350 ms on 100,000
 * conversations and on 400,000 messages, with 10 (3,000 rows) 43–50 ms. Enough for what
 * Parley's statements need the planner to know: how big a table is, and which of its columns
 * tell rows apart.
 */
export const STATISTICS_TARGET = 10;

// $1: the changes counted before this start (pglite-counters.ts), added to those counted since.
const STALE_TABLES = `
SELECT name, table_name FROM (
  SELECT format('%I.%I', s.schemaname, s.relname) AS name, s.relname AS table_name, c.reltuples, pg_relation_size(c.oid) AS bytes,
         s.n_mod_since_analyze + coalesce(($1::jsonb -> s.relname ->> 'modified')::float8, 0) AS modified
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
   WHERE s.schemaname = current_schema()
) counted
 WHERE modified > 50 + 0.1 * greatest(reltuples, 0) OR (reltuples < 0 AND bytes > 0)
 ORDER BY modified DESC`;

/**
 * Analyzes the tables whose statistics are stale, one statement each (other queries take their
 * turn in between), as the owner of the tables. Returns the tables analyzed.
 */
export async function analyzeStaleTables(owner: SqlRunner, carried: CarriedCounts = carriedCounts(null)): Promise<string[]> {
  const stale = await owner.query<{ name: string; table_name: string }>(STALE_TABLES, [carried.json()]);
  for (const { name, table_name } of stale) {
    await owner.exec(`SET LOCAL default_statistics_target = ${STATISTICS_TARGET}; ANALYZE ${name}`);
    carried.analyzed(table_name);
  }
  return stale.map(({ name }) => name);
}

/** Runs analyzeStaleTables every `everyMs` as a background job, saying which tables it analyzed. */
export function keepStatistics({ jobs, owner, carried, log, everyMs }: { jobs: Pick<Jobs, 'every'>; owner: SqlRunner; carried: CarriedCounts; log: { info(fields: object, message: string): void }; everyMs: number }): void {
  jobs.every('embedded database statistics', everyMs, async () => {
    const analyzed = await analyzeStaleTables(owner, carried);
    if (analyzed.length > 0) log.info({ tables: analyzed }, "analyzed the embedded database's changed tables");
  });
}
