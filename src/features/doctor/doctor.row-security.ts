// `parley doctor`'s row-security line: the role requests run as exists (or start-up can make it),
// can be reached the way the server reaches it, and cannot get around row security. Two ways to
// reach it: switching to DATABASE_APP_ROLE on the owner's connections, or logging in as
// DATABASE_APP_URL's user (behind a transaction pooler). On PostgreSQL the line ends by opening a
// request connection as the server does, so a pooler that refuses the switch fails here too.
import type { Database, SqlRunner } from '../../db/client.js';
import { connectionRefusal, openSchemasProblem, schemasOpenTo, TENANT_TABLES, verifyAppRole } from '../../db/row-security.js';
import { result, type CheckResult } from './doctor.checks.js';

const NAME = 'row-security';

interface Connecting {
  me: string;
  quoted: string;
  superuser: boolean;
  createrole: boolean;
  database: string;
  schema: string;
}

interface AppRole {
  superuser: boolean;
  bypass: boolean;
  usable: boolean;
  login: boolean;
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
    `SELECT current_user AS me, quote_ident(current_user) AS quoted, rolsuper AS superuser, rolcreaterole AS createrole,
            current_database() AS database, current_schema() AS schema
       FROM pg_roles WHERE rolname = current_user`,
  );
  // Since PostgreSQL 16 membership alone does not allow SET ROLE; an ADMIN member may grant it to itself at start-up.
  const [app] = await sql.query<AppRole & Record<string, unknown>>(
    `SELECT rolsuper AS superuser, rolbypassrls AS bypass, rolcanlogin AS login,
            pg_has_role(current_user, oid, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)
              OR pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS usable
       FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  return { me: me!, app: app ?? null };
}

/** Switching on the owner's connections: the role exists or can be made, and the owner may switch to it. */
function switchProblem(me: Connecting, app: AppRole | null, role: string): CheckResult | null {
  const alternative = `or set DATABASE_APP_ROLE to a role ${me.quoted} belongs to`;
  if (me.me === role) return result(NAME, 'fail', `DATABASE_APP_ROLE ${role} is the role DATABASE_URL connects as, which owns the tables`, 'set DATABASE_APP_ROLE to a separate role (default parley_app)');
  if (!app && !me.superuser && !me.createrole) {
    return result(NAME, 'fail', `role ${role} (DATABASE_APP_ROLE) does not exist and ${me.quoted} may not create it`, `as an administrator run: CREATE ROLE ${role} NOLOGIN; GRANT ${role} TO ${me.quoted}; ${alternative}`);
  }
  if (app && !app.usable && !me.superuser) {
    return result(NAME, 'fail', `${me.quoted} (DATABASE_URL) may not switch to role ${role}`, `as an administrator run: GRANT ${role} TO ${me.quoted}; ${alternative}`);
  }
  return null;
}

/** Logging in with DATABASE_APP_URL: the role is an administrator's, made beforehand, other than the owner. */
function loginProblem(me: Connecting, app: AppRole | null, role: string): CheckResult | null {
  if (me.me === role) return result(NAME, 'fail', `DATABASE_APP_URL logs in as ${role}, the role DATABASE_URL connects as, which owns the tables`, `give requests a login role of their own: CREATE ROLE parley_app LOGIN PASSWORD '…'`);
  if (!app) return result(NAME, 'fail', `role ${role} (DATABASE_APP_URL's user) does not exist`, `as an administrator run: CREATE ROLE ${role} LOGIN PASSWORD '…'`);
  if (!app.login) return result(NAME, 'fail', `role ${role} (DATABASE_APP_URL's user) may not log in`, `as an administrator run: ALTER ROLE ${role} LOGIN PASSWORD '…'`);
  return null;
}

/** Opens a request connection as the server does and checks what it runs as; null when all is well. */
async function reachProblem(database: Database, me: Connecting): Promise<CheckResult | null> {
  const { role, login = false } = database.app;
  try {
    await verifyAppRole(database.app.sql, () => {}, { role, login, owner: me.quoted, database: me.database, schema: me.schema });
    return null;
  } catch (error) {
    const refusal = connectionRefusal(error, role, login);
    if (!refusal) throw error;
    return result(NAME, 'fail', refusal.message);
  }
}

/** The role requests run as: present (or creatable at start-up), reachable, and unable to get around row security. */
export async function checkRowSecurity(database: Database): Promise<CheckResult> {
  const { role, login = false } = database.app;
  const { me, app } = await roleFacts(database.sql, role);
  const problem = login ? loginProblem(me, app, role) : switchProblem(me, app, role);
  if (problem) return problem;
  if (app?.superuser) return result(NAME, 'fail', `requests run as ${role}, a superuser: row security would not apply`, `run: ALTER ROLE ${role} NOSUPERUSER; or set DATABASE_APP_ROLE to another role`);
  if (app?.bypass) return result(NAME, 'fail', `requests run as ${role}, which has BYPASSRLS: row security would not apply`, `run: ALTER ROLE ${role} NOBYPASSRLS`);
  const tables = await tableFacts(database.sql, role);
  if (tables.owns) return result(NAME, 'fail', `${role} owns (or inherits the owner of) ${tables.owns}: row security would not apply`, `set DATABASE_APP_ROLE to a role that owns no tables, or revoke its membership in their owner`);
  if (tables.unprotected) {
    return result(NAME, 'fail', `row security is off on ${tables.unprotected}: every request would see every user's rows there`, 'run, for each: ALTER TABLE <table> ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY');
  }
  const open = await schemasOpenTo(database.sql, role);
  if (open.length > 0) {
    const { problem, fix } = openSchemasProblem(role, me.quoted, open);
    return result(NAME, 'fail', problem, fix);
  }
  const forced = tables.tenant ? `row security forced on ${tables.tenant} tables` : 'no tables yet';
  if (!app) return result(NAME, 'ok', `role ${role} not created yet: parley serve creates it at start, as ${me.quoted} may; ${forced}`);
  // The embedded database has one connection, which the checks after this one still need as the owner.
  if (database.kind === 'postgres' && tables.tenant) {
    const unreachable = await reachProblem(database, me);
    if (unreachable) return unreachable;
  }
  return result(NAME, 'ok', `requests run as ${role}${login ? ' (DATABASE_APP_URL)' : ''}: no superuser, no BYPASSRLS, owns no table; ${forced}`);
}
