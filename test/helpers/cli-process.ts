// The real CLI (bin/parley.js, the server bundle) as a user runs it: in a fresh working folder,
// with only the variables a test names (nothing of the runner's, DATABASE_URL included). Each
// test file keeps its own set, killed and cleaned up in its hooks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const BIN = fileURLToPath(new URL('../../bin/parley.js', import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  output(): { stdout: string; stderr: string };
}

export interface StartOptions {
  /** Prefix of the working folder's name. */
  prefix?: string;
  /** DATA_DIR is the working folder too (a server's JWT secret goes there). */
  dataDirIsCwd?: boolean;
  /** Another Node to run it with (the oldest package.json's engines names); the runner's own by default. */
  node?: string;
}

export function cliProcesses() {
  const running = new Set<ChildProcess>();
  const dirs: string[] = [];

  function tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  }

  function start(args: string[], env: Record<string, string>, options: StartOptions = {}): CliProcess {
    const cwd = tempDir(options.prefix ?? 'parley-cli-');
    const child = spawn(options.node ?? process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...(options.dataDirIsCwd ? { DATA_DIR: cwd } : {}), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => (running.delete(child), resolve(code))));
    return { child, exited, stdout: () => stdout, stderr: () => stderr, output: () => ({ stdout, stderr }) };
  }

  /**
   * Runs a command to its end. With `deadlineMs`, one still running then is killed and answers code
   * null with what it printed, so a test names the command that hung rather than timing out whole.
   */
  async function run(args: string[], env: Record<string, string>, options: { deadlineMs?: number; node?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const started = start(args, env, { node: options.node });
    const timer = options.deadlineMs === undefined ? undefined : setTimeout(() => started.child.kill('SIGKILL'), options.deadlineMs);
    const code = await started.exited;
    clearTimeout(timer);
    return { code, stdout: started.stdout(), stderr: started.stderr() };
  }

  /** A failed test must not leave a process behind. */
  function killAll(): void {
    for (const child of running) child.kill('SIGKILL');
  }

  function cleanUp(): void {
    killAll();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  return { tempDir, start, run, killAll, cleanUp };
}

/** `parley serve` on a free port, once `/health` answers (or the process has exited: the caller looks at why). */
export async function serveUntilHealthy(processes: ReturnType<typeof cliProcesses>, env: Record<string, string>): Promise<{ base: string; server: CliProcess }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = processes.start(['serve'], { PORT: String(port), LOG_LEVEL: 'warn', ...env });
  for (let i = 0; i < 300 && server.child.exitCode === null && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return { base, server };
}
