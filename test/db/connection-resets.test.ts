// PostgreSQL connections cut under load (§11, §12), as a pooler restart, a failover or a network
// blip does: the process keeps running, requests during the outage answer 503
// database_unavailable (never a 500, never a hang, never another request's answer), and the
// service recovers by itself. The server runs as its own process, so a crash shows as an exit
// and not as a failed test runner. PGlite runs inside the process and has no connections to cut.
// driver-resets.test.ts checks the driver alone, statement by statement, and fails faster.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;
const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'parley.js');

const LOOPS = 8;
const RESETS = 10;
const RESET_EVERY_MS = 300;
/** Far longer than any answer should take, even on a loaded machine: a request past it hangs. */
const HANG_MS = 15_000;


function serve(env: Record<string, string>, dir: string) {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DATA_DIR: join(dir, 'data'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = `exit code ${code}, signal ${signal}`;
      resolve();
    }),
  );
  return { child, exited, exit: () => exit, output: () => output };
}

type Server = ReturnType<typeof serve>;

/** The server's log lines for rejections nothing handled. */
const strays = (output: string) => output.split('\n').filter((line) => /unhandled rejection/i.test(line));

async function waitForHealth(base: string, server: Server) {
  for (let i = 0; i < 300 && !server.exit(); i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not start (${server.exit()}):\n${server.output().slice(-3000)}`);
}

interface Answer {
  what: string;
  status: number | 'hang' | 'no connection';
  code?: string;
  contentType?: string;
  body?: unknown;
  /** For a success: what in its body is not this request's answer (another user's, another statement's). */
  wrong?: string;
}

/** One HTTP request, bounded in time: a request that never answers is recorded as a hang. */
async function call(base: string, what: string, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
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
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // kept as text for the failure message
    }
    return { what, status: response.status, code: (parsed as { code?: string })?.code, contentType: response.headers.get('content-type') ?? undefined, body: parsed };
  } catch (error) {
    return { what, status: (error as Error).name === 'TimeoutError' ? 'hang' : 'no connection' };
  }
}

const ok = (answer: Answer) => typeof answer.status === 'number' && answer.status >= 200 && answer.status < 300;
const unavailable = (answer: Answer) =>
  answer.status === 503 && answer.code === 'database_unavailable' && (answer.contentType ?? '').startsWith('application/problem+json');

/** A success whose body does not hold what `check` looks for is marked wrong. */
function judged(answer: Answer, check: (body: Record<string, unknown>) => string | undefined): Answer {
  if (!ok(answer)) return answer;
  const body = (answer.body ?? {}) as Record<string, unknown>;
  const wrong = typeof body === 'object' ? check(body) : 'not JSON';
  return wrong ? { ...answer, wrong } : answer;
}

/**
 * A user's session: registers, logs in, lists conversations, starts one and chats in it. Each
 * step moves on only once the one before succeeded, so every answer has one right outcome
 * when the database is up, and each success is checked to be this user's own answer: their
 * token, only their conversations (each titled with the user's loop), their message echoed.
 */
function user(base: string, loop: number) {
  const password = 'a long enough password';
  const title = `resets loop ${loop}`;
  let username = '';
  let token: string | undefined;
  let conversation: string | undefined;
  let step = 0;
  const hasToken = (body: Record<string, unknown>) => (typeof body.access_token === 'string' ? undefined : 'no access token');
  return async function next(): Promise<Answer> {
    if (!token) {
      // A fresh name for each try: a registration cut after its commit must not make the next one a 409.
      username = `resets_${loop}_${randomBytes(4).toString('hex')}`;
      const answer = judged(await call(base, 'register', 'POST', '/v1/auth/register', undefined, { username, password }), hasToken);
      if (ok(answer) && !answer.wrong) token = (answer.body as { access_token: string }).access_token;
      return answer;
    }
    step++;
    if (step % 4 === 0) {
      const answer = judged(await call(base, 'login', 'POST', '/v1/auth/login', undefined, { username, password }), hasToken);
      if (ok(answer) && !answer.wrong) token = (answer.body as { access_token: string }).access_token;
      return answer;
    }
    if (step % 4 === 1)
      return judged(await call(base, 'list conversations', 'GET', '/v1/conversations', token), (body) => {
        if (!Array.isArray(body.data)) return 'no conversation list';
        const others = (body.data as Array<{ title?: unknown }>).filter((item) => item.title !== title);
        return others.length ? `lists conversations not this user's: ${JSON.stringify(others.map((item) => item.title))}` : undefined;
      });
    if (!conversation) {
      const answer = judged(await call(base, 'create conversation', 'POST', '/v1/conversations', token, { title }), (body) =>
        typeof body.id === 'string' && body.title === title ? undefined : 'not the conversation asked for',
      );
      if (ok(answer) && !answer.wrong) conversation = (answer.body as { id: string }).id;
      return answer;
    }
    const content = `hello from loop ${loop}, step ${step}`;
    const answer = judged(await call(base, 'send message', 'POST', `/v1/conversations/${conversation}/messages`, token, { content }), (body) =>
      (body.user_message as { content?: unknown } | undefined)?.content === content ? undefined : 'not the message sent',
    );
    // A turn cut by the outage keeps its conversation busy (409) until its reply is stored
    // once the database is back (database-outage.test.ts): the user carries on in a new one.
    if (!ok(answer)) conversation = undefined;
    return answer;
  };
}

describe.runIf(url)('PostgreSQL connections cut under load', () => {
  const name = `parley_resets_${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'parley-resets-'));
  let admin: postgres.Sql;
  let proxy: TcpProxy;
  let server: Server | undefined;

  beforeAll(async () => {
    admin = postgres(url!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const target = new URL(url!);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  });
  afterAll(async () => {
    if (server && !server.exit()) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await proxy?.close();
    await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving while its connections are cut under load: 503 during the cuts, success after them', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const databaseUrl = new URL(url!);
    databaseUrl.pathname = `/${name}`;
    server = serve(
      {
        PORT: String(port),
        DATABASE_URL: proxy.url(databaseUrl.toString()),
        LOG_LEVEL: 'error',
        RATE_LIMIT_LOGIN_ACCOUNT: 'off',
        RATE_LIMIT_LOGIN_IP: 'off',
        RATE_LIMIT_REGISTER_IP: 'off',
        RATE_LIMIT_MESSAGES_USER: 'off',
      },
      dir,
    );
    const running = server;
    await waitForHealth(base, running);

    // Every user is signed up before the cuts start, so the loops spread over all the steps.
    const users = Array.from({ length: LOOPS }, (_, loop) => user(base, loop));
    for (const next of users) expect(ok(await next())).toBe(true);

    // The resets run while the loops do; the loops stop a little after the last reset.
    let resetting = true;
    const resets = (async () => {
      for (let i = 0; i < RESETS && !running.exit(); i++) {
        await new Promise((resolve) => setTimeout(resolve, RESET_EVERY_MS));
        proxy.resetAll();
      }
      resetting = false;
    })();
    const answers: Answer[] = [];
    const loops = Array.from({ length: LOOPS }, async (_, loop) => {
      const next = users[loop]!;
      for (let i = 0; i < 500 && (resetting || i < 5) && !running.exit(); i++) answers.push(await next());
    });
    await Promise.all([resets, ...loops]);

    expect(running.exit(), running.output().slice(-3000)).toBeNull();
    // Every answer is this request's own success or a 503 database_unavailable: none hangs, none
    // blames the client, and none is a 500. A 500 here was another statement's error handed to
    // this request by the driver around a reset (a login given a message insert's duplicate key).
    const right = (answer: Answer) => ok(answer) && !answer.wrong;
    const wrong = answers.filter((answer) => !right(answer) && !unavailable(answer));
    const tally = (test: (answer: Answer) => boolean) => answers.filter(test).length;
    console.log(`connection resets: ${answers.length} answers, ${tally(right)} ok, ${tally(unavailable)} 503, ${wrong.length} wrong`);
    expect.soft(wrong, running.output().slice(-3000)).toEqual([]);
    // A driver error that reached no request: the process logs it as an unhandled rejection.
    expect.soft(strays(running.output())).toEqual([]);
    expect(answers.length).toBeGreaterThan(LOOPS);

    // Back to normal by itself: every user's next round of requests succeeds.
    const recovered = await Promise.all(
      Array.from({ length: LOOPS }, async (_, loop) => {
        const next = user(base, 100 + loop);
        const round: Answer[] = [];
        for (let i = 0; i < 6; i++) round.push(await next());
        return round;
      }),
    );
    expect(recovered.flat().filter((answer) => !right(answer))).toEqual([]);
    expect(strays(running.output())).toEqual([]);
    expect(running.exit(), running.output().slice(-3000)).toBeNull();
  });
});
