// docs/deploy.md, "Supabase" and "Neon", on the local server with each service's roles as the
// service hands them out. Supabase: its `postgres` role is no superuser but has CREATEROLE (and
// CREATEDB, BYPASSRLS); the guide's SQL runs as such a role, then Parley serves as the role that
// SQL made, in its own schema, with DATABASE_PREPARE=false as behind a transaction pooler (no
// pooler is installed here: see the guide on which ones keep the `role` parameter), and accepts
// a Supabase token. Neon: the owner has CREATEROLE, and Parley makes its app role itself. The
// services' hosts and TLS settings are replaced by the local server's (which has no TLS).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { envOf, guideBlock, killAll, psqlOk, readGuide, removeTempDirs, replaceAll, runShell, shellOk, stopServer } from './guide.js';
import { cluster, envLines, install, localDatabaseUrl } from './install.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;

afterEach(killAll);
afterAll(removeTempDirs);

/** An env fragment with its DATABASE_URL pointed at the local server as `user`, and its app role renamed. */
function localFragment(name: string, user: string, database: string, appRole: string): Record<string, string> {
  const env = envOf(name);
  return { ...env, DATABASE_URL: localDatabaseUrl(SUPERUSER_URL!, user, database), DATABASE_APP_ROLE: appRole };
}

/** The superuser, in another database. */
function inDatabase(database: string): string {
  const url = new URL(SUPERUSER_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}

describe.runIf(SUPERUSER_URL)('docs/deploy.md: managed PostgreSQL', () => {
  const server = cluster(SUPERUSER_URL!);
  afterAll(() => server.cleanup());

  describe('Supabase', () => {
    const id = server.id();
    const names = { admin: `supabase_postgres_${id}`, database: `supabase_${id}`, owner: `parley_${id}`, appRole: `parley_app_${id}` };

    beforeAll(async () => {
      await server.run(
        `CREATE ROLE ${names.admin} LOGIN NOSUPERUSER CREATEROLE CREATEDB BYPASSRLS; CREATE DATABASE ${names.database} OWNER ${names.admin};`,
        `DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`,
        `DROP ROLE IF EXISTS ${names.appRole}`,
        `DROP ROLE IF EXISTS ${names.owner}`,
        `DROP ROLE IF EXISTS ${names.admin}`,
      );
    });

    it("the role SQL runs as Supabase's non-superuser postgres role; Parley serves in its own schema, unprepared, and takes Supabase tokens", { timeout: 120_000 }, async () => {
      const roles = replaceAll(guideBlock('supabase-roles'), [
        [/\bparley_app\b/, names.appRole],
        [/\bparley\b/, names.owner],
      ]);
      const [admin] = (await psqlOk(SUPERUSER_URL!, `SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = '${names.admin}'`)).trim().split('\n');
      expect(admin).toBe('f|t');
      await psqlOk(localDatabaseUrl(SUPERUSER_URL!, names.admin, names.database), roles);

      const parley = await install({ databaseUrl: localDatabaseUrl(SUPERUSER_URL!, names.owner, names.database), appRole: names.appRole });
      parley.append(envLines(localFragment('supabase-direct', names.owner, names.database, names.appRole)));
      parley.append(envLines(localFragment('supabase-transaction-pooler', names.owner, names.database, names.appRole)));
      parley.append(guideBlock('supabase-jwt'));
      expect(parley.env().DATABASE_PREPARE).toBe('false');

      const serving = await parley.serve();
      // Twice: with DATABASE_PREPARE=false every statement is sent unnamed, the second time too.
      for (let i = 0; i < 2; i++) expect((await shellOk(parley.local('smoke'))).trim()).toBe('Hello from Parley.');

      const me = await shellOk(parley.local('supabase-token'));
      expect(JSON.parse(me)).toMatchObject({ id: expect.any(String), issuer: 'supabase' });
      expect(me).toContain('"issuer":"supabase"');
      expect(readGuide()).toContain('It answers the new user, with `"issuer":"supabase"`.');

      const tables = await psqlOk(inDatabase(names.database), `SELECT schemaname, count(*) FROM pg_tables WHERE tableowner = '${names.owner}' GROUP BY 1`);
      expect(tables.trim()).toMatch(new RegExp(`^${names.owner}\\|\\d+$`));
      expect(await stopServer(serving)).toBe(0);
      expect(serving.stdout()).toContain(`requests run as role ${names.appRole}, under row security`);
    });
  });

  describe('Neon', () => {
    const id = server.id();
    const names = { owner: `neondb_owner_${id}`, database: `neondb_${id}`, appRole: `parley_app_${id}` };

    beforeAll(async () => {
      await server.run(
        `CREATE ROLE ${names.owner} LOGIN NOSUPERUSER CREATEROLE; CREATE DATABASE ${names.database} OWNER ${names.owner};`,
        `DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`,
        `DROP ROLE IF EXISTS ${names.appRole}`,
        `DROP ROLE IF EXISTS ${names.owner}`,
      );
    });

    it('the owner with CREATEROLE: Parley creates its app role itself, with no right to bypass row security', { timeout: 120_000 }, async () => {
      const parley = await install({ databaseUrl: localDatabaseUrl(SUPERUSER_URL!, names.owner, names.database), appRole: names.appRole });
      parley.append(envLines(localFragment('neon-direct', names.owner, names.database, names.appRole)));
      const serving = await parley.serve();
      expect((await shellOk(parley.local('smoke'))).trim()).toBe('Hello from Parley.');
      expect(await stopServer(serving)).toBe(0);
      const role = await psqlOk(SUPERUSER_URL!, `SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = '${names.appRole}'`);
      expect(role.trim()).toBe('f|f|f');
    });

    it('keeping channel_binding=require in the URL: Parley cannot connect and says 42704', { timeout: 60_000 }, async () => {
      const parley = await install({ databaseUrl: `${localDatabaseUrl(SUPERUSER_URL!, names.owner, names.database)}?channel_binding=require`, appRole: names.appRole });
      parley.append('DATABASE_WAIT=2s');
      const result = await runShell(parley.local('serve'));
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(/^parley: cannot reach DATABASE_URL \(.+\) after \d+ attempts over 2s: 42704$/);
      expect(readGuide()).toMatch(/after N attempts over\s+10s: 42704/);
    });
  });
});
