// A database that takes no writes for a while (§11, §12): a failover that lands the connections
// on a standby before the primary is promoted, or an operator's maintenance window with
// default_transaction_read_only. Reads go on; writes answer 503 database_unavailable, never 500;
// once it takes writes again, so does Parley, by itself. The server runs as its own process on a
// database of its own, which the test switches to read-only and back.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;

async function call(base: string, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe.runIf(url)('a database that takes no writes for a while', () => {
  const name = `parley_read_only_${randomBytes(5).toString('hex')}`;
  const processes = cliProcesses();
  let admin: postgres.Sql;

  beforeAll(async () => {
    admin = postgres(url!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
  });
  afterAll(async () => {
    processes.cleanUp();
    await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
  });

  /** As a failover does: the setting changes and every connection is cut, so the next ones get it. */
  async function readOnly(on: boolean) {
    await admin.unsafe(`ALTER DATABASE ${name} ${on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
  }

  it('answers 503 to writes and serves reads while it is read-only, and takes writes again once it does', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const databaseUrl = new URL(url!);
    databaseUrl.pathname = `/${name}`;
    const server = processes.start(['serve'], { PORT: String(port), DATABASE_URL: databaseUrl.toString(), LOG_LEVEL: 'warn' });
    for (let i = 0; i < 300 && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'read_only', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'before' })).body.id as string;
    expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'hello' })).status).toBe(201);

    await readOnly(true);
    // The first requests after the cut may find a dead connection (503 either way); then the writes meet the read-only database.
    const writes = [
      () => call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'while read-only' }),
      () => call(base, 'POST', '/v1/conversations', token, { title: 'while read-only' }),
      () => call(base, 'POST', '/v1/auth/register', undefined, { username: `read_only_${randomBytes(3).toString('hex')}`, password: 'a long enough password' }),
    ];
    for (const write of [...writes, ...writes]) {
      expect(await write()).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'database_unavailable' } });
    }
    const read = await call(base, 'GET', `/v1/conversations/${conversation}/messages`, token);
    expect(read.status).toBe(200);
    expect((read.body.data as Array<{ content: string }>).map((m) => m.content)).toContain('hello');
    const log = `${server.stdout()}${server.stderr()}`;
    expect(log).not.toMatch(/"unexpected error"/);

    await readOnly(false);
    let turn: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 50 && turn?.status !== 201; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'writable again' });
      expect([201, 503]).toContain(turn.status);
    }
    expect(turn?.status).toBe(201);
    expect(server.child.exitCode).toBeNull();
  });
});
