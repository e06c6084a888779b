// `parley backup` with no server running (the folder opened by the command itself, after a server
// that was killed), and what `parley backup` and `parley restore` refuse, each in one line and
// changing nothing. Every process gets its own DATA_DIR and no DATABASE_URL unless a test sets it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createPglite } from '../../src/db/pglite.js';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const cli = cliProcesses();
const { tempDir, run } = cli;
const start = (args: string[], env: Record<string, string>) => cli.start(args, env, { prefix: 'parley-backup-cwd-' });

afterAll(() => cli.cleanUp());

/** Exit 1 and exactly one line on stderr, returned. */
function refused(result: { code: number | null; stderr: string }): string {
  expect(result.code).toBe(1);
  expect(result.stderr, result.stderr).toMatch(/^parley: [^\n]+\n$/);
  return result.stderr.trim();
}

describe('parley backup with no server running', () => {
  it('opens the folder itself, after removing the socket of a server that was killed, and the copy restores', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('parley-backup-killed-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = start(['serve'], { DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' });
    let gone = false;
    void server.exited.then(() => (gone = true));
    while (!gone && !(await fetch(`${base}/health`).then((response) => response.ok, () => false))) await new Promise((resolve) => setTimeout(resolve, 100));
    const registered = await fetch(`${base}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'killed_server_user', password: 'a long enough password' }),
    });
    expect(registered.status).toBe(201);
    server.child.kill('SIGKILL');
    await server.exited;
    expect(existsSync(join(dataDir, 'parley.sock'))).toBe(true);

    const file = join(tempDir('parley-backup-file-'), 'offline.backup');
    const backup = await run(['backup', file], { DATA_DIR: dataDir });
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(/^backup: no server is running on DATA_DIR; copying /m);
    expect(backup.stderr).toMatch(/^backup: wrote .*offline\.backup .* from DATA_DIR, with no server running/m);
    expect(existsSync(join(dataDir, 'parley.sock'))).toBe(false);

    const restoredDir = tempDir('parley-backup-d-');
    const restore = await run(['restore', file], { DATA_DIR: restoredDir });
    expect(restore.code, restore.stderr).toBe(0);
    expect(readFileSync(join(restoredDir, 'jwt-secret'), 'utf8')).toBe(readFileSync(join(dataDir, 'jwt-secret'), 'utf8'));
    const migrate = await run(['migrate'], { DATA_DIR: restoredDir });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/schema is current/);
    const db = createPglite(join(restoredDir, 'pglite'));
    try {
      expect((await db.query('SELECT username FROM users')).rows).toEqual([{ username: 'killed_server_user' }]);
    } finally {
      await db.close();
    }
  });

  it('refuses a folder with no embedded database', async () => {
    const dataDir = tempDir('parley-backup-empty-');
    expect(refused(await run(['backup', join(dataDir, 'x.backup')], { DATA_DIR: dataDir }))).toMatch(/no embedded database in .*pglite: nothing to back up/);
    expect(readdirSync(dataDir)).toEqual([]);
  });
});

describe('parley restore refuses', () => {
  it('a file that is not a Parley backup, a damaged one, and one from a newer Parley, changing nothing', { timeout: 120_000 }, async () => {
    const sourceDir = tempDir('parley-backup-source-');
    expect((await run(['migrate'], { DATA_DIR: sourceDir })).code).toBe(0);
    const files = tempDir('parley-backup-files-');
    const good = join(files, 'good.backup');
    expect((await run(['backup', good], { DATA_DIR: sourceDir })).code).toBe(0);
    const bytes = readFileSync(good);
    const headerEnd = bytes.indexOf(10, bytes.indexOf(10) + 1) + 1;

    const targetDir = tempDir('parley-backup-target-');
    const restore = (file: string) => run(['restore', file], { DATA_DIR: targetDir });
    writeFileSync(join(files, 'notes.txt'), 'these are not the rows you are looking for\n');
    expect(refused(await restore(join(files, 'notes.txt')))).toMatch(/notes\.txt is not a Parley backup \(one made by parley backup\)$/);
    // A data folder's tarball without the header: what PGlite itself writes, but not a backup of Parley's.
    writeFileSync(join(files, 'bare.tar.gz'), bytes.subarray(headerEnd));
    expect(refused(await restore(join(files, 'bare.tar.gz')))).toMatch(/bare\.tar\.gz is not a Parley backup/);
    writeFileSync(join(files, 'other.gz'), gzipSync('hello'));
    expect(refused(await restore(join(files, 'other.gz')))).toMatch(/is not a Parley backup/);
    writeFileSync(join(files, 'cut.backup'), bytes.subarray(0, bytes.length - 1000));
    expect(refused(await restore(join(files, 'cut.backup')))).toMatch(/cut\.backup is cut short or damaged/);
    expect(refused(await restore(join(files, 'missing.backup')))).toMatch(/no file .*missing\.backup$/);

    const header = JSON.parse(bytes.subarray(bytes.indexOf(10) + 1, headerEnd - 1).toString('utf8')) as { migrations: string[]; parley_version: string };
    const newer = { ...header, parley_version: '99.0.0', migrations: [...header.migrations, '9999_from_the_future'] };
    writeFileSync(join(files, 'newer.backup'), Buffer.concat([bytes.subarray(0, bytes.indexOf(10) + 1), Buffer.from(`${JSON.stringify(newer)}\n`), bytes.subarray(headerEnd)]));
    expect(refused(await restore(join(files, 'newer.backup')))).toMatch(/newer\.backup was made by Parley 99\.0\.0 at migration 9999_from_the_future, which this Parley \(.*\) does not have; upgrade Parley, then restore$/);

    expect(readdirSync(targetDir)).toEqual([]);
    // The same file, whole, restores; its folder never had a server, so no generated secret came with it.
    const restored = await restore(good);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/^restore: the backup holds no generated JWT secret: start the server with the same JWT_SECRET /m);
    expect(readdirSync(targetDir)).toEqual(['pglite']);
  });

  it('on PostgreSQL (DATABASE_URL), as does backup, pointing to pg_dump and pg_restore', async () => {
    const dataDir = tempDir('parley-backup-pg-');
    const env = { DATA_DIR: dataDir, DATABASE_URL: 'postgres://127.0.0.1:1/parley' };
    expect(refused(await run(['backup', join(dataDir, 'x.backup')], env))).toMatch(/^parley: parley backup works on the embedded database only; with DATABASE_URL set, use pg_dump /);
    expect(refused(await run(['restore', join(dataDir, 'x.backup')], env))).toMatch(/^parley: parley restore works on the embedded database only; with DATABASE_URL set, use pg_restore /);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('without a file, showing the usage', async () => {
    expect(refused(await run(['restore'], { DATA_DIR: tempDir('parley-backup-usage-') }))).toBe('parley: usage: parley restore <file>');
    expect(refused(await run(['backup', 'a', 'b'], { DATA_DIR: tempDir('parley-backup-usage-') }))).toBe('parley: usage: parley backup <file>');
  });
});
