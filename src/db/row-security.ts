// Sets up the role requests run as (§10): it gets the table privileges it needs, but it does
// not own the tables, is no superuser and cannot bypass row security. Runs as the owner after
// migrations, on every start, so new tables are granted too.
import { getTableName } from 'drizzle-orm';
import type { Database, SqlRunner } from './client.js';
import { databaseErrorCode } from './errors.js';
import { tenantTables } from './schema.js';

export class RowSecurityError extends Error {
  override name = 'RowSecurityError';
}

/** The names of the tenant tables (schema.ts), each with row security enabled and forced. */
export const TENANT_TABLES = tenantTables.map((table) => getTableName(table));

// Roles belong to the whole server: instances (and schemas) starting together take turns.
const ROLE_LOCK_KEY = 7_142_002;

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function prepareAppRole(database: Database, log: (line: string) => void = () => {}): Promise<void> {
  const role = database.app.role;
  if (!ROLE_NAME.test(role)) throw new RowSecurityError(`app role "${role}" is not a plain lowercase role name`);
  await database.sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLE_LOCK_KEY]);
    const [me] = await tx.query<{ name: string; quoted: string }>('SELECT current_user AS name, quote_ident(current_user) AS quoted');
    if (me!.name === role) throw new RowSecurityError(`DATABASE_APP_ROLE ${role} is the role DATABASE_URL connects as; it must be a separate role that does not own the tables`);
    await joinAppRole(tx, role, me!.quoted, log);
    const [schema] = await tx.query<{ name: string; usable: boolean }>(
      "SELECT current_schema() AS name, has_schema_privilege($1, current_schema(), 'USAGE') AS usable",
      [role],
    );
    const where = `"${schema!.name.replace(/"/g, '""')}"`;
    // `public` is usable by everyone already, and often not the owner's to grant on.
    if (!schema!.usable) await tx.exec(`GRANT USAGE ON SCHEMA ${where} TO ${role}`);
    await tx.exec(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${where} TO ${role};
      REVOKE INSERT, UPDATE, DELETE ON parley_migrations FROM ${role}`);
  });
  await database.enterAppRole();
  await verifyAppRole(database.app.sql, log);
  log(`requests run as role ${role}, under row security`);
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
     SELECT current_user AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
            (SELECT string_agg(relname, ', ' ORDER BY relname) FROM t WHERE pg_has_role(current_user, relowner, 'USAGE')) AS owns,
            (SELECT string_agg(relname, ', ' ORDER BY relname) FROM t WHERE relname = ANY(string_to_array($1, ',')) AND NOT forced) AS unprotected
       FROM pg_roles r WHERE r.rolname = current_user`,
    [TENANT_TABLES.join(',')],
  );
  return facts!;
}

/** Refuses to serve when requests would not be subject to row security. */
export async function verifyAppRole(sql: SqlRunner, log: (line: string) => void = () => {}): Promise<void> {
  const facts = await appRoleFacts(sql);
  const problem = facts.superuser
    ? 'is a superuser'
    : facts.bypass
      ? 'has BYPASSRLS'
      : facts.owns
        ? `owns (or inherits the owner of) ${facts.owns}`
        : null;
  if (problem) throw new RowSecurityError(`requests run as role ${facts.role}, which ${problem}; row security would not apply. Set DATABASE_APP_ROLE to a role without these rights`);
  if (facts.unprotected) log(`row security is off for ${facts.unprotected}; every user's rows there are visible to every request`);
}
