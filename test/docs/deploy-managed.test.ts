// docs/deploy.md, "Supabase" and "Neon", on the local server with each service's roles as the
// service hands them out. Supabase: its `postgres` role is no superuser but has CREATEROLE (and
// CREATEDB, BYPASSRLS); the guide's SQL runs as such a role, then Parley serves as the role that
// SQL made, in its own schema, and accepts a Supabase token; then with parley_app a login role,
// requests log in through a real PgBouncer in transaction mode (standing in for Supavisor on port
// 6543), with DATABASE_PREPARE=false. Neon: the owner has CREATEROLE, and Parley makes its app
// role itself; its pooled endpoint is PgBouncer, as here. The services' hosts and TLS settings are
// replaced by the local server's (which has no TLS).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { envOf, guideBlock, killAll, psqlOk, readGuide, removeTempDirs, replaceAll, runShell, shellOk, stopServer } from './guide.js';
import { describeWithPgBouncer, startPgBouncer } from '../helpers/pgbouncer.js';
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
    /** A project: its non-superuser `postgres` role and database, with the guide's role SQL run as that role. */
    async function supabaseProject() {
      const id = server.id();
      const names = { admin: `supabase_postgres_${id}`, database: `supabase_${id}`, owner: `parley_${id}`, appRole: `parley_app_${id}` };
      await server.run(
        `CREATE ROLE ${names.admin} LOGIN NOSUPERUSER CREATEROLE CREATEDB BYPASSRLS; CREATE DATABASE ${names.database} OWNER ${names.admin};\n\\c ${names.database}\nALTER SCHEMA public OWNER TO ${names.admin};`,
        `DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`,
        `DROP ROLE IF EXISTS ${names.appRole}`,
        `DROP ROLE IF EXISTS ${names.owner}`,
        `DROP ROLE IF EXISTS ${names.admin}`,
      );
      const [admin] = (await psqlOk(SUPERUSER_URL!, `SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = '${names.admin}'`)).trim().split('\n');
      expect(admin).toBe('f|t');
      const asProject = (name: string) => replaceAll(guideBlock(name), [
        [/\bparley_app\b/, names.appRole],
        [/\bparley\b/, names.owner],
      ]);
      await psqlOk(localDatabaseUrl(SUPERUSER_URL!, names.admin, names.database), asProject('supabase-roles'));
      return { ...names, asProject };
    }

    it("the role SQL runs as Supabase's non-superuser postgres role; Parley serves in its own schema and takes Supabase tokens", { timeout: 120_000 }, async () => {
      const names = await supabaseProject();
      const parley = await install({ databaseUrl: localDatabaseUrl(SUPERUSER_URL!, names.owner, names.database), appRole: names.appRole });
      parley.append(envLines(localFragment('supabase-direct', names.owner, names.database, names.appRole)));
      parley.append(guideBlock('supabase-jwt'));

      const serving = await parley.serve();
      expect((await shellOk(parley.local('smoke'))).trim()).toBe('Hello from Parley.');

      const me = await shellOk(parley.local('supabase-token'));
      expect(JSON.parse(me)).toMatchObject({ id: expect.any(String), issuer: 'supabase' });
      expect(me).toContain('"issuer":"supabase"');
      expect(readGuide()).toContain('It answers the new user, with `"issuer":"supabase"`.');

      const tables = await psqlOk(inDatabase(names.database), `SELECT schemaname, count(*) FROM pg_tables WHERE tableowner = '${names.owner}' GROUP BY 1`);
      expect(tables.trim()).toMatch(new RegExp(`^${names.owner}\\|\\d+$`));
      expect(await stopServer(serving)).toBe(0);
      expect(serving.stdout()).toContain(`requests run as role ${names.appRole}, under row security`);
    });

    describeWithPgBouncer('through a transaction pooler (PgBouncer standing in for Supavisor on 6543)', () => {
      it('parley_app made a login role: requests log in as it through the pooler, unprepared, in Parley\'s schema', { timeout: 120_000 }, async () => {
        const names = await supabaseProject();
        await psqlOk(localDatabaseUrl(SUPERUSER_URL!, names.admin, names.database), names.asProject('supabase-app-login'));
        const pooler = await startPgBouncer({ server: SUPERUSER_URL!, database: names.database, users: [names.appRole], poolSize: 2 });
        try {
          const parley = await install({ databaseUrl: localDatabaseUrl(SUPERUSER_URL!, names.owner, names.database), appRole: names.appRole });
          const fragment = localFragment('supabase-transaction-pooler', names.owner, names.database, names.appRole);
          parley.append(envLines({ ...fragment, DATABASE_APP_URL: pooler.url(names.appRole) }));
          expect(parley.env().DATABASE_PREPARE).toBe('false');

          const serving = await parley.serve();
          // Twice: with DATABASE_PREPARE=false every statement is sent unnamed, the second time too.
          for (let i = 0; i < 2; i++) expect((await shellOk(parley.local('smoke'))).trim()).toBe('Hello from Parley.');
          expect(await stopServer(serving)).toBe(0);
          expect(serving.stdout()).toContain(`requests run as role ${names.appRole} (DATABASE_APP_URL), under row security`);
        } finally {
          await pooler.stop();
        }
      });
    });
  });

  describe('Neon', () => {
    const id = server.id();
    const names = { owner: `neondb_owner_${id}`, database: `neondb_${id}`, appRole: `parley_app_${id}` };

    beforeAll(async () => {
      await server.run(
        `CREATE ROLE ${names.owner} LOGIN NOSUPERUSER CREATEROLE; CREATE DATABASE ${names.database} OWNER ${names.owner};\n\\c ${names.database}\nALTER SCHEMA public OWNER TO ${names.owner};`,
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

    describeWithPgBouncer("through the pooled endpoint (PgBouncer, as Neon's is)", () => {
      it('after a first start on the direct endpoint: the owner makes parley_app a login role, and requests go through the pooler', { timeout: 120_000 }, async () => {
        const id = server.id();
        const pooled = { owner: `neondb_owner_${id}`, database: `neondb_${id}`, appRole: `parley_app_${id}` };
        await server.run(
          `CREATE ROLE ${pooled.owner} LOGIN NOSUPERUSER CREATEROLE; CREATE DATABASE ${pooled.database} OWNER ${pooled.owner};\n\\c ${pooled.database}\nALTER SCHEMA public OWNER TO ${pooled.owner};`,
          `DROP DATABASE IF EXISTS ${pooled.database} WITH (FORCE)`,
          `DROP ROLE IF EXISTS ${pooled.appRole}`,
          `DROP ROLE IF EXISTS ${pooled.owner}`,
        );
        const ownerUrl = localDatabaseUrl(SUPERUSER_URL!, pooled.owner, pooled.database);
        const direct = await install({ databaseUrl: ownerUrl, appRole: pooled.appRole });
        direct.append(envLines(localFragment('neon-direct', pooled.owner, pooled.database, pooled.appRole)));
        expect(await stopServer(await direct.serve())).toBe(0);

        await psqlOk(ownerUrl, replaceAll(guideBlock('neon-app-login'), [[/\bparley_app\b/, pooled.appRole]]));
        const pooler = await startPgBouncer({ server: SUPERUSER_URL!, database: pooled.database, users: [pooled.appRole], poolSize: 2 });
        try {
          const parley = await install({ databaseUrl: ownerUrl, appRole: pooled.appRole });
          const fragment = localFragment('neon-pooled', pooled.owner, pooled.database, pooled.appRole);
          parley.append(envLines({ ...fragment, DATABASE_APP_URL: pooler.url(pooled.appRole) }));
          const serving = await parley.serve();
          for (let i = 0; i < 2; i++) expect((await shellOk(parley.local('smoke'))).trim()).toBe('Hello from Parley.');
          expect(await stopServer(serving)).toBe(0);
          expect(serving.stdout()).toContain(`requests run as role ${pooled.appRole} (DATABASE_APP_URL), under row security`);
        } finally {
          await pooler.stop();
        }
      });
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
