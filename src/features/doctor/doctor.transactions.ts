// `parley doctor`'s transactions line: how old the oldest unfrozen transaction of the database's
// server (or embedded folder) is, against the 2,144 million where PostgreSQL stops taking writes.
// PostgreSQL's autovacuum freezes rows long before; the embedded database does at start
// (db/pglite-freeze.ts), which a server that never restarts does not reach.
import type { Config } from '../../config/config.js';
import type { SqlRunner } from '../../db/client.js';
import { databaseAges, FAIL_AGE, warnAge, WARN_AGE_CAP, WRAPAROUND_STOP, type DatabaseAge } from '../../db/pglite-freeze.js';
import { result, type CheckResult } from './doctor.checks.js';

const millions = (n: number) => `${(n / 1_000_000).toLocaleString('en', { maximumFractionDigits: 1 })} million`;

/** The line for the oldest database of the cluster; `freezeAge` is PGLITE_FREEZE_AGE, null on PostgreSQL. */
export function transactionAgeLine(oldest: Pick<DatabaseAge, 'name' | 'age'>, freezeAge: number | null): CheckResult {
  const detail = `oldest unfrozen transaction ${oldest.age.toLocaleString('en')} old (database ${oldest.name}); writes stop at ${millions(WRAPAROUND_STOP)}`;
  const embedded = freezeAge !== null;
  const fix = embedded
    ? 'start the server (parley serve): it freezes old rows at start once they pass PGLITE_FREEZE_AGE'
    : `autovacuum is not keeping up: as a superuser run VACUUM (FREEZE) in database ${oldest.name}, and check that autovacuum is on`;
  if (oldest.age >= FAIL_AGE) return result('transactions', 'fail', `${detail}, ${millions(WRAPAROUND_STOP - oldest.age)} from now`, fix);
  if (oldest.age >= (embedded ? warnAge(freezeAge) : WARN_AGE_CAP)) return result('transactions', 'warn', detail, fix);
  const keeper = embedded ? `frozen at start past ${freezeAge.toLocaleString('en')} (PGLITE_FREEZE_AGE)` : 'autovacuum freezes';
  return result('transactions', 'ok', `${detail}; ${keeper}`);
}

export async function checkTransactionAge(sql: Pick<SqlRunner, 'query'>, config: Config): Promise<CheckResult> {
  const [oldest] = await databaseAges(sql);
  if (!oldest) return result('transactions', 'skip', 'no database listed');
  return transactionAgeLine(oldest, config.databaseUrl ? null : config.pgliteFreezeAge);
}
