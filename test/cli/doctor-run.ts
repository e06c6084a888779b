// Runs `parley doctor` as a user does (bin/parley.js, a clean environment, a fresh working
// directory so no .env is read) and prepares the databases it is pointed at.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { expect } from 'vitest';
import { openDatabase, pgliteDirFor } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareAppRole } from '../../src/db/row-security.js';

export const BIN = fileURLToPath(new URL('../../bin/parley.js', import.meta.url));
export const PG_URL = process.env.TEST_DATABASE_URL;

const dirs: string[] = [];
const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];

export function tempDir(prefix = 'parley-doctor-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Kills what a failed test left running, drops what the tests created. */
export async function cleanUp(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: Error) => console.error(`cleanup: ${error.message}`));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `parley <args>` with only these variables; `shell` runs it through sh first (to set ulimit). */
export function start(args: string[], env: Record<string, string>, shell?: string): Started {
  const base = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() };
  const [command, argv] = shell ? ['/bin/sh', ['-c', `${shell} && exec "$0" "$@"`, process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
  const child = spawn(command as string, argv as string[], { cwd: tempDir('parley-cwd-'), env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => (children.delete(child), resolve(code))));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export interface Line {
  status: 'ok' | 'warn' | 'FAIL' | 'skip';
  name: string;
  text: string;
}

export interface Report {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: Line[];
  line(name: string): Line;
}

const LINE = /^(ok|warn|FAIL|skip)\s+(\S+)\s+(.+)$/;

/** `parley doctor` to completion; every line of its output must be a check line. */
export async function doctor(env: Record<string, string>, options: { args?: string[]; shell?: string } = {}): Promise<Report> {
  const run = start(['doctor', ...(options.args ?? [])], env, options.shell);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const code = await run.exited.finally(() => clearTimeout(timer));
  const stdout = run.stdout();
  const lines = stdout
    .trimEnd()
    .split('\n')
    .map((text) => {
      const match = LINE.exec(text);
      expect(match, `not a check line: ${text}\n${stdout}\n${run.stderr()}`).not.toBeNull();
      return { status: match![1] as Line['status'], name: match![2]!, text };
    });
  return {
    code,
    stdout,
    stderr: run.stderr(),
    lines,
    line(name) {
      const found = lines.find((line) => line.name === name);
      expect(found, `no "${name}" line in:\n${stdout}`).toBeDefined();
      return found!;
    },
  };
}

/** The report has exactly this failing line, and exits 1. */
export function failsOnly(report: Report, name: string): Line {
  expect(report.code, report.stdout + report.stderr).toBe(1);
  expect(report.lines.filter((line) => line.status === 'FAIL').map((line) => line.name)).toEqual([name]);
  return report.line(name);
}

/** Passes: exit 0, every line ok or skip. */
export function passes(report: Report): void {
  expect(report.code, report.stdout + report.stderr).toBe(0);
  for (const line of report.lines) expect(['ok', 'skip'], line.text).toContain(line.status);
}

let template: Promise<string> | undefined;

/** Removes the template of servedPgliteDir() (kept across tests; afterAll). */
export async function removeTemplate(): Promise<void> {
  const dir = await template?.catch(() => null);
  template = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A DATA_DIR whose embedded database `parley serve` has set up (migrated, app role prepared): a copy of one made once. */
export async function servedPgliteDir(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-doctor-template-'));
    const database = await openDatabase({ url: null, pgliteDir: pgliteDirFor(dir) });
    await migrate(database.sql);
    await prepareAppRole(database);
    await database.close();
    return dir;
  })();
  const copy = tempDir('parley-doctor-data-');
  cpSync(await template, copy, { recursive: true });
  return copy;
}

/** A database set up as `parley serve` leaves it, where the tests run theirs: on TEST_DATABASE_URL a fresh schema and app role, else embedded. */
export interface Target {
  env: Record<string, string>;
  /** Runs statements as the tables' owner (the doctor must be stopped). */
  exec(text: string): Promise<void>;
  query<T extends Record<string, unknown>>(text: string): Promise<T[]>;
  appRole: string;
}

export async function servedDatabase(): Promise<Target> {
  if (!PG_URL) {
    const dataDir = await servedPgliteDir();
    const open = () => openDatabase({ url: null, pgliteDir: pgliteDirFor(dataDir) });
    const withDatabase = async <T>(fn: (sql: Awaited<ReturnType<typeof open>>['sql']) => Promise<T>) => {
      const database = await open();
      try {
        return await fn(database.sql);
      } finally {
        await database.close();
      }
    };
    return {
      env: { DATA_DIR: dataDir },
      exec: (text) => withDatabase((sql) => sql.exec(text)),
      query: (text) => withDatabase((sql) => sql.query(text)),
      appRole: 'parley_app',
    };
  }
  const id = randomBytes(5).toString('hex');
  const schema = `doctor_${id}`;
  const appRole = `parley_doctor_${id}`;
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  cleanups.push(async () => {
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.unsafe(`DROP ROLE IF EXISTS ${appRole}`);
    await admin.end();
  });
  const database = await openDatabase({ url: PG_URL, pgliteDir: null, poolMax: 1, searchPath: schema, appRole });
  try {
    await migrate(database.sql);
    await prepareAppRole(database);
  } finally {
    await database.close();
  }
  const url = new URL(PG_URL);
  url.searchParams.set('search_path', schema);
  const inSchema = async (text: string) => (await admin.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL search_path TO ${schema}`);
    return tx.unsafe(text);
  })) as unknown as Record<string, unknown>[];
  return {
    env: { DATABASE_URL: url.toString(), DATABASE_APP_ROLE: appRole, DATA_DIR: tempDir('parley-doctor-data-') },
    exec: async (text) => void (await inSchema(text)),
    query: async <T extends Record<string, unknown>>(text: string) => (await inSchema(text)) as T[],
    appRole,
  };
}
