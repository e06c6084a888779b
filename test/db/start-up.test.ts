// Start-up on PostgreSQL as managed services hand it out: the DATABASE_URL role owns its
// database but is no superuser. Supabase-like: it cannot create roles, and an administrator
// made the app role beforehand. Neon-like: it has CREATEROLE and sets everything up itself.
// Each case gets its own roles and database, made through the superuser TEST_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { cliProcesses, type CliProcess } from '../helpers/cli-process.js';
import { superuserFixture } from '../helpers/superuser.js';
import { freePort } from '../helpers/ports.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;

const cli = cliProcesses();

/** `parley serve` with only these variables (and a fresh DATA_DIR for its JWT secret). */
const serve = (env: Record<string, string>): CliProcess => cli.start(['serve'], env, { prefix: 'parley-managed-', dataDirIsCwd: true });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Serves until a new user can register and read themselves back (through row security), then stops cleanly. */
async function servesUsers(databaseUrl: string, appRole: string): Promise<void> {
  const port = await freePort();
  const server = serve({ DATABASE_URL: databaseUrl, DATABASE_APP_ROLE: appRole, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (let ready = false; !ready; await sleep(200)) {
    if (exited) throw new Error(`parley exited:\n${server.output().stderr}\n${server.output().stdout}`);
    ready = await fetch(`${base}/health`).then((r) => r.ok, () => false);
  }
  const registered = await fetch(`${base}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'managed_user', password: 'a long enough password' }),
  });
  expect(registered.status).toBe(201);
  const { access_token: token } = (await registered.json()) as { access_token: string };
  expect((await fetch(`${base}/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  expect(server.output().stdout).toContain(`requests run as role ${appRole}, under row security`);
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

/** Exits non-zero with exactly one line on stderr, which it returns. */
async function refusesWithOneLine(databaseUrl: string, appRole: string): Promise<string> {
  const server = serve({ DATABASE_URL: databaseUrl, DATABASE_APP_ROLE: appRole, PORT: String(await freePort()) });
  expect(await server.exited).toBe(1);
  const { stderr } = server.output();
  expect(stderr, stderr).toMatch(/^parley: [^\n]+\n$/);
  return stderr.trim();
}

describe.runIf(SUPERUSER_URL)('start-up on a managed PostgreSQL', () => {
  const superuser = superuserFixture(SUPERUSER_URL!, cli);
  const admin = superuser.admin;

  /** A login role that owns a fresh database, and the name its app role is to have. */
  async function managed(attributes: 'CREATEROLE' | 'NOCREATEROLE') {
    const id = randomBytes(4).toString('hex');
    const names = { owner: `parley_owner_${id}`, appRole: `parley_app_${id}`, database: `parley_db_${id}` };
    // Dropped in this order: the database (with the app role's grants in it), then the roles.
    superuser.undoLater(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`, `DROP ROLE IF EXISTS ${names.appRole}`, `DROP ROLE IF EXISTS ${names.owner}`);
    await admin().unsafe(`CREATE ROLE ${names.owner} LOGIN NOSUPERUSER NOBYPASSRLS ${attributes}`);
    await admin().unsafe(`CREATE DATABASE ${names.database} OWNER ${names.owner}`);
    const url = new URL(SUPERUSER_URL!);
    url.username = names.owner;
    url.password = '';
    url.pathname = `/${names.database}`;
    return { ...names, url: url.toString() };
  }

  it('Supabase-like, the app role not granted to the owner: one line saying what to run; once granted, it serves', { timeout: 60_000 }, async () => {
    const m = await managed('NOCREATEROLE');
    await admin().unsafe(`CREATE ROLE ${m.appRole} NOLOGIN`);

    const line = await refusesWithOneLine(m.url, m.appRole);
    expect(line).toContain(`GRANT ${m.appRole} TO ${m.owner};`);
    expect(line).toContain('DATABASE_APP_ROLE');
    expect(line).not.toMatch(/must have admin option/);

    await admin().unsafe(`GRANT ${m.appRole} TO ${m.owner}`);
    await servesUsers(m.url, m.appRole);
  });

  it('Supabase-like, no app role at all: one line with the role to create and grant', { timeout: 60_000 }, async () => {
    const m = await managed('NOCREATEROLE');
    const line = await refusesWithOneLine(m.url, m.appRole);
    expect(line).toContain(`CREATE ROLE ${m.appRole} NOLOGIN; GRANT ${m.appRole} TO ${m.owner};`);
    expect(line).toContain('DATABASE_APP_ROLE');
  });

  it('Neon-like, the owner has CREATEROLE: it creates the app role itself and serves', { timeout: 60_000 }, async () => {
    const m = await managed('CREATEROLE');
    await servesUsers(m.url, m.appRole);
    const [role] = await admin()<{ rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }[]>`
      SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = ${m.appRole}`;
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcanlogin: false });
  });

  // postgres.js waits longer after each failed connect (up to 20 s): a database that came up
  // late sat unused for many seconds although DATABASE_WAIT had not run out.
  it('keeps trying while the database refuses, not ever more rarely, and uses it within 2 s of it coming up', { timeout: 60_000 }, async () => {
    const m = await managed('CREATEROLE');
    const target = new URL(SUPERUSER_URL!);
    const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    try {
      proxy.refuse(true);
      const server = serve({ DATABASE_URL: proxy.url(m.url), DATABASE_APP_ROLE: m.appRole, DATABASE_WAIT: '30s', PORT: String(await freePort()) });
      await sleep(3_000);
      const before = proxy.attempts();
      await sleep(5_000);
      expect(proxy.attempts() - before).toBeGreaterThanOrEqual(7);
      proxy.refuse(false);
      const upAt = Date.now();
      while (proxy.connections() === 0 && Date.now() - upAt < 20_000) await sleep(20);
      expect(Date.now() - upAt).toBeLessThanOrEqual(2_000);
      server.child.kill('SIGTERM');
      await server.exited;
    } finally {
      await proxy.close();
    }
  });
});
