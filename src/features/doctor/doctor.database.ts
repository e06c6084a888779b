// `parley doctor`'s database checks: reachable (and its version), migrations current, the role
// requests run as held by row security, and the accounts ADMIN_USERNAMES names. Read-only:
// nothing is migrated, created or granted.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import { openDatabase, pgliteDirFor, type Database, type SqlRunner } from '../../db/client.js';
import { describeDatabaseUrl } from '../../db/connect.js';
import { databaseErrorCode, describeError, isDatabaseUnavailable } from '../../db/errors.js';
import { loadMigrations } from '../../db/migrate.js';
import { TENANT_TABLES } from '../../db/row-security.js';
import { result, type CheckResult } from './doctor.checks.js';
import { pgliteHolder } from './doctor.pglite.js';

const RETRY_MS = 250;
const MIN_VERSION_NUM = 140_000;

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
}

/** The server's version, retried while it is unavailable, for `waitMs` at most. */
async function probe(database: Database, waitMs: number): Promise<ServerVersion> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const query = database.sql.query<{ version: string; num: number }>(
        "SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num",
      );
      const [row] = await within(query, Math.max(deadline - Date.now(), RETRY_MS));
      return { version: row!.version.split(' ')[0]!, num: Number(row!.num) };
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() + RETRY_MS >= deadline) throw error;
      await sleep(RETRY_MS);
    }
  }
}

function unreachable(config: Config, error: unknown): CheckResult {
  const where = config.databaseUrl ? `PostgreSQL at ${describeDatabaseUrl(config.databaseUrl)}` : `embedded PGlite in ${pgliteDirFor(config.dataDir)}`;
  const code = databaseErrorCode(error);
  if (code === '28P01' || code === '28000') {
    return result('database', 'fail', `${where} refused the login (${code})`, 'check the user and password in DATABASE_URL');
  }
  if (code === '3D000') return result('database', 'fail', `${where}: the database does not exist (3D000)`, 'create it (createdb) or correct its name in DATABASE_URL');
  const reason = code ?? describeError(error).message.slice(0, 120);
  const fix = config.databaseUrl
    ? 'check DATABASE_URL (host, port, database) and that PostgreSQL is running and accepts connections from here'
    : `check that ${pgliteDirFor(config.dataDir)} is a PGlite folder this user may write, or set DATABASE_URL`;
  return result('database', 'fail', `${where} unreachable (${reason})`, fix);
}

/** Applied, pending, changed and unknown migrations, compared with the files of this version. */
async function checkMigrations(sql: SqlRunner): Promise<CheckResult> {
  const migrations = loadMigrations();
  const fix = 'run: parley migrate (parley serve also applies them at start)';
  const [ledger] = await sql.query<{ present: boolean }>("SELECT to_regclass('parley_migrations') IS NOT NULL AS present");
  if (!ledger?.present) return result('migrations', 'fail', `none of ${migrations.length} applied: the database is empty`, fix);
  const rows = await sql.query<{ id: string; checksum: string }>('SELECT id, checksum FROM parley_migrations ORDER BY id');
  const done = new Map(rows.map((row) => [row.id, row.checksum]));
  const changed = migrations.filter((m) => done.has(m.id) && done.get(m.id) !== m.checksum).map((m) => m.id);
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

interface Connecting {
  me: string;
  quoted: string;
  superuser: boolean;
  createrole: boolean;
}

interface AppRole {
  superuser: boolean;
  bypass: boolean;
  usable: boolean;
}

/** Tables of the current schema the role owns or inherits the owner of, and tenant tables without forced row security. */
async function tableFacts(sql: SqlRunner, role: string): Promise<{ owns: string | null; unprotected: string | null; tenant: number }> {
  const [facts] = await sql.query<{ owns: string | null; unprotected: string | null; tenant: number }>(
    `WITH t AS (
       SELECT c.relname, c.relowner, c.relrowsecurity AND c.relforcerowsecurity AS forced FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind = 'r'
     )
     SELECT (SELECT string_agg(relname, ', ' ORDER BY relname) FROM t
              WHERE CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role($1, relowner, 'USAGE') ELSE false END) AS owns,
            (SELECT string_agg(relname, ', ' ORDER BY relname) FROM t WHERE relname = ANY(string_to_array($2, ',')) AND NOT forced) AS unprotected,
            (SELECT count(*)::int FROM t WHERE relname = ANY(string_to_array($2, ','))) AS tenant`,
    [role, TENANT_TABLES.join(',')],
  );
  return { owns: facts?.owns ?? null, unprotected: facts?.unprotected ?? null, tenant: Number(facts?.tenant ?? 0) };
}

async function roleFacts(sql: SqlRunner, role: string): Promise<{ me: Connecting; app: AppRole | null }> {
  const [me] = await sql.query<Connecting & Record<string, unknown>>(
    'SELECT current_user AS me, quote_ident(current_user) AS quoted, rolsuper AS superuser, rolcreaterole AS createrole FROM pg_roles WHERE rolname = current_user',
  );
  // Since PostgreSQL 16 membership alone does not allow SET ROLE; an ADMIN member may grant it to itself at start-up.
  const [app] = await sql.query<AppRole & Record<string, unknown>>(
    `SELECT rolsuper AS superuser, rolbypassrls AS bypass,
            pg_has_role(current_user, oid, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)
              OR pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS usable
       FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  return { me: me!, app: app ?? null };
}

/** DATABASE_APP_ROLE: present (or creatable at start-up), usable, and unable to get around row security. */
async function checkRowSecurity(sql: SqlRunner, role: string): Promise<CheckResult> {
  const name = 'row-security';
  const { me, app } = await roleFacts(sql, role);
  const alternative = `or set DATABASE_APP_ROLE to a role ${me.quoted} belongs to`;
  if (me.me === role) return result(name, 'fail', `DATABASE_APP_ROLE ${role} is the role DATABASE_URL connects as, which owns the tables`, 'set DATABASE_APP_ROLE to a separate role (default parley_app)');
  if (!app && !me.superuser && !me.createrole) {
    return result(name, 'fail', `role ${role} (DATABASE_APP_ROLE) does not exist and ${me.quoted} may not create it`, `as an administrator run: CREATE ROLE ${role} NOLOGIN; GRANT ${role} TO ${me.quoted}; ${alternative}`);
  }
  if (app?.superuser) return result(name, 'fail', `requests run as ${role}, a superuser: row security would not apply`, `run: ALTER ROLE ${role} NOSUPERUSER; or set DATABASE_APP_ROLE to another role`);
  if (app?.bypass) return result(name, 'fail', `requests run as ${role}, which has BYPASSRLS: row security would not apply`, `run: ALTER ROLE ${role} NOBYPASSRLS`);
  if (app && !app.usable && !me.superuser) {
    return result(name, 'fail', `${me.quoted} (DATABASE_URL) may not switch to role ${role}`, `as an administrator run: GRANT ${role} TO ${me.quoted}; ${alternative}`);
  }
  const tables = await tableFacts(sql, role);
  if (tables.owns) return result(name, 'fail', `${role} owns (or inherits the owner of) ${tables.owns}: row security would not apply`, `set DATABASE_APP_ROLE to a role that owns no tables, or revoke its membership in their owner`);
  if (tables.unprotected) {
    return result(name, 'fail', `row security is off on ${tables.unprotected}: every request would see every user's rows there`, 'run, for each: ALTER TABLE <table> ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY');
  }
  const forced = tables.tenant ? `row security forced on ${tables.tenant} tables` : 'no tables yet';
  if (!app) return result(name, 'ok', `role ${role} not created yet: parley serve creates it at start, as ${me.quoted} may; ${forced}`);
  return result(name, 'ok', `requests run as ${role}: no superuser, no BYPASSRLS, owns no table; ${forced}`);
}

/**
 * ADMIN_USERNAMES makes an admin of the local account with each name, whenever it is made: a name
 * listed before its account exists goes to whoever registers it first (registration is open).
 */
async function checkAdmins(sql: SqlRunner, names: readonly string[]): Promise<CheckResult> {
  if (names.length === 0) return result('admins', 'ok', 'ADMIN_USERNAMES names nobody');
  const wanted = [...new Set(names.map((name) => name.toLowerCase()))];
  const rows = await sql.transaction(async (tx) => {
    // Row security is forced on users for their owner too: read as the admin routes do.
    await tx.query("SELECT set_config('app.scope', 'admin', true)", []);
    return tx.query<{ name: string }>('SELECT lower(username) AS name FROM users WHERE issuer IS NULL AND lower(username) = ANY($1::text[])', [wanted]);
  });
  const found = new Set(rows.map((row) => row.name));
  const missing = wanted.filter((name) => !found.has(name));
  if (missing.length === 0) return result('admins', 'ok', `ADMIN_USERNAMES: ${wanted.join(', ')}, each an account`);
  return result(
    'admins',
    'warn',
    `ADMIN_USERNAMES names ${missing.join(', ')}, which no account has yet: whoever registers ${missing.length === 1 ? 'that name' : 'one of those names'} first becomes an admin`,
    'register the name yourself now, or leave it out of ADMIN_USERNAMES until you have',
  );
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

function pgliteBlocked(config: Config): CheckResult[] | null {
  const dir = pgliteDirFor(config.dataDir);
  const notOpened = (why: string) => [
    result('migrations', 'skip', `not checked: ${why}`),
    result('row-security', 'skip', `not checked: ${why}`),
    result('admins', 'skip', `not checked: ${why}`),
  ];
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    return [
      result('database', 'warn', `embedded PGlite: no database yet in ${dir}`, 'run: parley migrate (or parley serve, which creates it)'),
      result('migrations', 'fail', `none of ${loadMigrations().length} applied: no database yet`, 'run: parley migrate (parley serve also applies them at start)'),
      result('row-security', 'skip', 'not checked: no database yet'),
      result('admins', 'skip', 'not checked: no database yet'),
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

/** The four database lines, in order; the later three are skipped when the database cannot be read. */
export async function checkDatabase(config: Config, waitMs: number): Promise<CheckResult[]> {
  if (!config.databaseUrl) {
    const blocked = pgliteBlocked(config);
    if (blocked) return blocked;
  }
  let database: Database | null = null;
  try {
    database = await openDatabase({ url: config.databaseUrl, pgliteDir: pgliteDirFor(config.dataDir), poolMax: 1, prepare: config.databasePrepare, appRole: config.databaseAppRole });
    let version: ServerVersion;
    try {
      version = await probe(database, waitMs);
    } catch (error) {
      const skipped = (name: string) => result(name, 'skip', 'not checked: no database');
      return [unreachable(config, error), skipped('migrations'), skipped('row-security'), skipped('admins')];
    }
    const where = config.databaseUrl ? `PostgreSQL ${version.version} at ${describeDatabaseUrl(config.databaseUrl)}` : `embedded PGlite (PostgreSQL ${version.version}) in ${pgliteDirFor(config.dataDir)}`;
    const first =
      version.num < MIN_VERSION_NUM
        ? result('database', 'fail', `${where}: Parley needs PostgreSQL 14 or later`, 'upgrade the server, or point DATABASE_URL at a newer one')
        : result('database', 'ok', where);
    const sql = database.sql;
    const migrations = await guarded('migrations', () => checkMigrations(sql));
    const admins = migrations.status === 'ok' ? await guarded('admins', () => checkAdmins(sql, config.adminUsernames)) : result('admins', 'skip', 'not checked: migrations pending');
    return [first, migrations, await guarded('row-security', () => checkRowSecurity(sql, config.databaseAppRole)), admins];
  } finally {
    await database?.close({ graceSeconds: 0 }).catch(() => {});
  }
}
