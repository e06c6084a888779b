// The embedded database's disk turning read-only under it, as ext4 does by itself after a disk
// error (errors=remount-ro, the default on most distributions). PostgreSQL answers the first write
// that cannot be made with a PANIC; PGlite, asked anything after that, spun inside its WebAssembly
// for ever: the whole process froze, /health and SIGTERM included, and said nothing. Now the
// request gets a 503, the process logs one fatal line naming DATA_DIR and the cause and exits 1
// for its supervisor; started again on a still read-only disk it refuses at once, saying why; on
// the repaired disk it serves the same conversations.
// DATA_DIR sits on an ext4 image of its own, loop-mounted: that needs root, as CI and the test machines run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses, type CliProcess } from '../helpers/cli-process.js';
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

const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: 'pipe' }).toString().trim();

/** An ext4 image, loop-mounted at `mountPoint` as a distribution mounts its disks: read-only after an error. */
function mountImage(image: string, mountPoint: string): string {
  const device = run('losetup', ['--find', '--show', image]);
  run('mount', ['-o', 'errors=remount-ro', device, mountPoint]);
  return device;
}

/** What a failing disk does: ext4 records an error and turns the file system read-only, files open or not. */
function failDisk(device: string) {
  writeFileSync(`/sys/fs/ext4/${basename(device)}/trigger_fs_error`, 'parley test: a disk error');
}

describe.runIf(!url)('the embedded database when its disk turns read-only', () => {
  const processes = cliProcesses();
  const work = mkdtempSync(join(tmpdir(), 'parley-read-only-'));
  const mountPoint = join(work, 'disk');
  const image = join(work, 'disk.img');
  const repaired = join(work, 'repaired.img');
  const dataDir = join(mountPoint, 'data');
  const devices: string[] = [];

  beforeAll(() => {
    try {
      run('mkdir', ['-p', mountPoint]);
      run('truncate', ['-s', '300M', image]);
      run('mkfs.ext4', ['-q', image]);
      devices.push(mountImage(image, mountPoint));
    } catch (error) {
      throw new Error(`this test loop-mounts an ext4 image as DATA_DIR's disk, which needs root, losetup and mkfs.ext4: ${(error as Error).message}`);
    }
  });
  afterAll(() => {
    processes.cleanUp();
    while (readFileSync('/proc/mounts', 'utf8').includes(` ${mountPoint} `)) run('umount', ['-l', mountPoint]);
    for (const device of devices) execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  async function serve(): Promise<{ base: string; server: CliProcess }> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = processes.start(['serve'], { PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT_MESSAGES_USER: 'off', LOG_LEVEL: 'warn' });
    for (let i = 0; i < 300 && server.child.exitCode === null && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    return { base, server };
  }

  it('stops with a line naming DATA_DIR and the cause instead of freezing; on the repaired disk the conversation is whole and goes on', { timeout: 180_000 }, async () => {
    const { base, server } = await serve();
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: 'read_only', password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'a failing disk' })).body.id as string;
    for (const content of ['first', 'second', 'third']) expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content })).status).toBe(201);
    // What the disk has of them from here on is what it had when it failed: written, not only cached.
    run('sync', []);

    failDisk(devices[0]!);
    for (let i = 0; i < 50 && !readFileSync('/proc/mounts', 'utf8').includes(` ${mountPoint} `); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    let readOnly = false;
    for (let i = 0; i < 50 && !readOnly; i++) {
      try {
        writeFileSync(join(mountPoint, 'probe'), 'x');
        await new Promise((resolve) => setTimeout(resolve, 100));
      } catch (error) {
        readOnly = (error as { code?: string }).code === 'EROFS';
      }
    }
    expect(readOnly, 'the file system turned read-only').toBe(true);

    // The write that meets the read-only disk: a clear 503, not a 500 nor a hang.
    const refused = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'on a read-only disk' });
    expect(refused).toMatchObject({ status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'database_unavailable' } });
    // Then the process stops by itself, for its supervisor to start it again: exit 1, with one fatal line.
    const code = await Promise.race([server.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    expect(code, `${server.stdout()}${server.stderr()}`).toBe(1);
    const log = `${server.stdout()}${server.stderr()}`;
    expect(log).toMatch(/"level":60[^\n]*DATA_DIR[^\n]*Read-only file system/);
    expect(log).not.toMatch(/"unexpected error"/);

    // Started again while the disk is still read-only: it says so at once and exits 1.
    const again = processes.start(['serve'], { PORT: String(await freePort()), DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    const againCode = await Promise.race([again.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    expect(againCode, `${again.stdout()}${again.stderr()}`).toBe(1);
    expect(again.stderr()).toMatch(new RegExp(`${dataDir.replace(/[/.]/g, '\\$&')}[^\\n]*read-only`, 'i'));

    // The operator repairs the disk (here: checks a copy of it) and mounts it back in its place.
    run('cp', ['--sparse=always', image, repaired]);
    try {
      execFileSync('e2fsck', ['-fy', repaired], { stdio: 'pipe' });
    } catch (error) {
      // 1: errors were corrected; 2 and up are failures.
      if ((error as { status?: number }).status !== 1) throw error;
    }
    run('umount', ['-l', mountPoint]);
    devices.push(mountImage(repaired, mountPoint));
    expect(existsSync(join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);

    const { base: base2, server: server2 } = await serve();
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
    const next = await call(base2, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'after the repair' });
    expect(next.status).toBe(201);
  });
});
