// The embedded database's disk filling up (§11, §12), as it does on a small VPS: requests that
// need more room answer 503 database_unavailable (the client may try later), never a 500; the
// operator gets an error line naming the disk; nothing is left half done, and once room is made
// the same conversation carries on. DATA_DIR sits on a tmpfs of its own, so only it fills up;
// mounting one needs root, as CI and the test machines run.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;
const HANG_MS = 20_000;

async function call(base: string, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HANG_MS),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

// The embedded database's own disk: PostgreSQL's is its server's, out of Parley's hands.
describe.runIf(!url)('the embedded database when its disk is full', () => {
  const processes = cliProcesses();
  const mountPoint = mkdtempSync(join(tmpdir(), 'parley-small-disk-'));
  const filler = join(mountPoint, 'filler');

  beforeAll(() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`this test mounts a 160 MB tmpfs as DATA_DIR's disk, which needs root: ${(error as Error).message}`);
    }
  });
  afterAll(() => {
    processes.cleanUp();
    execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('answers 503 while there is no room, logs it as an error, and carries on once room is made', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = processes.start(['serve'], { PORT: String(port), DATA_DIR: join(mountPoint, 'data'), RATE_LIMIT_MESSAGES_USER: 'off', LOG_LEVEL: 'warn' });
    for (let i = 0; i < 300 && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'disk_full', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'a full disk' })).body.id as string;
    expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'hello' })).status).toBe(201);

    // Everything but 256 KB goes to a file of someone else's; each message then needs ~30 KB of it.
    const free = statfsSync(mountPoint);
    writeFileSync(filler, Buffer.alloc(Number(free.bavail) * Number(free.bsize) - 256 * 1024));
    const answers: Array<Awaited<ReturnType<typeof call>> & { content: string }> = [];
    // Five more once the first is refused: the disk may fail a turn at its start or at its reply.
    for (let i = 0; i < 200 && answers.filter((answer) => answer.status !== 201).length < 6; i++) {
      const content = `message ${i}: ${randomBytes(22_000).toString('base64')}`;
      answers.push({ ...(await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content })), content });
    }
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) expect(answer).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'database_unavailable' } });
    const log = `${server.stdout()}${server.stderr()}`;
    expect(log).toMatch(/"level":50[^\n]*No space left on device[^\n]*"the database is out of disk, memory or files"/);
    expect(log).not.toMatch(/"unexpected error"/);
    expect(server.child.exitCode).toBeNull();

    rmSync(filler);
    let turn: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 100 && turn?.status !== 201; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'room again' });
      // Busy only while a reply the full disk refused is stored, a moment after room is made.
      expect([201, 409]).toContain(turn.status);
    }
    expect(turn?.status).toBe(201);
    const history = await call(base, 'GET', `/v1/conversations/${conversation}/messages?limit=100`, token);
    const messages = history.body.data as Array<{ role: string; content: string; status: string }>;
    expect(messages.filter((m) => m.role === 'user').at(-1)?.content).toBe('room again');
    // Nothing half done: each message a turn answered 201 for is there, and every user message
    // has its reply right after it (a turn refused at its reply gets it once room is made).
    const users = messages.filter((m) => m.role === 'user').map((m) => m.content);
    for (const answer of answers) if (answer.status === 201) expect(users).toContain(answer.content);
    messages.forEach((m, i) => m.role === 'user' && expect(messages[i + 1]?.role, `the reply to user message ${i}`).toBe('assistant'));
  });
});
