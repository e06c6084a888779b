// A machine that loses power (or whose kernel crashes) keeps only what reached its disk. A reply
// answered 201 was committed, and a committed turn must be there after such a loss, as on
// PostgreSQL. PGlite ran with fsync off, and its file system layer had no fsync at all: commits
// stayed in the operating system's cache, and a power loss took every recent turn back (or left
// the database corrupt). Here DATA_DIR is an ext4 image, loop-mounted; a copy of the image taken
// at once, without a sync, is what the disk held when the power went. Needs root, as the
// test machines and CI run.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { loopDisk, run } from '../helpers/loop-disk.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(!url)('the embedded database after a power loss', () => {
  const processes = cliProcesses();
  const disk = loopDisk('parley-power-loss-');
  const afterLoss = join(disk.work, 'after-loss.img');
  const env = { DATA_DIR: join(disk.mountPoint, 'data'), RATE_LIMIT_MESSAGES_USER: 'off' };

  beforeAll(() => {
    disk.create();
  });
  afterAll(() => {
    processes.cleanUp();
    disk.remove();
  });

  it('keeps every turn it answered 201 for', { timeout: 180_000 }, async () => {
    const { base, server } = await serveUntilHealthy(processes, env);
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'power_loss', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'before the power went' })).body.id as string;
    // The server has run a while: all it wrote so far is on the disk.
    run('sync', []);

    const sent = ['one', 'two', 'three', 'four', 'five'];
    for (const content of sent) expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content })).status).toBe(201);
    // The power goes now: the disk holds what was written to it, not what the kernel still caches.
    run('cp', ['--sparse=always', disk.image, afterLoss]);
    server.child.kill('SIGKILL');
    await server.exited;

    disk.unmount();
    disk.mount(afterLoss);
    const { base: base2, server: server2 } = await serveUntilHealthy(processes, env);
    expect(server2.child.exitCode, `${server2.stdout()}${server2.stderr()}`).toBeNull();
    const history = await call(base2, 'GET', `/v1/conversations/${conversation}/messages?limit=100`, token);
    expect(history.status, JSON.stringify(history.body)).toBe(200);
    const messages = history.body.data as Array<{ role: string; content: string; status: string }>;
    expect(messages.map((m) => [m.role, m.role === 'user' ? m.content : m.status])).toEqual(sent.flatMap((content) => [['user', content], ['assistant', 'complete']]));
    expect((await call(base2, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'the power is back' })).status).toBe(201);
  });
});
