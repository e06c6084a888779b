// The server under an open-file limit it cannot hold every stream in (a container started with
// `--ulimit nofile=512`): each turn holds two sockets, and past the limit the kernel resets new
// connections before Node.js sees them. Found by opening 300 streams under `prlimit`: 263 were
// reset, nothing was logged, and a turn that got in answered 502 as if the model were down. Now the
// server takes the turns it has room for and answers the rest 503 at_capacity: no connection is
// reset, the operator is told, and it takes turns again once they end.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/cli-token.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { BIN, cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const LIMIT = 512;
const STREAMS = 250;
const SECRET = 'a-shared-secret-of-16-bytes-or-more';

const cli = cliProcesses();
const servers: ChildProcess[] = [];
let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm({ record: true });
});
afterAll(async () => {
  // A failed test must not leave its server behind (prlimit execs node: the pid is the server's).
  for (const child of servers) child.kill('SIGKILL');
  cli.cleanUp();
  await fake?.close();
});

function prlimitPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v prlimit'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('this test needs prlimit (util-linux) to start the server under a low open-file limit');
  }
}

/** `parley serve` under the limit, as a process a supervisor started. */
async function serveUnderLimit(port: number) {
  const dir = cli.tempDir('parley-nofile-');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    DATA_DIR: join(dir, 'data'),
    PORT: String(port),
    LLM_PROVIDER: 'openai-compatible',
    LLM_BASE_URL: fake.url,
    LLM_MODEL: 'fake-model',
    EXTERNAL_JWT_SECRET: SECRET,
    RATE_LIMIT_MESSAGES_USER: 'off',
  };
  const child = spawn(prlimitPath(), [`--nofile=${LIMIT}:${LIMIT}`, process.execPath, BIN, 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300 && (await fetch(`${base}/health`).then((r) => r.ok, () => false)) === false; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return { child, exited, base, output: () => out };
}

const logLines = (output: string) => output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, any>);

interface Outcome {
  status?: number;
  code?: string;
  error?: string;
}

/** A streamed turn on a connection of its own; resolves when its answer's head (or a fault) arrives, and keeps reading. */
function openStream(base: string, token: string, conversationId: string) {
  const payload = JSON.stringify({ content: 'Are you there?', stream: true });
  const request = http.request(`${base}/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
  });
  let text = '';
  const outcome = new Promise<Outcome>((resolve) => {
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.on('response', (response) => {
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      if (response.statusCode === 200) return resolve({ status: 200 });
      response.on('end', () => resolve({ status: response.statusCode, code: (JSON.parse(text) as { code: string }).code }));
    });
  });
  request.end(payload);
  return { outcome, text: () => text, close: () => request.destroy() };
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe(`a server under an open-file limit of ${LIMIT}, asked for ${STREAMS} streams at once`, () => {
  it('runs the turns it has room for, answers the rest 503 at_capacity without resetting a connection, and says so', { timeout: 120_000 }, async () => {
    const server = await serveUnderLimit(await freePort());
    const told = logLines(server.output()).find((line) => typeof line.max_concurrent_turns === 'number');
    expect(told, server.output()).toMatchObject({ open_file_limit: LIMIT });
    const capacity = told!.max_concurrent_turns as number;
    expect(capacity).toBeGreaterThan(10);
    expect(capacity).toBeLessThan(STREAMS / 2);

    const token = await mintToken(['--user-id', 'nofile-1', '--username', 'nofile'], { EXTERNAL_JWT_SECRET: SECRET });
    const conversations: string[] = [];
    for (let i = 0; i < STREAMS; i++) conversations.push((await call(server.base, token, 'POST', '/v1/conversations', {})).body.id as string);

    fake.setDelays({ firstTokenDelayMs: 60_000 });
    const modelCalls = fake.requests.length;
    const streams = conversations.map((id) => openStream(server.base, token, id));
    const outcomes = await Promise.all(streams.map((stream) => stream.outcome));

    const tally = (what: (outcome: Outcome) => boolean) => outcomes.filter(what).length;
    expect(tally((o) => o.error !== undefined), JSON.stringify(outcomes.filter((o) => o.error))).toBe(0);
    expect(tally((o) => o.status === 200)).toBe(capacity);
    expect(tally((o) => o.status === 503 && o.code === 'at_capacity')).toBe(STREAMS - capacity);
    await fake.waitFor((requests) => requests.length === modelCalls + capacity);
    // The turns it took are under way and waiting for the model: none failed for want of a socket.
    const started = streams.filter((stream) => stream.text().includes('event: message.start'));
    expect(started).toHaveLength(capacity);
    expect(streams.filter((stream) => stream.text().includes('event: error')).map((stream) => stream.text())).toEqual([]);

    // The server itself still answers, and the operator was told once, with the fix.
    expect((await fetch(`${server.base}/health`)).status).toBe(200);
    const refusals = logLines(server.output()).filter((line) => line.code === 'at_capacity');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 50, running: capacity, capacity });
    expect(refusals[0]!.msg).toMatch(/LimitNOFILE/);

    // A refused turn stored nothing; once the running ones end, turns are taken again.
    const refusedAt = conversations[outcomes.findIndex((o) => o.status === 503)]!;
    expect((await call(server.base, token, 'GET', `/v1/conversations/${refusedAt}/messages`)).body.data).toEqual([]);
    for (const stream of streams) stream.close();
    fake.setDelays({ firstTokenDelayMs: 0 });
    let again = { status: 0, body: {} as Record<string, any> };
    for (let i = 0; i < 50 && again.status !== 201; i++) {
      again = await call(server.base, token, 'POST', `/v1/conversations/${refusedAt}/messages`, { content: 'And now?' });
      if (again.status !== 201) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(again.status, JSON.stringify(again.body)).toBe(201);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
