// docs/deploy.md as the tests read it: its fenced blocks, each preceded by a marker comment,
// `<!-- tested: name -->` (a test runs it, found by that name) or `<!-- untested: why -->`.
// Blocks run as the guide writes them, with its placeholders (docs/deploy.md's table) replaced by
// this machine's: the install folder, temporary folders for /etc/parley and /var/lib/parley, a
// free port, and uniquely named databases and roles on the local PostgreSQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GUIDE_PATH = join(ROOT, 'docs', 'deploy.md');

export interface GuideBlock {
  /** The marker's name for a tested block; null for an untested one. */
  name: string | null;
  /** Why an untested block is not run. */
  reason: string | null;
  lang: string;
  text: string;
  line: number;
}

const MARKER = /^<!--\s*(tested|untested):\s*(.+?)\s*-->$/;

/** Every fenced block, with the marker on the line before it (blank lines between allowed). */
export function parseGuide(markdown: string): GuideBlock[] {
  const lines = markdown.split('\n');
  const blocks: GuideBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && line.startsWith('```'));
    if (end === -1) throw new Error(`docs/deploy.md:${i + 1}: a code block that never closes`);
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? MARKER.exec(lines[before]!.trim()) : null;
    if (!marker) throw new Error(`docs/deploy.md:${i + 1}: a code block without <!-- tested: name --> or <!-- untested: why --> before it`);
    const tested = marker[1] === 'tested';
    blocks.push({ name: tested ? marker[2]! : null, reason: tested ? null : marker[2]!, lang: open[1]!, text: lines.slice(i + 1, end).join('\n') + '\n', line: i + 1 });
    i = end;
  }
  return blocks;
}

export const readGuide = () => readFileSync(GUIDE_PATH, 'utf8');

/** A tested block by name; fails the test when the guide lost it. */
export function guideBlock(name: string): string {
  const found = parseGuide(readGuide()).filter((block) => block.name === name);
  if (found.length !== 1) throw new Error(`docs/deploy.md has ${found.length} blocks marked "tested: ${name}"; expected exactly one`);
  return found[0]!.text;
}

/** An `env` block's variables, read as Parley reads a .env file. */
export const envOf = (name: string): Record<string, string> => parseEnv(guideBlock(name)) as Record<string, string>;

/** Replacements (strings literally, regular expressions everywhere), each of which must occur: a placeholder the guide stopped using is a stale test. */
export function replaceAll(text: string, pairs: Array<[string | RegExp, string]>): string {
  let out = text;
  for (const [from, to] of pairs) {
    const pattern = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : new RegExp(from.source, 'g');
    if (!pattern.test(out)) throw new Error(`placeholder ${String(from)} not found in:\n${out}`);
    out = out.replace(pattern, () => to);
  }
  return out;
}

const dirs: string[] = [];
export function tempDir(prefix = 'parley-deploy-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** stdout as it arrived, one entry per read. */
  chunks: string[];
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Kills whatever a failed test left running. */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Only what a shell needs: nothing of the test runner's environment (TEST_*, DATABASE_URL, CI…) leaks in. */
function shellEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir(), ...extra };
}

/** `bash -c script`, as a user pastes it into a shell that stops at the first failure. */
export function startShell(script: string, options: { env?: Record<string, string>; cwd?: string } = {}): Started {
  const child = spawn('bash', ['-eo', 'pipefail', '-c', script], { cwd: options.cwd ?? tmpdir(), env: shellEnv(options.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const chunks: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    chunks.push(chunk);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, chunks, exited };
}

/** Runs a script to its end (killed after `timeoutMs`). */
export async function runShell(script: string, options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}) {
  const started = startShell(script, options);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const code = await started.exited;
  clearTimeout(timer);
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}

/** Runs a script that must succeed; its stdout. */
export async function shellOk(script: string, options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await runShell(script, options);
  if (result.code !== 0) throw new Error(`exit ${result.code}:\n${script}\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout}`);
  return result.stdout;
}

/** psql with a script on stdin: unaligned, tuples only, stopping at the first error. */
export async function psql(url: string, sql: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: shellEnv({}) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(sql);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

export async function psqlOk(url: string, sql: string): Promise<string> {
  const result = await psql(url, sql);
  if (result.code !== 0) throw new Error(`psql failed (${result.code}): ${result.stderr}\n${sql}`);
  return result.stdout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls /health until the server answers (or fails with its output when it exits first). */
export async function waitForServer(base: string, server: Started, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`parley exited before it answered:\n${server.stderr()}\n${server.stdout()}`);
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) return;
    await sleep(200);
  }
  throw new Error(`no answer from ${base}/health within ${timeoutMs} ms:\n${server.stderr()}\n${server.stdout()}`);
}

/** SIGTERM, as systemd stops it; resolves with the exit code. */
export async function stopServer(server: Started): Promise<number | null> {
  server.child.kill('SIGTERM');
  return server.exited;
}
