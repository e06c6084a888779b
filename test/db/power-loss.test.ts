// A machine that loses power (or whose kernel crashes) keeps only what reached its disk. A reply
// answered 201 was committed, and a committed turn must be there after such a loss, as on
// PostgreSQL. PGlite ran with fsync off, and its file system layer had no fsync at all: commits
// stayed in the operating system's cache, and a power loss took every recent turn back (or left
// the database corrupt). Here DATA_DIR is an ext4 image, loop-mounted; a copy of the image taken
// at once, without a sync, is what the disk held when the power went. Needs root, as the
// test machines and CI run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: 'pipe' }).toString().trim();

describe.runIf(!url)('the embedded database after a power loss', () => {
  const processes = cliProcesses();
  const work = mkdtempSync(join(tmpdir(), 'parley-power-loss-'));
  const mountPoint = join(work, 'disk');
  const image = join(work, 'disk.img');
  const afterLoss = join(work, 'after-loss.img');
  const dataDir = join(mountPoint, 'data');
  const devices: string[] = [];
  const mounted = () => readFileSync('/proc/mounts', 'utf8').includes(` ${mountPoint} `);

  function mount(file: string) {
    const device = run('losetup', ['--find', '--show', file]);
    devices.push(device);
    run('mount', [device, mountPoint]);
  }

  beforeAll(() => {
    try {
      run('mkdir', ['-p', mountPoint]);
      run('truncate', ['-s', '300M', image]);
      run('mkfs.ext4', ['-q', image]);
      mount(image);
    } catch (error) {
      throw new Error(`this test loop-mounts an ext4 image as DATA_DIR's disk, which needs root, losetup and mkfs.ext4: ${(error as Error).message}`);
    }
  });
  afterAll(() => {
    processes.cleanUp();
    while (mounted()) run('umount', ['-l', mountPoint]);
    for (const device of devices) execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  async function serve() {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = processes.start(['serve'], { PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT_MESSAGES_USER: 'off', LOG_LEVEL: 'warn' });
    for (let i = 0; i < 300 && server.child.exitCode === null && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    return { base, server };
  }

  it('keeps every turn it answered 201 for', { timeout: 180_000 }, async () => {
    const { base, server } = await serve();
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'power_loss', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'before the power went' })).body.id as string;
    // The server has run a while: all it wrote so far is on the disk.
    run('sync', []);

    const sent = ['one', 'two', 'three', 'four', 'five'];
    for (const content of sent) expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content })).status).toBe(201);
    // The power goes now: the disk holds what was written to it, not what the kernel still caches.
    run('cp', ['--sparse=always', image, afterLoss]);
    server.child.kill('SIGKILL');
    await server.exited;

    run('umount', ['-l', mountPoint]);
    mount(afterLoss);
    const { base: base2, server: server2 } = await serve();
    expect(server2.child.exitCode, `${server2.stdout()}${server2.stderr()}`).toBeNull();
    const history = await call(base2, 'GET', `/v1/conversations/${conversation}/messages?limit=100`, token);
    expect(history.status, JSON.stringify(history.body)).toBe(200);
    const messages = history.body.data as Array<{ role: string; content: string; status: string }>;
    expect(messages.map((m) => [m.role, m.role === 'user' ? m.content : m.status])).toEqual(sent.flatMap((content) => [['user', content], ['assistant', 'complete']]));
    expect((await call(base2, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'the power is back' })).status).toBe(201);
  });
});
