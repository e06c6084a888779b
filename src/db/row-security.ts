// Sets up the role requests run as (§10): it gets the table privileges it needs, but it does
// not own the tables, is no superuser and cannot bypass row security. Runs as the owner after
// migrations, on every start, so new tables are granted too. The request pool reaches the role
// by switching to it on the owner's connections, or (DATABASE_APP_URL) by logging in as it.
import { getTableName } from 'drizzle-orm';
import type { Database, SqlRunner } from './client.js';
import { databaseErrorCode, describeError } from './errors.js';
import { tenantTables } from './schema.js';

export class RowSecurityError extends Error {
  override name = 'RowSecurityError';
}

/** The names of the tenant tables (schema.ts), each with row security enabled and forced. */
export const TENANT_TABLES = tenantTables.map((table) => getTableName(table));

// Roles belong to the whole server: instances (and schemas) starting together take turns.
const ROLE_LOCK_KEY = 7_142_002;

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const PROTOCOL_VIOLATION = '08P01';

export async function prepareAppRole(database: Database, log: (line: string) => void = () => {}): Promise<void> {
  const { role, login = false } = database.app;
  if (!ROLE_NAME.test(role)) throw new RowSecurityError(`app role "${role}" is not a plain lowercase role name`);
  const home = await database.sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLE_LOCK_KEY]);
    const [me] = await tx.query<{ name: string; quoted: string; database: string; schema: string }>(
      'SELECT current_user AS name, quote_ident(current_user) AS quoted, current_database() AS database, current_schema() AS schema',
    );
    if (me!.name === role) {
      throw new RowSecurityError(
        login
          ? `DATABASE_APP_URL logs in as ${role}, the role DATABASE_URL connects as, which owns the tables; give requests a login role of their own: CREATE ROLE parley_app LOGIN PASSWORD '…'`
          : `DATABASE_APP_ROLE ${role} is the role DATABASE_URL connects as; it must be a separate role that does not own the tables`,
      );
    }
    // A login role is the administrator's to make: the owner neither creates it nor switches to it.
    if (login) await findLoginRole(tx, role);
    else await joinAppRole(tx, role, me!.quoted, log);
    const [schema] = await tx.query<{ usable: boolean }>("SELECT has_schema_privilege($1, current_schema(), 'USAGE') AS usable", [role]);
    const where = `"${me!.schema.replace(/"/g, '""')}"`;
    // `public` is usable by everyone already, and often not the owner's to grant on.
    if (!schema!.usable) await tx.exec(`GRANT USAGE ON SCHEMA ${where} TO ${role}`);
    // knowledge_search runs as the owner and reads only the caller's chunks (migrations/0025): the request role's alone to call.
    await tx.exec(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${where} TO ${role};
      REVOKE INSERT, UPDATE, DELETE ON parley_migrations FROM ${role};
      GRANT EXECUTE ON FUNCTION ${where}.knowledge_search(uuid, text[], integer, integer) TO ${role}`);
    return { role, login, owner: me!.quoted, database: me!.database, schema: me!.schema };
  });
  await database.enterAppRole();
  try {
    await verifyAppRole(database.app.sql, log, home);
  } catch (error) {
    throw connectionRefusal(error, role, login) ?? error;
  }
  const open = await schemasOpenTo(database.sql, role);
  if (open.length > 0) {
    const { problem, fix } = openSchemasProblem(role, home.owner, open);
    throw new RowSecurityError(`${problem}. ${fix[0]!.toUpperCase()}${fix.slice(1)}`);
  }
  log(`requests run as role ${role}${login ? ' (DATABASE_APP_URL)' : ''}, under row security`);
}

/**
 * A request connection refused as what it is, with what to change: DATABASE_APP_URL's login
 * failing, or a pooler refusing the switch to DATABASE_APP_ROLE. Null for any other error.
 */
export function connectionRefusal(error: unknown, role: string, login: boolean): RowSecurityError | null {
  if (error instanceof RowSecurityError) return error;
  const { code, message } = describeError(error);
  const reason = `${message.split('\n')[0]}${code ? ` (${code})` : ''}`;
  if (login) return new RowSecurityError(`requests cannot connect with DATABASE_APP_URL as ${role}: ${reason}`);
  // PgBouncer refuses startup parameters it does not track, `role` among them.
  if (code === PROTOCOL_VIOLATION) {
    return new RowSecurityError(
      `requests cannot connect as DATABASE_APP_ROLE ${role}: ${reason}, as from a transaction pooler that refuses the role connection parameter: set DATABASE_APP_URL to a login role of its own (docs/deploy.md)`,
    );
  }
  return null;
}

/** DATABASE_APP_URL's role must exist and may log in; what to run otherwise, in one line. */
async function findLoginRole(tx: SqlRunner, role: string): Promise<void> {
  const [found] = await tx.query<{ login: boolean }>('SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = $1', [role]);
  if (!found) throw new RowSecurityError(`role ${role} (DATABASE_APP_URL's user) does not exist. As an administrator run: CREATE ROLE ${role} LOGIN PASSWORD '…'`);
  if (!found.login) throw new RowSecurityError(`role ${role} (DATABASE_APP_URL's user) may not log in. As an administrator run: ALTER ROLE ${role} LOGIN PASSWORD '…'`);
}

const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Creates the app role if missing and makes the connecting role able to SET ROLE to it (the app
 * pool's connections start as it). Managed services differ: an owner with CREATEROLE (Neon's)
 * does both itself; for a least-privilege owner an administrator has to, and what to run is then
 * said in one line rather than as PostgreSQL's bare "must have admin option on role".
 */
async function joinAppRole(tx: SqlRunner, role: string, me: string, log: (line: string) => void): Promise<void> {
  const [existing] = await tx.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  const otherwise = `or set DATABASE_APP_ROLE to a role ${me} belongs to`;
  if (!existing) {
    log(`creating role ${role} for requests`);
    await refusedAs(tx.exec(`DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`), () =>
      `cannot create role ${role} (DATABASE_APP_ROLE): the DATABASE_URL role ${me} lacks CREATEROLE. As an administrator run: CREATE ROLE ${role} NOLOGIN; GRANT ${role} TO ${me}; ${otherwise}`,
    );
  }
  // PostgreSQL 16 split membership from the right to SET ROLE: a CREATEROLE creator is made a
  // member with ADMIN but without SET. Before 16, any member may SET ROLE.
  const [member] = await tx.query<{ yes: boolean }>(
    "SELECT pg_has_role(current_user, $1, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END) AS yes",
    [role],
  );
  if (member?.yes) return;
  await refusedAs(tx.exec(`GRANT ${role} TO CURRENT_USER`), () =>
    `cannot use role ${role} (DATABASE_APP_ROLE): the DATABASE_URL role ${me} is not a member and may not grant it. As an administrator run: GRANT ${role} TO ${me}; ${otherwise}`,
  );
}

/**
 * Schemas on the owner's search path that `role` may create objects in. Parley's functions that
 * run as the tables' owner (knowledge_search, the slug holders) look up what they call there
 * (`SET search_path FROM CURRENT`, the owner's path when migrated). A function the request role
 * put there, taking the arguments more exactly than PostgreSQL's own, would run as the owner
 * instead: with the tables' owner a superuser (the embedded database, a self-hosted `postgres`),
 * one statement injected into a request could make the request role a superuser. Before
 * PostgreSQL 15 every role may create objects in `public`. `sql` runs as the owner.
 */
export async function schemasOpenTo(sql: SqlRunner, role: string): Promise<OpenSchema[]> {
  return sql.query<OpenSchema & Record<string, unknown>>(
    `SELECT quote_ident(s.nspname) AS name, r.rolsuper OR pg_has_role(current_user, s.nspowner, 'USAGE') AS "ownerKeeps"
       FROM unnest(current_schemas(false)) AS n JOIN pg_namespace s ON s.nspname = n, pg_roles r
      WHERE r.rolname = current_user
        AND CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN has_schema_privilege($1, s.oid, 'CREATE') ELSE false END`,
    [role],
  );
}

export interface OpenSchema {
  /** Quoted for SQL. */
  name: string;
  /** The owner (connecting role) may create there as a superuser or the schema's owner, not only as every role may. */
  ownerKeeps: boolean;
}

/**
 * Why requests must not run as a role that may create objects where the owner's functions look,
 * and what to run. Taking CREATE from every role would take it from an owner that has it only so
 * (PostgreSQL 14's `public`, owned by the bootstrap superuser): later migrations could not make tables.
 */
export function openSchemasProblem(role: string, owner: string, schemas: readonly OpenSchema[]): { problem: string; fix: string } {
  const statements = schemas.flatMap(({ name, ownerKeeps }) => [
    ...(ownerKeeps ? [] : [`GRANT CREATE ON SCHEMA ${name} TO ${owner};`]),
    `REVOKE CREATE ON SCHEMA ${name} FROM PUBLIC, ${role};`,
  ]);
  return {
    problem:
      `requests run as role ${role}, which may create objects in schema ${schemas.map((schema) => schema.name).join(', ')}, where Parley's functions ` +
      "that run as the tables' owner look up what they call: a request could take them over and get around row security",
    fix:
      `as the schema's owner or a superuser run: ${statements.join(' ')} (PostgreSQL 15's default; before 15 every role may create in public), ` +
      `and grant CREATE there to no role ${role} belongs to`,
  };
}

/** A permission error becomes `message()`; anything else passes unchanged. */
async function refusedAs(statement: Promise<void>, message: () => string): Promise<void> {
  try {
    await statement;
  } catch (error) {
    if (databaseErrorCode(error) === INSUFFICIENT_PRIVILEGE) throw new RowSecurityError(message());
    throw error;
  }
}

interface RoleFacts {
  role: string;
  /** The role the connection logged in as: `role` itself when it did not switch. */
  session: string;
  database: string;
  schema: string | null;
  superuser: boolean;
  bypass: boolean;
  owns: string | null;
  unprotected: string | null;
}

/** What the role requests run as can do; used at start-up and by the tests. */
export async function appRoleFacts(sql: SqlRunner): Promise<RoleFacts> {
  const [facts] = await sql.query<RoleFacts & Record<string, unknown>>(
    `WITH t AS (
       SELECT c.relname, c.relowner, c.relrowsecurity AND c.relforcerowsecurity AS forced FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind = 'r'
     )
     SELECT current_user AS role, session_user AS session, current_database() AS database, current_schema() AS schema, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
            (SELECT string_agg(relname, ', ' ORDER BY relname) FROM t WHERE pg_has_role(current_user, relowner, 'USAGE')) AS owns,
            (SELECT string_agg(relname, ', ' ORDER BY relname) FROM t WHERE relname = ANY(string_to_array($1, ',')) AND NOT forced) AS unprotected
       FROM pg_roles r WHERE r.rolname = current_user`,
    [TENANT_TABLES.join(',')],
  );
  return facts!;
}

/** Where prepareAppRole granted: the role, and the owner's database and schema. */
export interface AppRoleHome {
  role: string;
  /** Requests log in as the role (DATABASE_APP_URL). */
  login: boolean;
  /** The DATABASE_URL role. */
  owner: string;
  database: string;
  schema: string;
}

/**
 * Refuses to serve when requests would not be subject to row security, or (given `home`) would
 * not reach the role and tables prepareAppRole granted on.
 */
export async function verifyAppRole(sql: SqlRunner, log: (line: string) => void = () => {}, home?: AppRoleHome): Promise<void> {
  const facts = await appRoleFacts(sql);
  const problem = facts.superuser
    ? 'is a superuser'
    : facts.bypass
      ? 'has BYPASSRLS'
      : facts.owns
        ? `owns (or inherits the owner of) ${facts.owns}`
        : null;
  if (problem) throw new RowSecurityError(`requests run as role ${facts.role}, which ${problem}; row security would not apply. ${remedy(facts, home)}`);
  if (home) refuseElsewhere(facts, home);
  if (facts.unprotected) log(`row security is off for ${facts.unprotected}; every user's rows there are visible to every request`);
}

/** What to change when the request role could get around row security. */
function remedy(facts: RoleFacts, home?: AppRoleHome): string {
  if (facts.session !== facts.role) return 'Set DATABASE_APP_ROLE to a role without these rights';
  // The connection logged in as this role and switched to none: DATABASE_APP_URL's user, or the
  // owner behind a pooler that dropped the switch to DATABASE_APP_ROLE.
  if (home && !home.login) {
    return `The connections did not switch to DATABASE_APP_ROLE ${home.role}, as behind a pooler that drops the role connection parameter: set DATABASE_APP_URL to a login role of its own`;
  }
  const fix = facts.superuser ? `ALTER ROLE ${facts.role} NOSUPERUSER` : facts.bypass ? `ALTER ROLE ${facts.role} NOBYPASSRLS` : null;
  return `${fix ? `Run ${fix}, or set` : 'Set'} DATABASE_APP_URL to a login role that is no superuser, has no BYPASSRLS and owns no table`;
}

/** Requests must run as the role granted to, in the database and schema that hold the tables. */
function refuseElsewhere(facts: RoleFacts, home: AppRoleHome): void {
  if (facts.role !== home.role) {
    const how = home.login ? "DATABASE_APP_URL's user the same role" : 'sure no pooler drops the role connection parameter, or set DATABASE_APP_URL';
    throw new RowSecurityError(`requests run as role ${facts.role}, not ${home.role} (DATABASE_APP_ROLE), which Parley granted its tables to: make ${how}`);
  }
  if (facts.database !== home.database) {
    throw new RowSecurityError(`DATABASE_APP_URL reaches database ${facts.database}, but Parley's tables are in ${home.database} (DATABASE_URL): point DATABASE_APP_URL at ${home.database}`);
  }
  if (facts.schema !== home.schema) {
    const seen = facts.schema === null ? 'no schema' : `schema ${facts.schema}`;
    const schema = /^[a-z_][a-z0-9_]*$/.test(home.schema) ? home.schema : `"${home.schema.replace(/"/g, '""')}"`;
    // A login role gets its own role's settings; a switched-to one keeps the session's.
    const who = home.login ? home.role : home.owner;
    throw new RowSecurityError(`requests as ${home.role} see ${seen}, but Parley's tables are in schema ${home.schema}: as an administrator run ALTER ROLE ${who} SET search_path = ${schema}`);
  }
}
