// Start-up on PostgreSQL as managed services hand it out: the DATABASE_URL role owns its
// database but is no superuser. Supabase-like: it cannot create roles, and an administrator
// made the app role beforehand. Neon-like: it has CREATEROLE and sets everything up itself.
// Each case gets its own roles and database, made through the superuser TEST_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { cliProcesses, type CliProcess } from '../helpers/cli-process.js';
import { superuserFixture } from '../helpers/superuser.js';
import { freePort } from '../helpers/ports.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;

const cli = cliProcesses();

/** `parley serve` with only these variables (and a fresh DATA_DIR for its JWT secret). */
const serve = (env: Record<string, string>): CliProcess => cli.start(['serve'], env, { prefix: 'parley-managed-', dataDirIsCwd: true });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `parley serve` on this database, once it answers /health. */
async function serveAt(env: Record<string, string>) {
  const port = await freePort();
  const server = serve({ ...env, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (let ready = false; !ready; await sleep(200)) {
    if (exited) throw new Error(`parley exited:\n${server.output().stderr}\n${server.output().stdout}`);
    ready = await fetch(`${base}/health`).then((r) => r.ok, () => false);
  }
  return { ...server, base };
}

async function register(base: string, username: string): Promise<string> {
  const registered = await fetch(`${base}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'a long enough password' }),
  });
  expect(registered.status).toBe(201);
  return ((await registered.json()) as { access_token: string }).access_token;
}

/** Serves until a new user can register and read themselves back (through row security), then stops cleanly. */
async function servesUsers(databaseUrl: string, appRole: string): Promise<void> {
  const server = await serveAt({ DATABASE_URL: databaseUrl, DATABASE_APP_ROLE: appRole });
  const token = await register(server.base, 'managed_user');
  expect((await fetch(`${server.base}/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
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
    await superuser.createOwnedDatabase(names.database, names.owner);
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

  // The owner here is no superuser, so row security applies to it too (FORCE): the start-up pass
  // that stores replies cut short by a killed server must go through it like any request.
  it('Neon-like: a reply cut short by a killed server is stored at the next start, through row security', { timeout: 90_000 }, async () => {
    const m = await managed('CREATEROLE');
    // One secret for both starts (each gets a fresh folder): the token outlives the first.
    const env = { DATABASE_URL: m.url, DATABASE_APP_ROLE: m.appRole, JWT_SECRET: randomBytes(32).toString('hex') };
    const first = await serveAt(env);
    const token = await register(first.base, 'cut_short_user');
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const conversation = (await (await fetch(`${first.base}/v1/conversations`, { method: 'POST', headers: auth, body: '{}' })).json()) as { id: string };
    expect((await fetch(`${first.base}/v1/conversations/${conversation.id}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'Hello' }) })).status).toBe(201);
    first.child.kill('SIGKILL');
    await first.exited;

    // What a killed instance leaves: its user message stored, the conversation held for a reply, the lease run out.
    const url = new URL(SUPERUSER_URL!);
    url.pathname = `/${m.database}`;
    const asSuperuser = postgres(url.toString(), { max: 1, onnotice: () => {} });
    const [message, reply] = [newId(), newId()];
    try {
      const [row] = await asSuperuser<{ user_id: string }[]>`SELECT user_id FROM conversations WHERE id = ${conversation.id}`;
      await asSuperuser`INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
                  VALUES (${message}, ${conversation.id}, ${row!.user_id}, 'user', 'Cut short?', 'complete', 3, now())`;
      await asSuperuser`UPDATE conversations SET message_count = message_count + 1, busy_reply_id = ${reply}, busy_until = now() - interval '1 second' WHERE id = ${conversation.id}`;
    } finally {
      await asSuperuser.end();
    }

    const second = await serveAt(env);
    const listed = (await (await fetch(`${second.base}/v1/conversations/${conversation.id}/messages`, { headers: auth })).json()) as { data: Array<Record<string, unknown>> };
    expect(listed.data.at(-1)).toMatchObject({ id: reply, role: 'assistant', status: 'failed', error: 'server_stopped' });
    expect(second.stdout()).toMatch(/1 conversation\(s\) held by replies cut short/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
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
