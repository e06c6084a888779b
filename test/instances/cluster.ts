// Several `parley serve` processes on one PostgreSQL database (a schema of their own) sharing one
// Redis, as behind a load balancer (docs/deploy.md, "Several instances behind a load balancer").
// Each instance may reach Redis through a TCP proxy of its own, for the test to cut or silence.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { cliProcesses, serveUntilHealthy, type CliProcess } from '../helpers/cli-process.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

export const pgUrl = process.env.TEST_DATABASE_URL;
export const redisUrl = process.env.TEST_REDIS_URL;

export interface Instance {
  base: string;
  server: CliProcess;
  /** Between this instance and Redis, when it was started with one. */
  redisProxy: TcpProxy | null;
  /** Between this instance and PostgreSQL, when it was started with one. */
  databaseProxy: TcpProxy | null;
}

/** Limits high enough that a test's own sign-ups and sign-ins never trip them (all come from 127.0.0.1). */
const RELAXED = {
  RATE_LIMIT_LOGIN_ACCOUNT: '1000/1m',
  RATE_LIMIT_LOGIN_IP: '100000/1m',
  RATE_LIMIT_REGISTER_IP: '100000/1m',
  RATE_LIMIT_REFRESH_SESSION: '100000/1m',
  RATE_LIMIT_MESSAGES_USER: '100000/1m',
  RATE_LIMIT_PUBLIC_IP: '100000/1m',
};

export function cluster() {
  const processes = cliProcesses();
  const id = randomBytes(5).toString('hex');
  const schema = `inst_${id}`;
  const role = `parley_inst_${id}`;
  const jwtSecret = randomBytes(48).toString('base64url');
  const proxies: TcpProxy[] = [];
  let admin: postgres.Sql | null = null;

  function databaseUrl(): string {
    const url = new URL(pgUrl!);
    url.searchParams.set('search_path', schema);
    return url.toString();
  }

  /** What an instance is started with to reach this cluster's database (for a command run beside it). */
  const databaseEnv = (): Record<string, string> => ({ DATABASE_URL: databaseUrl(), DATABASE_APP_ROLE: role, JWT_SECRET: jwtSecret });

  async function sql(text: string, params: unknown[] = []): Promise<Record<string, any>[]> {
    admin ??= postgres(pgUrl!, { max: 1, onnotice: () => {} });
    const rows = await admin.begin(async (tx) => {
      await tx.unsafe(`SET LOCAL search_path TO ${schema}`);
      return tx.unsafe(text, params as never[]);
    });
    return rows as unknown as Record<string, any>[];
  }

  /**
   * One more instance. `redis`: 'direct' (REDIS_URL as given), 'proxied' (through a proxy the test
   * holds), or 'none'. `database: 'proxied'` puts a proxy the test holds before PostgreSQL too.
   * The first start creates the schema; starts are one at a time (migrations).
   */
  async function start(env: Record<string, string> = {}, options: { redis?: 'direct' | 'proxied' | 'none'; database?: 'direct' | 'proxied' } = {}): Promise<Instance> {
    if (!admin) {
      admin = postgres(pgUrl!, { max: 1, onnotice: () => {} });
      await admin.unsafe(`CREATE SCHEMA ${schema}`);
    }
    const mode = options.redis ?? 'direct';
    let redisProxy: TcpProxy | null = null;
    let redis: Record<string, string> = {};
    if (mode !== 'none') {
      if (!redisUrl) throw new Error('TEST_REDIS_URL is not set');
      if (mode === 'proxied') {
        const target = new URL(redisUrl);
        redisProxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
        proxies.push(redisProxy);
        redis = { REDIS_URL: redisProxy.url(redisUrl) };
      } else redis = { REDIS_URL: redisUrl };
    }
    let databaseProxy: TcpProxy | null = null;
    if (options.database === 'proxied') {
      const target = new URL(pgUrl!);
      databaseProxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
      proxies.push(databaseProxy);
    }
    const { base, server } = await serveUntilHealthy(processes, {
      ...databaseEnv(),
      ...(databaseProxy ? { DATABASE_URL: databaseProxy.url(databaseUrl()) } : {}),
      ...RELAXED,
      ...redis,
      ...env,
    });
    if (server.child.exitCode !== null) throw new Error(`parley serve exited ${server.child.exitCode}: ${server.stderr()}${server.stdout()}`);
    return { base, server, redisProxy, databaseProxy };
  }

  async function cleanUp(): Promise<void> {
    processes.killAll();
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    // The killed processes' connections go away with them; wait for them before dropping.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (admin) {
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.unsafe(`DROP OWNED BY ${role}`).catch(() => {});
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
      await admin.end();
    }
    processes.cleanUp();
  }

  return { start, sql, cleanUp, processes, databaseEnv };
}

/** A JSON call to an instance. */
export async function call(base: string, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: response.status, body, text, headers: response.headers };
}

export interface Account {
  id: string;
  username: string;
  password: string;
  token: string;
}

export async function register(base: string): Promise<Account> {
  const username = `u_${randomBytes(5).toString('hex')}`;
  const password = `pw ${randomBytes(8).toString('hex')}`;
  const answer = await call(base, 'POST', '/v1/auth/register', { body: { username, password } });
  if (answer.status !== 201) throw new Error(`register failed: ${answer.status} ${answer.text}`);
  return { id: answer.body.user.id, username, password, token: answer.body.access_token };
}

export async function conversation(base: string, account: Account, body: object = {}): Promise<string> {
  const answer = await call(base, 'POST', '/v1/conversations', { token: account.token, body });
  if (answer.status !== 201) throw new Error(`conversation failed: ${answer.status} ${answer.text}`);
  return answer.body.id as string;
}

/**
 * A streamed message whose events are read as they come: `events` grows, `ended` settles with
 * the status once the stream ends (or the connection is cut: `cut` is then true).
 */
export function streamMessage(base: string, account: Account, conversationId: string, content: string) {
  const events: Array<{ event: string; data: any }> = [];
  const controller = new AbortController();
  const ended = (async () => {
    let status = 0;
    try {
      const response = await fetch(`${base}/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ content, stream: true }),
        signal: controller.signal,
      });
      status = response.status;
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const lines = block.split('\n').filter((line) => line && !line.startsWith(':'));
          if (lines.length === 0) continue;
          const event = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message';
          const data = lines.filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
          events.push({ event, data: data ? JSON.parse(data) : null });
        }
      }
      return { status, cut: false };
    } catch {
      return { status, cut: true };
    }
  })();
  return { events, ended, abort: () => controller.abort() };
}

export async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
