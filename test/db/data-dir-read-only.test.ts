// The embedded database's disk turning read-only under it, as ext4 does by itself after a disk
// error (errors=remount-ro, the default on most distributions). PostgreSQL answers the first write
// that cannot be made with a PANIC; PGlite, asked anything after that, spun inside its WebAssembly
// for ever: the whole process froze, /health and SIGTERM included, and said nothing. Now the
// request gets a 503, the process logs one fatal line naming DATA_DIR and the cause and exits 1
// for its supervisor; started again on a still read-only disk it refuses at once, saying why; on
// the repaired disk it serves the same conversations.
// DATA_DIR sits on an ext4 image of its own, loop-mounted: that needs root, as CI and the test machines run.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { loopDisk, run } from '../helpers/loop-disk.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;

const exitWithin = (exited: Promise<number | null>, ms: number) => Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), ms))]);

describe.runIf(!url)('the embedded database when its disk turns read-only', () => {
  const processes = cliProcesses();
  const disk = loopDisk('parley-read-only-');
  const repaired = join(disk.work, 'repaired.img');
  const dataDir = join(disk.mountPoint, 'data');
  let device = '';

  beforeAll(() => {
    device = disk.create();
  });
  afterAll(() => {
    processes.cleanUp();
    disk.remove();
  });

  async function untilReadOnly() {
    for (let i = 0; i < 50; i++) {
      try {
        writeFileSync(join(disk.mountPoint, 'probe'), 'x');
        await new Promise((resolve) => setTimeout(resolve, 100));
      } catch (error) {
        if ((error as { code?: string }).code === 'EROFS') return true;
      }
    }
    return false;
  }

  it('stops with a line naming DATA_DIR and the cause instead of freezing; on the repaired disk the conversation is whole and goes on', { timeout: 180_000 }, async () => {
    const { base, server } = await serveUntilHealthy(processes, { DATA_DIR: dataDir, RATE_LIMIT_MESSAGES_USER: 'off' });
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'read_only', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'a failing disk' })).body.id as string;
    for (const content of ['first', 'second', 'third']) expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content })).status).toBe(201);
    // What the disk has of them from here on is what it had when it failed: written, not only cached.
    run('sync', []);

    disk.fail(device);
    expect(await untilReadOnly(), 'the file system turned read-only').toBe(true);

    // The write that meets the read-only disk: a clear 503, not a 500 nor a hang.
    const refused = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'on a read-only disk' });
    expect(refused).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'database_unavailable' } });
    // Then the process stops by itself, for its supervisor to start it again: exit 1, with one fatal line.
    expect(await exitWithin(server.exited, 30_000), `${server.stdout()}${server.stderr()}`).toBe(1);
    const log = `${server.stdout()}${server.stderr()}`;
    expect(log).toMatch(/"level":60[^\n]*DATA_DIR[^\n]*Read-only file system/);
    expect(log).not.toMatch(/"unexpected error"/);

    // Started again while the disk is still read-only: it says so at once and exits 1.
    const again = processes.start(['serve'], { PORT: String(await freePort()), DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    expect(await exitWithin(again.exited, 30_000), `${again.stdout()}${again.stderr()}`).toBe(1);
    expect(again.stderr()).toMatch(new RegExp(`${dataDir.replace(/[/.]/g, '\\$&')}[^\\n]*read-only`, 'i'));

    // The operator repairs the disk (here: checks a copy of it) and mounts it back in its place.
    run('cp', ['--sparse=always', disk.image, repaired]);
    try {
      execFileSync('e2fsck', ['-fy', repaired], { stdio: 'pipe' });
    } catch (error) {
      // 1: errors were corrected; 2 and up are failures.
      if ((error as { status?: number }).status !== 1) throw error;
    }
    disk.unmount();
    disk.mount(repaired);
    expect(existsSync(join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);

    const { base: base2, server: server2 } = await serveUntilHealthy(processes, { DATA_DIR: dataDir, RATE_LIMIT_MESSAGES_USER: 'off' });
    expect(server2.child.exitCode, `${server2.stdout()}${server2.stderr()}`).toBeNull();
    const history = await call(base2, 'GET', `/v1/conversations/${conversation}/messages?limit=100`, token);
    expect(history.status).toBe(200);
    const messages = history.body.data as Array<{ role: string; content: string; status: string }>;
    expect(messages.slice(0, 6).map((m) => [m.role, m.role === 'user' ? m.content : m.status])).toEqual([
      ['user', 'first'],
      ['assistant', 'complete'],
      ['user', 'second'],
      ['assistant', 'complete'],
      ['user', 'third'],
      ['assistant', 'complete'],
    ]);
    // The refused message, if its start reached the disk, has a failed reply; either way the conversation takes the next one.
    expect(messages.length === 6 || (messages.length === 8 && messages[7]!.status === 'failed')).toBe(true);
    expect((await call(base2, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'after the repair' })).status).toBe(201);
  });
});
