// PostgreSQL going silent (§11, §12): a network partition, a frozen host or a dropped route
// sends no reset; connections stay open and nothing comes back. Requests must still answer, 503
// database_unavailable once DATABASE_STALL_TIMEOUT has passed without a byte from the database,
// and the service must recover by itself once the network is back. The server runs as its own
// process (a crash shows as an exit); PGlite has no network to lose.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses, type CliProcess } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;
/** Far longer than the stall timeout the server gets, even on a loaded machine: past it a request hangs. */
const HANG_MS = 20_000;

interface Answer {
  status: number | 'hang';
  code?: string;
  contentType?: string;
  body?: Record<string, unknown>;
}

async function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(HANG_MS),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    return { status: response.status, code: parsed?.code as string | undefined, contentType: response.headers.get('content-type') ?? '', body: parsed };
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') return { status: 'hang' };
    throw error;
  }
}

/** A user with a conversation that has had one turn ('hello'): the pool's connections are open and idle. */
async function chatting(base: string, title: string) {
  const registered = await call(base, 'POST', '/v1/auth/register', undefined, { username: `stall_${randomBytes(4).toString('hex')}`, password: 'a long enough password' });
  const token = registered.body?.access_token as string;
  const conversation = (await call(base, 'POST', '/v1/conversations', token, { title })).body?.id as string;
  expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'hello' })).status).toBe(201);
  return { token, conversation };
}

async function userMessages(base: string, token: string, conversation: string): Promise<string[]> {
  const history = await call(base, 'GET', `/v1/conversations/${conversation}/messages`, token);
  return (history.body?.data as Array<{ role: string; content: string }>).filter((m) => m.role === 'user').map((m) => m.content);
}

function expectAlive(server: CliProcess) {
  expect(server.child.exitCode).toBeNull();
  expect(`${server.stdout()}${server.stderr()}`).not.toMatch(/unhandled rejection/i);
}

const unavailable = { status: 503, code: 'database_unavailable', contentType: expect.stringMatching(/^application\/problem\+json/) };

describe.runIf(url)('PostgreSQL going silent', () => {
  const name = `parley_stalls_${randomBytes(5).toString('hex')}`;
  const processes = cliProcesses();
  let admin: postgres.Sql;
  let proxy: TcpProxy;

  beforeAll(async () => {
    admin = postgres(url!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const target = new URL(url!);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  });
  afterEach(() => proxy.stall(false));
  afterAll(async () => {
    processes.cleanUp();
    await proxy?.close();
    await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
  });

  async function serve(): Promise<{ base: string; server: CliProcess }> {
    const port = await freePort();
    const databaseUrl = new URL(url!);
    databaseUrl.pathname = `/${name}`;
    const server = processes.start(['serve'], {
      PORT: String(port),
      DATABASE_URL: proxy.url(databaseUrl.toString()),
      DATABASE_STALL_TIMEOUT: '2s',
      LOG_LEVEL: 'warn',
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`${base}/health`).catch(() => null))?.ok) return { base, server };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server did not start:\n${server.stdout().slice(-3000)}${server.stderr().slice(-3000)}`);
  }

  it('answers 503 on connections that went silent rather than waiting on them, and serves again once the network is back', { timeout: 120_000 }, async () => {
    const { base, server } = await serve();
    const { token, conversation } = await chatting(base, 'before the partition');

    proxy.stall(true);
    const during = await Promise.all([
      call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'into the silence' }),
      call(base, 'GET', '/v1/conversations', token),
      call(base, 'GET', '/v1/auth/me', token),
      call(base, 'GET', `/v1/conversations/${conversation}/messages`, token),
      call(base, 'GET', '/ready'),
    ]);
    const ready = during.pop();
    expect(during).toEqual(during.map(() => expect.objectContaining(unavailable)));
    // A load balancer's health check is told too, rather than left waiting.
    expect(ready).toMatchObject({ status: 503, body: { status: 'unavailable', database: 'unreachable' } });

    proxy.stall(false);
    // The pool drops what went silent and opens fresh connections: every request is served again,
    // the interrupted turn's conversation included (its statement never reached the database).
    let recovered: Answer | undefined;
    for (let i = 0; i < 50 && recovered?.status !== 200; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      recovered = await call(base, 'GET', '/v1/auth/me', token);
    }
    expect(recovered?.status).toBe(200);
    const turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'after the partition' });
    expect(turn.status).toBe(201);
    expect(await userMessages(base, token, conversation)).toEqual(['hello', 'after the partition']);

    expectAlive(server);
  });

  it("takes back a turn whose start ran but whose answer was lost: the conversation is free again once the network is back, without the message nobody was shown", { timeout: 120_000 }, async () => {
    const { base, server } = await serve();
    const { token, conversation } = await chatting(base, 'answers lost');

    // The start statement reaches the database and commits (the conversation locked, the message
    // stored); its answer never comes back.
    proxy.stall(true, 'answers');
    expect(await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'answer lost' })).toEqual(expect.objectContaining(unavailable));
    proxy.stall(false);

    let turn: Answer | undefined;
    for (let i = 0; i < 100 && turn?.status !== 201; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'after the partition' });
      // Busy only until the lost start is taken back, a moment after the database answers again.
      expect([201, 409, 503]).toContain(turn.status);
    }
    expect(turn?.status).toBe(201);
    expect(await userMessages(base, token, conversation)).toEqual(['hello', 'after the partition']);
    expectAlive(server);
  });
});
