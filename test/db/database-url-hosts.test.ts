// DATABASE_URL written the ways libpq (psql, pg_dump) takes them, for a PostgreSQL on the same
// small VPS or one reached over IPv6:
// - an IPv6 address, `postgres://parley:…@[2001:db8::5]:5432/parley` (or `[::1]`): the user saw
//   `cannot reach DATABASE_URL ([::1]:5432/parley) after 6 attempts over 10s: ENOTFOUND`, the driver
//   having looked up the name "[" (the address cut at its first colon);
// - a Unix socket folder, as the host percent-encoded (`postgresql://parley@%2Fvar%2Frun%2Fpostgresql/parley`,
//   libpq's documented form): ENOTFOUND, the folder looked up as a host name;
// - or as `?host=/var/run/postgresql`: 42704, the server refusing `host` as an unknown setting.
// psql connects with each of them; Parley refused to start with every one. The server here is
// TEST_DATABASE_URL's, reached through a forwarder on ::1 and one on a socket in a folder of the test's.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;

/** A listener that hands every connection to the test's PostgreSQL, byte for byte. */
async function forwarder(listen: (server: Server) => void): Promise<Server> {
  const target = new URL(url!);
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', resolve);
    listen(server);
  });
  return server;
}

describe.runIf(url)('DATABASE_URL with an IPv6 address or a Unix socket folder', () => {
  const name = `parley_url_hosts_${randomBytes(5).toString('hex')}`;
  const processes = cliProcesses();
  const socketFolder = mkdtempSync(join(tmpdir(), 'parley-socket-'));
  /** The number the socket's file is named by, as PostgreSQL names its own: `.s.PGSQL.<port>`. */
  const socketPort = 6543;
  const servers: Server[] = [];
  let admin: postgres.Sql;
  let ipv6Port = 0;

  beforeAll(async () => {
    admin = postgres(url!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const onIpv6 = await forwarder((server) => server.listen(0, '::1'));
    ipv6Port = (onIpv6.address() as AddressInfo).port;
    servers.push(onIpv6, await forwarder((server) => server.listen(join(socketFolder, `.s.PGSQL.${socketPort}`))));
  });
  afterAll(async () => {
    processes.cleanUp();
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    rmSync(socketFolder, { recursive: true, force: true });
    await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
  });

  /** user:password@ of TEST_DATABASE_URL, as written there. */
  const credentials = () => {
    const parsed = new URL(url!);
    return `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@`;
  };
  const migrate = (databaseUrl: string) => processes.run(['migrate'], { DATABASE_URL: databaseUrl, DATABASE_WAIT: '3s', DATABASE_APP_ROLE: `${name}_app` }, { deadlineMs: 120_000 });

  it('migrates through an IPv6 address in brackets', { timeout: 150_000 }, async () => {
    const result = await migrate(`postgres://${credentials()}[::1]:${ipv6Port}/${name}`);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/applied \d+ migration\(s\)|database schema is current/);
    expect(result.code).toBe(0);
  });

  it("migrates through a socket folder given as the URL's host, percent-encoded", { timeout: 150_000 }, async () => {
    const result = await migrate(`postgresql://${credentials()}${encodeURIComponent(socketFolder)}:${socketPort}/${name}`);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/applied \d+ migration\(s\)|database schema is current/);
    expect(result.code).toBe(0);
  });

  it('migrates through a socket folder given as ?host= and ?port=', { timeout: 150_000 }, async () => {
    const result = await migrate(`postgres://${credentials()}localhost/${name}?host=${encodeURIComponent(socketFolder)}&port=${socketPort}`);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/applied \d+ migration\(s\)|database schema is current/);
    expect(result.code).toBe(0);
  });

  it("doctor's database line names the socket folder, not its percent-encoding", { timeout: 150_000 }, async () => {
    const databaseUrl = `postgresql://${credentials()}${encodeURIComponent(socketFolder)}:${socketPort}/${name}`;
    const result = await processes.run(['doctor', '--json'], { DATABASE_URL: databaseUrl, DATABASE_APP_ROLE: `${name}_app` }, { deadlineMs: 120_000 });
    const checks = (JSON.parse(result.stdout) as { checks: { name: string; status: string; detail: string }[] }).checks;
    const database = checks.find((check) => check.name === 'database')!;
    expect(database.status).toBe('ok');
    expect(database.detail).toContain(`${socketFolder}:${socketPort}/${name}`);
  });
});
