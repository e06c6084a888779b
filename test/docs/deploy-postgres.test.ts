// docs/deploy.md, "Self-hosted PostgreSQL", run as written on the local server: the roles and
// database (under unique names, dropped afterwards), the environment file, `parley migrate`,
// `parley serve` as the non-superuser owner with requests as the app role, /ready, a real turn,
// /metrics with its token, and the row-security check, plus the bypasses the guide says fail.
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/migrate.js';
import { killAll, psqlOk, readGuide, removeTempDirs, replaceAll, shellOk, stopServer, guideBlock } from './guide.js';
import { cluster, install, localDatabaseUrl } from './install.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;

afterEach(killAll);
afterAll(removeTempDirs);

/** A statement's SQLSTATE, or null when it succeeded. */
async function refusal(run: () => Promise<unknown>): Promise<string | null> {
  try {
    await run();
    return null;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe.runIf(SUPERUSER_URL)('docs/deploy.md: self-hosted PostgreSQL', () => {
  const server = cluster(SUPERUSER_URL!);
  const id = server.id();
  const names = { owner: `parley_${id}`, appRole: `parley_app_${id}` };
  const databaseUrl = SUPERUSER_URL ? localDatabaseUrl(SUPERUSER_URL, names.owner, names.owner) : '';

  beforeAll(async () => {
    const roles = replaceAll(guideBlock('self-hosted-roles'), [
      [/\bparley_app\b/, names.appRole],
      [/\bparley\b/, names.owner],
    ]);
    await server.run(roles, `DROP DATABASE IF EXISTS ${names.owner} WITH (FORCE)`, `DROP ROLE IF EXISTS ${names.appRole}`, `DROP ROLE IF EXISTS ${names.owner}`);
  });
  afterAll(() => server.cleanup());

  it('migrates, serves as the owner with requests as the app role, answers /ready, a turn and /metrics', { timeout: 120_000 }, async () => {
    const [owner] = (await psqlOk(SUPERUSER_URL!, `SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = '${names.owner}'`)).trim().split('\n');
    expect(owner).toBe('f|f|f');

    const parley = await install({ databaseUrl, appRole: names.appRole });
    const env = parley.env();
    expect(env.NODE_ENV).toBe('production');
    expect(Buffer.byteLength(env.JWT_SECRET!)).toBeGreaterThanOrEqual(32);
    expect(env.METRICS_TOKEN).toMatch(/^[0-9a-f]{64}$/);

    const migrated = await shellOk(parley.local('migrate'));
    expect(migrated).toContain(`applied ${loadMigrations().length} migration(s)`);
    expect(readGuide()).toContain(`then \`applied ${loadMigrations().length} migration(s)\``);

    const serving = await parley.serve();
    expect(JSON.parse(await shellOk(parley.local('ready')))).toEqual({ status: 'ready', database: 'ok', migrations: 'current' });
    expect(readGuide()).toContain('answers `{"status":"ready","database":"ok","migrations":"current"}`');

    expect((await shellOk(parley.local('smoke'))).trim()).toBe('Hello from Parley.');
    expect(readGuide()).toContain('It prints `Hello from Parley.`');

    expect(await shellOk(parley.local('metrics'))).toMatch(/^parley_http_requests_total\{.*\} \d+$/m);
    expect((await fetch(`${parley.base}/metrics`)).status).toBe(401);

    expect(await stopServer(serving)).toBe(0);
    expect(serving.stdout()).toContain(`requests run as role ${names.appRole}, under row security`);
  });

  // PostgreSQL 14 makes a database's `public` the bootstrap superuser's, and every role may create
  // objects in it: the request role could replace what the owner's functions call.
  it("where every role may create in public, as PostgreSQL 14 leaves a new database: serve refuses, naming the statements, and serves once they ran", { timeout: 120_000 }, async () => {
    const old = { owner: `parley_${id}_old`, appRole: `parley_app_${id}_old` };
    const roles = replaceAll(guideBlock('self-hosted-roles'), [
      [/\bparley_app\b/, old.appRole],
      [/\bparley\b/, old.owner],
    ]);
    const asOld = roles.replace(/^ALTER SCHEMA public OWNER TO .*$\n^REVOKE CREATE ON SCHEMA public FROM PUBLIC;$/m, 'ALTER SCHEMA public OWNER TO CURRENT_USER;\nGRANT CREATE ON SCHEMA public TO PUBLIC;');
    expect(asOld).not.toBe(roles);
    await server.run(asOld, `DROP DATABASE IF EXISTS ${old.owner} WITH (FORCE)`, `DROP ROLE IF EXISTS ${old.appRole}`, `DROP ROLE IF EXISTS ${old.owner}`);
    const parley = await install({ databaseUrl: localDatabaseUrl(SUPERUSER_URL!, old.owner, old.owner), appRole: old.appRole });
    await shellOk(parley.local('migrate'));

    const refused = await parley.serve().then(
      () => null,
      (error: Error) => error.message,
    );
    const fix = `GRANT CREATE ON SCHEMA public TO ${old.owner}; REVOKE CREATE ON SCHEMA public FROM PUBLIC, ${old.appRole};`;
    expect(refused).toContain(`requests run as role ${old.appRole}, which may create objects in schema public`);
    expect(refused).toContain(`As the schema's owner or a superuser run: ${fix}`);

    const superuserThere = new URL(SUPERUSER_URL!);
    superuserThere.pathname = `/${old.owner}`;
    await psqlOk(superuserThere.toString(), fix);
    const serving = await parley.serve();
    expect(JSON.parse(await shellOk(parley.local('ready')))).toEqual({ status: 'ready', database: 'ok', migrations: 'current' });
    expect(await stopServer(serving)).toBe(0);
  });

  it('the row-security check: the app role is no superuser, has no BYPASSRLS, sees no user, and cannot switch the policies off', async () => {
    const check = replaceAll(guideBlock('row-security-check'), [[/\bparley_app\b/, names.appRole]]);
    expect((await psqlOk(databaseUrl, check)).trim().split('\n')).toEqual(['f|f', '0']);

    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`SET ROLE ${names.appRole}`);
      expect(await refusal(() => sql.unsafe('SELECT count(*) FROM users'))).toBeNull();
      expect(await refusal(() => sql.unsafe('ALTER TABLE users NO FORCE ROW LEVEL SECURITY'))).toBe('42501');
      expect(await refusal(() => sql.unsafe('ALTER TABLE users DISABLE ROW LEVEL SECURITY'))).toBe('42501');
      expect(await refusal(() => sql.unsafe('DROP POLICY users_self_read ON users'))).toBe('42501');
      await sql.unsafe('SET row_security = off');
      expect(await refusal(() => sql.unsafe('SELECT count(*) FROM users'))).toBe('42501');
      expect(await refusal(() => sql.unsafe('SELECT count(*) FROM messages'))).toBe('42501');
    } finally {
      await sql.end();
    }
  });
});
