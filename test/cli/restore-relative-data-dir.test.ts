// `parley restore` with DATA_DIR left at its default, `./data`, as README's "Run it" and "Command
// line" have it (`npx parley backup parley.backup`, then `npx parley restore parley.backup`): the
// user saw every backup refused, `parley: parley.backup's database cannot be restored: the archive
// names "/PG_VERSION", outside the database's folder`, exit 1, the backup blamed for what was the
// relative folder it was unpacked into. A self-hoster finds out on the day they need the backup.
// Every process gets its own working folder and no DATABASE_URL, so this runs the same with
// TEST_DATABASE_URL set.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { BIN } from '../helpers/cli-process.js';

const cwd = mkdtempSync(join(tmpdir(), 'parley-restore-relative-'));

/** The CLI in `cwd`, with DATA_DIR unset (README's default `./data`) or relative. */
function parley(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The accounts of the database in `<dataDir>/pglite`: which database the restore left there. */
async function usernames(dataDir: string): Promise<string[]> {
  const db = createPglite(join(cwd, dataDir, 'pglite'));
  try {
    return (await db.query<{ username: string }>('SELECT username FROM users ORDER BY username')).rows.map((row) => row.username);
  } finally {
    await db.close();
  }
}

async function addUser(dataDir: string, username: string): Promise<void> {
  const db = createPglite(join(cwd, dataDir, 'pglite'));
  try {
    await db.query(`INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), $1, 'x')`, [username]);
  } finally {
    await db.close();
  }
}

describe('parley restore with a relative DATA_DIR', () => {
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('restores into the default ./data, as README says to run it', { timeout: 180_000 }, async () => {
    expect((await parley(['migrate'])).code).toBe(0);
    await addUser('data', 'kept-by-the-backup');
    const backup = await parley(['backup', 'parley.backup']);
    expect(backup.stderr).toContain('backup: wrote parley.backup');
    expect(backup.code).toBe(0);
    // Written after the backup: the restore takes it away again.
    await addUser('data', 'after-the-backup');

    const restore = await parley(['restore', 'parley.backup']);
    expect(restore.stderr).not.toContain('cannot be restored');
    expect(restore.code).toBe(0);
    expect(await usernames('data')).toEqual(['kept-by-the-backup']);
    expect(readdirSync(join(cwd, 'data')).filter((name) => name.startsWith('pglite.before-restore-'))).toHaveLength(1);
    expect(readdirSync(join(cwd, 'data')).filter((name) => name.startsWith('pglite.restoring-'))).toEqual([]);
  });

  it('restores into a DATA_DIR written as ./other/../state', { timeout: 180_000 }, async () => {
    const env = { DATA_DIR: './other/../state' };
    expect((await parley(['migrate'], env)).code).toBe(0);
    await addUser('state', 'in-state');
    expect((await parley(['backup', 'state.backup'], env)).code).toBe(0);
    const restore = await parley(['restore', 'state.backup'], env);
    expect(restore.stderr).not.toContain('cannot be restored');
    expect(restore.code).toBe(0);
    expect(await usernames('state')).toEqual(['in-state']);
  });
});
