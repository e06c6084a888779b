// What autovacuum does on a server, done for the embedded database, which has none: planner
// statistics kept up to date, dead rows reclaimed, and a warning when only a restart can freeze;
// the counts that decide when are carried over a restart (pglite-counters.ts).
import type { Database } from './client.js';
import type { Jobs } from '../jobs/jobs.js';
import { carriedCounts } from './pglite-counters.js';
import { watchTransactionAge } from './pglite-freeze.js';
import { keepStatistics } from './pglite-statistics.js';
import { keepVacuumed } from './pglite-vacuum.js';

export interface UpkeepDeps {
  jobs: Pick<Jobs, 'every'>;
  database: Database;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
  /** PGLITE_STATISTICS_MS: how often each job looks. */
  everyMs: number;
  /** PGLITE_FREEZE_AGE. */
  freezeAge: number;
}

export function keepEmbeddedDatabase({ jobs, database, log, everyMs, freezeAge }: UpkeepDeps): void {
  const carried = carriedCounts(database.folder ?? null);
  keepStatistics({ jobs, owner: database.sql, carried, log, everyMs });
  watchTransactionAge({ jobs, owner: database.sql, log, freezeAge, everyMs });
  if (database.maintain) keepVacuumed({ jobs, owner: database.sql, maintain: database.maintain, carried, log, everyMs });
  if (database.folder) jobs.every('embedded database counters', everyMs, () => carried.save(database.sql));
}
