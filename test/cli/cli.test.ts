import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';

// The real CLI, as `npx parley` runs it (dist/ is built by test/global-setup.ts).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'parley.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const dirs: string[] = [];
const running = new Set<ChildProcess>();

/** A fresh folder: the working directory (so no .env is read) or a DATA_DIR. */
function tempDir(prefix = 'parley-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  // A failed test must not leave a server behind.
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Only what a shell needs: nothing of the test runner's environment (DATABASE_URL, TEST_*, CI…) leaks in. */
function minimalEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...extra };
}

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

function start(args: string[], env: Record<string, string>, cwd = tempDir()): Started {
  const began = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: minimalEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, ms: Date.now() - began });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs the CLI to completion (killed after `timeoutMs`). */
async function run(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000) {
  const started = start(args, env);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs);
  try {
    const result = await started.exited;
    return { ...result, stdout: started.stdout(), stderr: started.stderr() };
  } finally {
    clearTimeout(timer);
  }
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls GET /health until 200 (PGlite initialises a new data folder in a few seconds). */
async function waitForHealth(base: string, server: Started, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited before it was healthy:\n${server.stderr()}\n${server.stdout()}`);
    try {
      const response = await fetch(`${base}/health`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`no 200 from ${base}/health within ${timeoutMs} ms:\n${server.stderr()}\n${server.stdout()}`);
}

/** stderr holds exactly one line. */
const oneLine = (stderr: string) => {
  expect(stderr, stderr).toMatch(/^[^\n]+\n$/);
  return stderr.trim();
};

describe('parley serve: configuration errors', () => {
  it('PORT=abc exits non-zero with one line naming PORT', async () => {
    const result = await run(['serve'], { PORT: 'abc', DATA_DIR: tempDir('parley-data-') });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    const line = oneLine(result.stderr);
    expect(line).toMatch(/\bPORT\b/);
    expect(line).toMatch(/integer/);
  });

  it('an unreachable DATABASE_URL exits non-zero after DATABASE_WAIT with one line naming DATABASE_URL, no password', async () => {
    const password = 'pw-must-not-show';
    const result = await run(['serve'], {
      DATABASE_URL: `postgres://nobody:${password}@127.0.0.1:1/x`,
      DATABASE_WAIT: '1s',
      DATA_DIR: tempDir('parley-data-'),
    });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.ms).toBeLessThan(15_000);
    const line = oneLine(result.stderr);
    expect(line).toMatch(/\bDATABASE_URL\b/);
    expect(line).not.toContain(password);
    expect(result.stdout).not.toContain(password);
  });

  // SPEC §12: retried for up to DATABASE_WAIT, then exit. The second of slack covers Node's own start.
  it('a refused DATABASE_URL gives up within DATABASE_WAIT + 1 s, however many attempts failed', { timeout: 20_000 }, async () => {
    const result = await run(['serve'], { DATABASE_URL: `postgres://127.0.0.1:${await freePort()}/x`, DATABASE_WAIT: '5s', DATA_DIR: tempDir('parley-data-') });
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^parley: cannot reach DATABASE_URL \(127\.0\.0\.1:\d+\/x\) after \d+ attempts over 5s: ECONNREFUSED$/);
    expect(result.ms).toBeLessThanOrEqual(6_000);
  });

  it('a DATABASE_URL that accepts connections but never answers gives up within DATABASE_WAIT + 1 s', { timeout: 20_000 }, async () => {
    const held = new Set<Socket>();
    const silent = createServer((socket) => void held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const result = await run(['serve'], { DATABASE_URL: `postgres://127.0.0.1:${port}/x`, DATABASE_WAIT: '3s', DATA_DIR: tempDir('parley-data-') });
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toMatch(/cannot reach DATABASE_URL .* over 3s/);
      expect(result.ms).toBeLessThanOrEqual(4_000);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('parley migrate', () => {
  it('finds a new DATA_DIR current at once (it starts from the build\'s template), and says so', async () => {
    const dataDir = tempDir('parley-data-');
    const first = await run(['migrate'], { DATA_DIR: dataDir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).not.toMatch(/applying migration/);
    expect(first.stdout).toMatch(/^database schema is current \(\d+ migrations\)$/m);
    expect(first.stderr).toBe('');
  });

  it.runIf(process.env.TEST_DATABASE_URL)('applies the migrations to a new PostgreSQL database with progress lines, then reports the schema current', { timeout: 60_000 }, async () => {
    const admin = postgres(process.env.TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    const name = `parley_cli_${randomBytes(4).toString('hex')}`;
    await admin.unsafe(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.pathname = `/${name}`;
      const env = { DATABASE_URL: url.toString(), DATABASE_APP_ROLE: `${name}_app`, DATA_DIR: tempDir('parley-data-') };
      const first = await run(['migrate'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^applying migration \d{4}_\S+$/m);

      const second = await run(['migrate'], env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).not.toMatch(/applying migration/);
      expect(second.stdout).toMatch(/schema is current/);
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${name}_app`).catch(() => {});
      await admin.end();
    }
  });
});

describe('parley serve', () => {
  it('serves, stops cleanly on SIGTERM, and keeps tokens valid across a restart on the same DATA_DIR', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('parley-data-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), DATA_DIR: dataDir };

    const first = start(['serve'], env);
    await waitForHealth(base, first);
    const health = await fetch(`${base}/health`);
    expect(await health.json()).toEqual({ status: 'ok', service: 'parley', version: VERSION });

    const registered = await fetch(`${base}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'cli_restart_user', password: 'a long enough password' }),
    });
    expect(registered.status).toBe(201);
    const { access_token: token, user } = (await registered.json()) as { access_token: string; user: { id: string } };

    first.child.kill('SIGTERM');
    const stopped = await first.exited;
    expect(stopped.code, first.stderr()).toBe(0);
    expect(first.stdout()).toMatch(/"msg":"stopped"/);
    expect(first.stderr()).toBe('');

    const second = start(['serve'], env);
    await waitForHealth(base, second);
    const me = await fetch(`${base}/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe(user.id);
    // The development secret was generated once and kept in DATA_DIR.
    expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);

    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});

describe('parley (other commands)', () => {
  it('--version prints the package.json version', async () => {
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${VERSION}\n`);
  });

  it('an unknown command exits 2 and names it', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/frobnicate/);
  });
});
