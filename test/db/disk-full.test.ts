// The embedded database's disk filling up (§11, §12), as it does on a small VPS: writes are
// refused with 503 database_unavailable (the client may try later) before the disk is full,
// never a 500 or a frozen process; reads go on; the operator gets an error line naming the disk;
// nothing is left half done, and once room is made the same conversation carries on. DATA_DIR sits on a tmpfs of its own, so only it fills up;
// mounting one needs root, as CI and the test machines run.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall as call } from '../helpers/http-call.js';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;


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

  /** Leaves `bytes` free on the tmpfs by filling the rest with files of someone else's. */
  let fillers = 0;
  function leaveFree(bytes: number) {
    const free = statfsSync(mountPoint);
    writeFileSync(`${filler}-${++fillers}`, Buffer.alloc(Math.max(0, Number(free.bavail) * Number(free.bsize) - bytes)));
  }

  it('refuses writes with 503 before the disk is full, reads go on, and writes carry on once room is made', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = processes.start(['serve'], { PORT: String(port), DATA_DIR: join(mountPoint, 'data'), RATE_LIMIT_MESSAGES_USER: 'off', LOG_LEVEL: 'warn' });
    for (let i = 0; i < 300 && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'disk_full', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'a full disk' })).body.id as string;
    expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'hello' })).status).toBe(201);
    const answers: Array<Awaited<ReturnType<typeof call>> & { content: string }> = [];
    const send = async (i: number) => {
      const content = `message ${i}: ${randomBytes(22_000).toString('base64')}`;
      const answer = { ...(await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content })), content };
      answers.push(answer);
      return answer;
    };

    // 32 MB left: room for pages, but not for the next 16 MB segment of the write-ahead log on top
    // of what else may come; writes stop here, within the second the server takes to notice.
    leaveFree(32 * 1024 * 1024);
    let refused: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const answer = await send(i);
      if (answer.status !== 201) refused = answer;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'database_unavailable' } });
    // Reads go on, and so does the server.
    expect((await call(base, 'GET', `/v1/conversations/${conversation}/messages`, token)).status).toBe(200);
    expect((await call(base, 'GET', '/health')).status).toBe(200);
    expect(`${server.stdout()}${server.stderr()}`).toMatch(/"level":50[^\n]*DATA_DIR's disk has \d+ MB free[^\n]*writes are refused/);

    // The disk then fills up for good (256 KB left): still 503s, never a 500, never a hang.
    leaveFree(256 * 1024);
    for (let i = 100; i < 105; i++) expect(await send(i)).toMatchObject({ status: 503, body: { code: 'database_unavailable' } });
    const log = `${server.stdout()}${server.stderr()}`;
    expect(log).not.toMatch(/"unexpected error"/);
    expect(server.child.exitCode).toBeNull();

    for (let i = 1; i <= fillers; i++) rmSync(`${filler}-${i}`);
    let turn: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 100 && turn?.status !== 201; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'room again' });
      // Refused until the server sees the room (within a second); busy while a refused reply is stored.
      expect([201, 409, 503]).toContain(turn.status);
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
  it('refuses a backup with no room for it in DATA_DIR before writing anything, and the server serves on', { timeout: 120_000 }, async () => {
    const dataDir = join(mountPoint, 'data-backup');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    processes.start(['serve'], { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    for (let i = 0; i < 300 && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'no_room_backup', password: 'a long enough password' })).body.access_token as string;
    // Room for the server's writes (over its 64 MB reserve), not for a copy of the database beside it as well.
    leaveFree(100 * 1024 * 1024);
    const before = readdirSync(dataDir).sort();
    const backup = await processes.run(['backup', join(processes.tempDir('parley-no-room-'), 'taken.parley')], { DATA_DIR: dataDir });
    expect(backup.code, backup.stderr).toBe(1);
    expect(backup.stderr).toMatch(/a backup is made in DATA_DIR \([^)]+\) first: a copy of the \d+ MB database, then its compressed archive, about \d+ MB with the reserve, and the disk has \d+ MB free; make room there first/);
    expect(readdirSync(dataDir).sort()).toEqual(before);
    expect((await call(base, 'POST', '/v1/conversations', token, { title: 'still served' })).status).toBe(201);
    for (let i = 1; i <= fillers; i++) rmSync(`${filler}-${i}`, { force: true });
  });
});
