// The server's standard output read by another process (`parley serve | logger`, a log shipper, a
// container runtime's log driver) that stops reading, or goes away with log lines still waiting to
// be written. Found by piping the server into `sleep`, sending requests until the pipe was full,
// then killing the reader: the server never exited on SIGTERM, retrying the write every 100 ms for
// ever, so each deploy waited for the supervisor's SIGKILL; with the reader alive but not reading
// the same, and every unwritten line kept in memory. Now it keeps serving, keeps at most a bound of
// unwritten lines, says on standard error what it drops, and stops within its grace on SIGTERM.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const cli = cliProcesses();
const servers: Array<{ kill(signal: NodeJS.Signals): boolean }> = [];
afterAll(() => {
  for (const child of servers) child.kill('SIGKILL');
  cli.cleanUp();
});

const sleep = (ms: number) => new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), ms));

/** Until the server answers /health; a server that exited says so at once, with what it wrote. */
async function waitForHealth(base: string, exited: Promise<number | null>, output: () => string) {
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  for (let i = 0; i < 600 && code === undefined; i++) {
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(code === undefined ? 'the server did not start' : `the server exited (${code}): ${output()}`);
}

/** Reads standard output until the server says where it listens (it picks its own port), then stops reading. */
async function listeningAt(out: Readable, exited: Promise<number | null>): Promise<string> {
  let seen = '';
  const found = new Promise<string>((resolve) => {
    const onData = (chunk: string) => {
      seen += chunk;
      const url = /Server listening at (http:\/\/[^"\s]+)/.exec(seen)?.[1];
      if (!url) return;
      out.off('data', onData);
      out.pause();
      resolve(url);
    };
    out.setEncoding('utf8').on('data', onData);
  });
  const gone = exited.then((code) => Promise.reject(new Error(`the server exited (${code}): ${seen}`)));
  return Promise.race([found, gone]);
}

/** `parley serve` whose standard output is not read past its start unless the test reads it: the pipe fills, then lines wait in the server. */
async function serveUnread(stdout: 'pipe' | number = 'pipe', options: { stderrToStdout?: boolean } = {}) {
  const dir = cli.tempDir('parley-log-reader-');
  // A port of its own choosing where the test can read where it is: no other test can take it meanwhile.
  const port = stdout === 'pipe' ? 0 : await freePort();
  // `exec` keeps the server's pid the child's, so the test's signals reach it.
  const [command, args] = options.stderrToStdout ? ['sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, BIN, 'serve']] : [process.execPath, [BIN, 'serve']];
  const child = spawn(command as string, args as string[], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DATA_DIR: join(dir, 'data'), PORT: String(port), SHUTDOWN_GRACE_MS: '500' },
    stdio: ['ignore', stdout, options.stderrToStdout ? 'ignore' : 'pipe'],
  });
  servers.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const base = child.stdout ? await listeningAt(child.stdout, exited) : `http://127.0.0.1:${port}`;
  await waitForHealth(base, exited, () => stderr);
  return { child, base, exited, stderr: () => stderr };
}

/** Requests whose log lines are long (a 404's path is logged whole): `count` of about 3 kB each. */
async function logLongLines(base: string, count: number) {
  const path = `/v1/${'x'.repeat(3000)}`;
  for (let i = 0; i < count; i += 10) {
    const statuses = await Promise.all(Array.from({ length: 10 }, () => fetch(base + path).then((r) => (void r.body?.cancel(), r.status))));
    expect(statuses.every((status) => status === 404)).toBe(true);
  }
}

async function stillServes(base: string, username: string) {
  expect((await fetch(`${base}/health`)).status).toBe(200);
  const registered = await fetch(`${base}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'a long enough password' }),
  });
  expect(registered.status).toBe(201);
}

describe('a server whose log reader', () => {
  it('went away with lines waiting: keeps serving, says so once on standard error, and exits on SIGTERM', { timeout: 120_000 }, async () => {
    const server = await serveUnread();
    for (let i = 0; i < 1500; i++) expect((await fetch(`${server.base}/health`)).status).toBe(200);
    // The reader goes away with lines still waiting: every write from now on fails with EPIPE.
    server.child.stdout!.destroy();
    for (let i = 0; i < 50; i++) expect((await fetch(`${server.base}/health`)).status).toBe(200);
    await stillServes(server.base, 'log_reader_gone');

    server.child.kill('SIGTERM');
    // Liveness, not speed: before the fix it never exited (the supervisor's SIGKILL ended it).
    expect(await Promise.race([server.exited, sleep(30_000)])).toBe(0);
    expect(server.stderr().match(/log output/g) ?? []).toHaveLength(1);
    expect(server.stderr()).toMatch(/standard output was closed by its reader; log lines are dropped from now on/);
  });

  it('stopped reading: keeps serving, drops lines past its bound, says so once, and exits on SIGTERM', { timeout: 120_000 }, async () => {
    const server = await serveUnread();
    // About 3 MB of lines: more than the pipe, this side's buffer and the server's 1 MiB bound together.
    await logLongLines(server.base, 1000);
    await stillServes(server.base, 'log_reader_stuck');
    expect(server.stderr().match(/log output/g) ?? []).toHaveLength(1);
    expect(server.stderr()).toMatch(/standard output is not being read \(1048576 bytes waiting\); log lines are dropped until it is/);

    server.child.kill('SIGTERM');
    // Before the fix it waited for the reader for ever, retrying every 100 ms.
    expect(await Promise.race([server.exited, sleep(30_000)])).toBe(0);
  });

  it('caught up again: says how many lines were dropped, and its lines are written again', { timeout: 120_000 }, async () => {
    const server = await serveUnread();
    await logLongLines(server.base, 1000);
    let stdout = '';
    server.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    server.child.stdout!.resume();
    await expect.poll(() => server.stderr(), { timeout: 20_000 }).toMatch(/its reader caught up; \d+ log line\(s\) were dropped while it lagged/);
    const dropped = Number(/caught up; (\d+) log line/.exec(server.stderr())![1]);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(1000);

    await stillServes(server.base, 'log_reader_back');
    await expect.poll(() => stdout, { timeout: 10_000 }).toMatch(/"path":"\/v1\/auth\/register","status":201/);
    server.child.kill('SIGTERM');
    expect(await Promise.race([server.exited, sleep(30_000)])).toBe(0);
    expect(stdout).toMatch(/"msg":"stopped"/);
  });

  it('is a file on a full disk: serves, says so once on standard error, and exits on SIGTERM', { timeout: 120_000 }, async () => {
    // Before, the server never answered: its first log lines failed with ENOSPC.
    const full = openSync('/dev/full', 'w');
    const server = await serveUnread(full);
    closeSync(full);
    await logLongLines(server.base, 20);
    await stillServes(server.base, 'log_disk_full');
    server.child.kill('SIGTERM');
    expect(await Promise.race([server.exited, sleep(30_000)])).toBe(0);
    expect(server.stderr().match(/log output/g) ?? []).toHaveLength(1);
    expect(server.stderr()).toMatch(/writing standard output failed \(ENOSPC\); log lines are dropped from now on/);
  });

  it('reads standard error too (`2>&1`, the journal) and went away: keeps serving, and exits on SIGTERM', { timeout: 120_000 }, async () => {
    // Before, the server died: its note about the closed output failed on standard error (EPIPE), and nothing caught that.
    const server = await serveUnread('pipe', { stderrToStdout: true });
    for (let i = 0; i < 1500; i++) expect((await fetch(`${server.base}/health`)).status).toBe(200);
    server.child.stdout!.destroy();
    for (let i = 0; i < 50; i++) expect((await fetch(`${server.base}/health`)).status).toBe(200);
    await stillServes(server.base, 'log_reader_both_gone');
    server.child.kill('SIGTERM');
    expect(await Promise.race([server.exited, sleep(30_000)])).toBe(0);
  });
});
