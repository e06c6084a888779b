// DATABASE_APP_URL: requests log in as a role of their own instead of switching to
// DATABASE_APP_ROLE on the owner's connections (the `role` startup parameter, which a
// transaction-mode pooler refuses or drops). `parley serve` runs as a user starts it, with
// DATABASE_URL as a non-superuser owner without CREATEROLE and DATABASE_APP_URL as a LOGIN role
// (trusted on 127.0.0.1, so no password), each case in a database of its own. The request pool
// reaches PostgreSQL through a pass-through TCP relay that records each connection's startup
// parameters, which shows what a pooler would be handed; test/db/pgbouncer.test.ts runs a real one.
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { cliProcesses, type CliProcess } from '../helpers/cli-process.js';
import { superuserFixture } from '../helpers/superuser.js';
import { freePort } from '../helpers/ports.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;

const cli = cliProcesses();

/** `parley serve` with only these variables (and a fresh DATA_DIR for its JWT secret). */
const serve = (env: Record<string, string>): CliProcess => cli.start(['serve'], env, { prefix: 'parley-app-url-', dataDirIsCwd: true });

type Started = CliProcess;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForHealth(base: string, server: Started): Promise<void> {
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (let ready = false; !ready; await sleep(200)) {
    if (exited) throw new Error(`parley exited:\n${server.output().stderr}\n${server.output().stdout}`);
    ready = await fetch(`${base}/health`).then((r) => r.ok, () => false);
  }
}

/** Exits 1 with exactly one line on stderr, which it returns. */
async function refusesWithOneLine(env: Record<string, string>): Promise<string> {
  const server = serve({ PORT: String(await freePort()), ...env });
  expect(await server.exited).toBe(1);
  const { stderr } = server.output();
  expect(stderr, stderr).toMatch(/^parley: [^\n]+\n$/);
  return stderr.trim();
}

interface Relayed {
  /** The startup message's parameters (user, database, …). */
  params: Record<string, string>;
  /** The relay's own port towards PostgreSQL: pg_stat_activity's client_port for this connection. */
  serverSidePort: number | undefined;
  /** The client sent a statement naming a request's user (the row-security gate or scope). */
  carriedRequests: boolean;
}

/** A pass-through TCP relay to PostgreSQL that notes what each connection's client sent. */
async function startRelay(target: URL) {
  const seen: Relayed[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const record: Relayed = { params: {}, serverSidePort: undefined, carriedRequests: false };
    seen.push(record);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) }, () => (record.serverSidePort = upstream.localPort));
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {}).on('close', () => (sockets.delete(socket), client.destroy(), upstream.destroy()));
    }
    let head: Buffer | null = Buffer.alloc(0);
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      if (head) {
        // The first message: length, protocol version, then name\0value\0 pairs and a final \0.
        head = Buffer.concat([head, chunk]);
        if (head.length >= 8 && head.length >= head.readInt32BE(0)) {
          const fields = head.subarray(8, head.readInt32BE(0) - 1).toString('utf8').split('\0');
          for (let i = 0; i + 1 < fields.length; i += 2) record.params[fields[i]!] = fields[i + 1]!;
          head = null;
        }
      }
      const text = tail + chunk.toString('latin1');
      if (text.includes("set_config('app.user_id'")) record.carriedRequests = true;
      tail = text.slice(-32);
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    seen,
    url(databaseUrl: string) {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function post(base: string, path: string, body: unknown, token?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe.runIf(SUPERUSER_URL)('DATABASE_APP_URL: requests log in as a role of their own', () => {
  const superuser = superuserFixture(SUPERUSER_URL!, cli);
  const admin = superuser.admin;

  const urlFor = (user: string, database: string) => {
    const url = new URL(SUPERUSER_URL!);
    url.username = user;
    url.password = '';
    url.pathname = `/${database}`;
    return url.toString();
  };

  /** An owner (no superuser, no CREATEROLE) with a fresh database, and a LOGIN role made by an administrator. */
  async function deployment(loginAttributes = '') {
    const id = randomBytes(4).toString('hex');
    const names = { owner: `parley_owner_${id}`, login: `parley_req_${id}`, database: `parley_db_${id}` };
    superuser.undoLater(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`, `DROP ROLE IF EXISTS ${names.login}`, `DROP ROLE IF EXISTS ${names.owner}`);
    await admin().unsafe(`CREATE ROLE ${names.owner} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE`);
    await superuser.createOwnedDatabase(names.database, names.owner);
    await admin().unsafe(`CREATE ROLE ${names.login} LOGIN NOSUPERUSER ${loginAttributes}`);
    return { ...names, ownerUrl: urlFor(names.owner, names.database), loginUrl: urlFor(names.login, names.database) };
  }

  it('serves a turn with requests logged in as the LOGIN role, no role parameter sent, and keeps users apart', { timeout: 90_000 }, async () => {
    const d = await deployment();
    const relay = await startRelay(new URL(SUPERUSER_URL!));
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      // As behind a transaction pooler: no named prepared statements on either pool.
      const server = serve({ DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: relay.url(d.loginUrl), DATABASE_PREPARE: 'false', PORT: String(port) });
      await waitForHealth(base, server);

      const alice = await post(base, '/v1/auth/register', { username: 'alice', password: 'a long enough password' });
      expect(alice.status, JSON.stringify(alice.body)).toBe(201);
      const bot = await post(base, '/v1/chatbots', { name: 'Front desk', greeting: 'Hello from Parley.' }, alice.body.access_token);
      expect(bot.status, JSON.stringify(bot.body)).toBe(201);
      const conversation = await post(base, '/v1/conversations', { chatbot_id: bot.body.id }, alice.body.access_token);
      expect(conversation.status).toBe(201);
      const turn = await post(base, `/v1/conversations/${conversation.body.id}/messages`, { content: 'hello' }, alice.body.access_token);
      expect(turn.status, JSON.stringify(turn.body)).toBe(201);
      expect(turn.body.reply.content).toBe('Hello from Parley.');

      const bob = await post(base, '/v1/auth/register', { username: 'bob', password: 'another long password' });
      const peek = await fetch(`${base}/v1/conversations/${conversation.body.id}`, { headers: { authorization: `Bearer ${bob.body.access_token}` } });
      expect(peek.status).toBe(404);
      const own = await fetch(`${base}/v1/conversations/${conversation.body.id}`, { headers: { authorization: `Bearer ${alice.body.access_token}` } });
      expect(own.status).toBe(200);

      // Every request connection logged in as the LOGIN role, with no `role` parameter for a pooler to refuse.
      expect(relay.seen.length).toBeGreaterThan(0);
      for (const connection of relay.seen) {
        expect(connection.params.user).toBe(d.login);
        expect(Object.keys(connection.params)).not.toContain('role');
      }
      expect(relay.seen.some((connection) => connection.carriedRequests)).toBe(true);
      // PostgreSQL's view of those connections: the session is the LOGIN role, not the owner.
      const ports = relay.seen.filter((connection) => connection.carriedRequests).map((connection) => connection.serverSidePort!);
      const sessions = await admin()<{ usename: string }[]>`
        SELECT usename FROM pg_stat_activity WHERE datname = ${d.database} AND client_port = ANY(${ports}::int[])`;
      expect(sessions.length).toBeGreaterThan(0);
      expect(new Set(sessions.map((s) => s.usename))).toEqual(new Set([d.login]));

      expect(server.output().stdout).toContain(`requests run as role ${d.login} (DATABASE_APP_URL), under row security`);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      await relay.close();
    }
    // Parley made no role and no membership: the owner cannot switch to the request role.
    const [owner] = await admin()<{ member: boolean }[]>`SELECT pg_has_role(${d.owner}, ${d.login}, 'MEMBER') AS member`;
    expect(owner!.member).toBe(false);
  });

  it('refuses to start when the LOGIN role has BYPASSRLS, naming the statement that fixes it', { timeout: 60_000 }, async () => {
    const d = await deployment('BYPASSRLS');
    const line = await refusesWithOneLine({ DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: d.loginUrl });
    expect(line).toContain(`requests run as role ${d.login}, which has BYPASSRLS; row security would not apply`);
    expect(line).toContain(`ALTER ROLE ${d.login} NOBYPASSRLS`);
    expect(line).toContain('DATABASE_APP_URL');
  });

  it('refuses to start when the LOGIN role inherits the owner of the tables', { timeout: 60_000 }, async () => {
    const d = await deployment();
    await admin().unsafe(`GRANT ${d.owner} TO ${d.login}`);
    const line = await refusesWithOneLine({ DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: d.loginUrl });
    expect(line).toMatch(new RegExp(`^parley: requests run as role ${d.login}, which owns \\(or inherits the owner of\\) .*users.*; row security would not apply\\. Set DATABASE_APP_URL to a login role`));
  });

  it('refuses DATABASE_APP_URL as the owner itself, a role that does not exist, and a different DATABASE_APP_ROLE', { timeout: 60_000 }, async () => {
    const d = await deployment();
    expect(await refusesWithOneLine({ DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: d.ownerUrl })).toContain(
      `DATABASE_APP_URL logs in as ${d.owner}, the role DATABASE_URL connects as, which owns the tables`,
    );
    const missing = `parley_nobody_${randomBytes(4).toString('hex')}`;
    expect(await refusesWithOneLine({ DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: urlFor(missing, d.database) })).toContain(
      `role ${missing} (DATABASE_APP_URL's user) does not exist. As an administrator run: CREATE ROLE ${missing} LOGIN PASSWORD`,
    );
    expect(await refusesWithOneLine({ DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: d.loginUrl, DATABASE_APP_ROLE: 'parley_app' })).toBe(
      `parley: configuration error: DATABASE_APP_ROLE (parley_app) is not DATABASE_APP_URL's user (${d.login}): remove DATABASE_APP_ROLE, or make them the same role`,
    );
  });

  it('a LOGIN role whose search path misses the tables: one line with the ALTER ROLE to run; once run, it serves', { timeout: 90_000 }, async () => {
    const d = await deployment();
    await admin().unsafe(`ALTER ROLE ${d.owner} SET search_path = parley`);
    const owner = postgres(d.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      await owner.unsafe('CREATE SCHEMA parley');
    } finally {
      await owner.end();
    }
    const env = { DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: d.loginUrl };
    expect(await refusesWithOneLine(env)).toBe(
      `parley: requests as ${d.login} see schema public, but Parley's tables are in schema parley: as an administrator run ALTER ROLE ${d.login} SET search_path = parley`,
    );
    await admin().unsafe(`ALTER ROLE ${d.login} SET search_path = parley`);
    const port = await freePort();
    const server = serve({ ...env, PORT: String(port) });
    await waitForHealth(`http://127.0.0.1:${port}`, server);
    const alice = await post(`http://127.0.0.1:${port}`, '/v1/auth/register', { username: 'alice', password: 'a long enough password' });
    expect(alice.status).toBe(201);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
