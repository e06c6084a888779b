// `parley doctor`'s database checks: reachable (and its version), migrations current, the role
// requests run as held by row security, the accounts ADMIN_USERNAMES names, (PostgreSQL) the
// instances running on it, and how far its oldest transaction is from the write stop.
// Read-only: nothing is migrated, created, granted or frozen.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import { dataDirNotAFolder } from '../../config/data-dir.js';
import { openDatabase, pgliteDirFor, type Database, type SqlRunner } from '../../db/client.js';
import { describeDatabaseUrl, folderProblem, refusalOf } from '../../db/connect.js';
import { databaseErrorCode, describeError, isDatabaseUnavailable } from '../../db/errors.js';
import { encodingProblem, UTF8_DATABASE_FIX } from '../../db/encoding.js';
import { MIN_VERSION_NUM, OLDER_SERVER_FIX } from '../../db/server-version.js';
import { appliedAsShipped, loadMigrations } from '../../db/migrate.js';
import { result, type CheckResult } from './doctor.checks.js';
import { pgliteHolder } from './doctor.pglite.js';
import { checkRowSecurity } from './doctor.row-security.js';
import { checkInstances } from './doctor.instances.js';
import { checkTransactionAge } from './doctor.transactions.js';
import { UNCLAIMED_FIX, unclaimedAdminNames, unclaimedWarning } from '../users/admin-names.js';

const RETRY_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects once `ms` have passed: a server that accepts connections and then stays silent. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${Math.round(ms / 100) / 10}s`), { code: 'no answer' })), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface ServerVersion {
  version: string;
  num: number;
  encoding: string;
  name: string;
  /** Writes are refused on these connections: a standby, or `default_transaction_read_only` on. */
  readOnly: boolean;
  standby: boolean;
}

/** The server's version, retried while it is unavailable, for `waitMs` at most. */
async function probe(database: Database, waitMs: number): Promise<ServerVersion> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const query = database.sql.query<{ version: string; num: number; encoding: string; name: string; read_only: string; standby: boolean }>(
        "SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num, current_setting('server_encoding') AS encoding, current_database() AS name, " +
          "current_setting('transaction_read_only') AS read_only, pg_is_in_recovery() AS standby",
      );
      const [row] = await within(query, Math.max(deadline - Date.now(), RETRY_MS));
      return { version: row!.version.split(' ')[0]!, num: Number(row!.num), encoding: row!.encoding, name: row!.name, readOnly: row!.read_only === 'on', standby: row!.standby === true };
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() + RETRY_MS >= deadline) throw error;
      await sleep(RETRY_MS);
    }
  }
}

function unreachable(config: Config, error: unknown): CheckResult {
  const where = config.databaseUrl ? `PostgreSQL at ${describeDatabaseUrl(config.databaseUrl)}` : `embedded PGlite in ${pgliteDirFor(config.dataDir)}`;
  const refusal = refusalOf(error);
  if (refusal) return result('database', 'fail', `${where}: ${refusal.problem} (${refusal.code})`, refusal.fix);
  const code = databaseErrorCode(error);
  const reason = code ?? describeError(error).message.slice(0, 120);
  const fix = config.databaseUrl
    ? 'check DATABASE_URL (host, port, database) and that PostgreSQL is running and accepts connections from here'
    : `check that ${pgliteDirFor(config.dataDir)} is a PGlite folder this user may write, or set DATABASE_URL`;
  return result('database', 'fail', `${where} unreachable (${reason})`, fix);
}

/**
 * A database that takes no writes answers every read, so every other line passes while the server
 * stores nothing (each write answers 503): a DATABASE_URL naming a read replica, or
 * `default_transaction_read_only` set on the database or its role. (PGlite reads no per-database
 * settings at open: the embedded database is read-only only while its disk is low, in the server.)
 */
function readOnlyLine(where: string, version: ServerVersion): CheckResult {
  if (version.standby) {
    return result('database', 'fail', `${where} takes no writes: it is a standby (a read replica)`, 'point DATABASE_URL at the primary, read-write server');
  }
  const reset = `SET default_transaction_read_only = off; ALTER DATABASE ${version.name} RESET default_transaction_read_only`;
  return result(
    'database',
    'fail',
    `${where} takes no writes: default_transaction_read_only is on (for this database, its role or the connection)`,
    `point DATABASE_URL at the primary, read-write server, or, if it was set on purpose, undo it once done: ${reset} (or ALTER ROLE … RESET it)`,
  );
}

/** Applied, pending, changed and unknown migrations, compared with the files of this version. */
async function checkMigrations(sql: SqlRunner): Promise<CheckResult> {
  const migrations = loadMigrations();
  const fix = 'run: parley migrate (parley serve also applies them at start)';
  const [ledger] = await sql.query<{ present: boolean }>("SELECT to_regclass('parley_migrations') IS NOT NULL AS present");
  if (!ledger?.present) return result('migrations', 'fail', `none of ${migrations.length} applied: the database is empty`, fix);
  const rows = await sql.query<{ id: string; checksum: string }>('SELECT id, checksum FROM parley_migrations ORDER BY id');
  const done = new Map(rows.map((row) => [row.id, row.checksum]));
  const changed = migrations.filter((m) => {
    const checksum = done.get(m.id);
    return checksum !== undefined && !appliedAsShipped(m, checksum);
  }).map((m) => m.id);
  if (changed.length) {
    return result('migrations', 'fail', `${changed.join(', ')} changed after being applied`, 'restore those files as they were applied; a change needs a new migration');
  }
  const pending = migrations.filter((m) => !done.has(m.id)).map((m) => `${m.id}.sql`);
  if (pending.length) {
    const shown = pending.length > 3 ? `${pending.slice(0, 3).join(', ')}, …` : pending.join(', ');
    return result('migrations', 'fail', `${pending.length} pending (${shown})`, fix);
  }
  const known = new Set(migrations.map((m) => m.id));
  const unknown = rows.map((row) => row.id).filter((id) => !known.has(id));
  if (unknown.length) {
    return result('migrations', 'warn', `current, plus ${unknown.join(', ')} which this version does not have`, 'a newer Parley migrated this database: run that version');
  }
  return result('migrations', 'ok', `${migrations.length} applied, current (latest ${migrations.at(-1)?.id ?? 'none'})`);
}

/**
 * ADMIN_USERNAMES makes an admin of the local account with each name, whenever it is made: a name
 * listed before its account exists goes to whoever registers it first (registration is open).
 */
async function checkAdmins(sql: SqlRunner, names: readonly string[]): Promise<CheckResult> {
  if (names.length === 0) return result('admins', 'ok', 'ADMIN_USERNAMES names nobody');
  const missing = await unclaimedAdminNames(sql, names);
  if (missing.length === 0) return result('admins', 'ok', `ADMIN_USERNAMES: ${[...new Set(names.map((name) => name.toLowerCase()))].join(', ')}, each an account`);
  return result('admins', 'warn', unclaimedWarning(missing), UNCLAIMED_FIX);
}

/** A query that failed (a permission, a dropped connection) is that line's failure, not the command's. */
async function guarded(name: string, check: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await check();
  } catch (error) {
    const { code, message } = describeError(error);
    return result(name, 'fail', `could not be checked: ${message.slice(0, 160)}${code ? ` (${code})` : ''}`, 'check that the DATABASE_URL role may read the catalog and the schema');
  }
}

// Instances say they are alive on PostgreSQL only: one process holds an embedded database's folder.
const ONE_PROCESS = result('instances', 'skip', 'the embedded database has one instance, the process that holds its folder');
const skip = (name: string, why: string) => result(name, 'skip', `not checked: ${why}`);

function pgliteBlocked(config: Config): CheckResult[] | null {
  const dir = pgliteDirFor(config.dataDir);
  const notOpened = (why: string) => [skip('migrations', why), skip('row-security', why), skip('admins', why), ONE_PROCESS, skip('transactions', why)];
  // Before "no database yet": `parley migrate` could not make one there either.
  const notAFolder = dataDirNotAFolder(config.dataDir);
  if (notAFolder) return [result('database', 'fail', notAFolder.problem, notAFolder.fix), ...notOpened('no folder for the database')];
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    return [
      result('database', 'warn', `embedded PGlite: no database yet in ${dir}`, 'run: parley migrate (or parley serve, which creates it)'),
      result('migrations', 'fail', `none of ${loadMigrations().length} applied: no database yet`, 'run: parley migrate (parley serve also applies them at start)'),
      skip('row-security', 'no database yet'),
      skip('admins', 'no database yet'),
      ONE_PROCESS,
      skip('transactions', 'no database yet'),
    ];
  }
  const holder = pgliteHolder(dir);
  if (!holder) return null;
  const who = holder.pid ? `process ${holder.pid}${holder.command ? ` (${holder.command})` : ''}` : 'another process (its postmaster.pid is present)';
  return [
    result('database', 'warn', `embedded PGlite in ${dir} is open in ${who}; not opened here, one process per folder`, 'stop that process to check the database (or, if none runs, it stopped uncleanly and the next start recovers)'),
    ...notOpened('the embedded database is in use'),
  ];
}

/**
 * PGlite says only that it "failed to initialize properly", which was each database line's whole
 * message with nothing to do; the folder is asked why, as `parley serve` asks it.
 */
function unusableFolder(config: Config, error: unknown): CheckResult[] {
  const dir = pgliteDirFor(config.dataDir);
  const problem = folderProblem(dir);
  const why = problem ?? describeError(error).message.slice(0, 160);
  const fix = problem
    ? 'make that folder writable by this user on a writable disk (or point DATA_DIR elsewhere), then run parley doctor again'
    : `check that ${dir} is a PGlite folder of this Parley version, or restore a backup with parley restore`;
  const notOpened = 'the embedded database did not open';
  return [
    result('database', 'fail', `embedded PGlite in ${dir} cannot be opened: ${why}`, fix),
    skip('migrations', notOpened),
    skip('row-security', notOpened),
    skip('admins', notOpened),
    ONE_PROCESS,
    skip('transactions', notOpened),
  ];
}

/** The six database lines, in order; the later five are skipped when the database cannot be read. */
export async function checkDatabase(config: Config, waitMs: number): Promise<CheckResult[]> {
  if (!config.databaseUrl) {
    const blocked = pgliteBlocked(config);
    if (blocked) return blocked;
  }
  let database: Database | null = null;
  let openFailure: unknown = null;
  try {
    database = await openDatabase({
      url: config.databaseUrl,
      pgliteDir: pgliteDirFor(config.dataDir),
      poolMax: 1,
      prepare: config.databasePrepare,
      appRole: config.databaseAppRole,
      appUrl: config.databaseAppUrl,
    }).catch((error: unknown) => {
      if (config.databaseUrl) throw error;
      openFailure = error;
      return null;
    });
    if (!database) return unusableFolder(config, openFailure);
    let version: ServerVersion;
    try {
      version = await probe(database, waitMs);
    } catch (error) {
      return [unreachable(config, error), ...['migrations', 'row-security', 'admins', 'instances', 'transactions'].map((name) => skip(name, 'no database'))];
    }
    const where = config.databaseUrl ? `PostgreSQL ${version.version} at ${describeDatabaseUrl(config.databaseUrl)}` : `embedded PGlite (PostgreSQL ${version.version}) in ${pgliteDirFor(config.dataDir)}`;
    const badEncoding = encodingProblem(version);
    const first =
      version.num < MIN_VERSION_NUM
        ? result('database', 'fail', `${where}: Parley needs PostgreSQL 14 or later`, OLDER_SERVER_FIX)
        : badEncoding
          ? result('database', 'fail', `${where}: ${badEncoding}`, UTF8_DATABASE_FIX)
          : version.readOnly
            ? readOnlyLine(where, version)
            : result('database', 'ok', where);
    const sql = database.sql;
    const migrations = await guarded('migrations', () => checkMigrations(sql));
    const current = migrations.status === 'ok';
    const admins = current ? await guarded('admins', () => checkAdmins(sql, config.adminUsernames)) : result('admins', 'skip', 'not checked: migrations pending');
    const instances = !config.databaseUrl ? ONE_PROCESS : current ? await guarded('instances', () => checkInstances(sql)) : result('instances', 'skip', 'not checked: migrations pending');
    const transactions = await guarded('transactions', () => checkTransactionAge(sql, config));
    return [first, migrations, await guarded('row-security', () => checkRowSecurity(database!)), admins, instances, transactions];
  } finally {
    await database?.close({ graceSeconds: 0 }).catch(() => {});
  }
}
