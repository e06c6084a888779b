// Who else on the machine can read or change the embedded database. A backup file is written 0600
// because it holds every tenant's data; the database it came from, and the one `parley restore`
// builds, hold the same data (password hashes, every conversation). DATA_DIR is usually a plain
// folder such as /var/lib/parley (mode 0755, systemd's StateDirectory default), so what counts is
// the modes from DATA_DIR down: another local user gets in when every folder on the way lets
// others through (o+x) and the file lets them read (o+r) or write (o+w).
// The tests run as root, so this is worked out from the modes rather than tried as another user.
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;

/** Files under `root` (DATA_DIR/pglite) that a user other than the owner could read or write, judged from `dataDir` down. */
function exposedFiles(dataDir: string, root: string): { readable: string[]; writable: string[] } {
  const readable: string[] = [];
  const writable: string[] = [];
  const reachable = (path: string) => {
    // Every folder from DATA_DIR to the file's own folder must let others through.
    const parts = relative(dataDir, path).split(sep).slice(0, -1);
    let folder = dataDir;
    if ((lstatSync(folder).mode & 0o001) === 0) return false;
    for (const part of parts) {
      folder = join(folder, part);
      if ((lstatSync(folder).mode & 0o001) === 0) return false;
    }
    return true;
  };
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      const info = lstatSync(path);
      if (info.isDirectory()) walk(path);
      else if (reachable(path)) {
        if (info.mode & 0o004) readable.push(relative(dataDir, path));
        if (info.mode & 0o002) writable.push(relative(dataDir, path));
      }
    }
  };
  walk(root);
  return { readable, writable };
}

describe.runIf(!url)('the embedded database\'s files and other local users', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('parley restore builds a database no other local user can read or change', { timeout: 120_000 }, async () => {
    // DATA_DIR as an operator has it: a folder of its own, made 0755 by the system (umask 022).
    const sourceDir = join(processes.tempDir('parley-perm-src-'), 'data');
    // Each step takes seconds; one that has not ended in 35 s is named with what it printed (in one
    // CI run the whole test ran past its 120 s, with nothing to tell which step waited).
    const step = (args: string[], dataDir: string) => processes.run(args, { DATA_DIR: dataDir }, { deadlineMs: 35_000 });
    const told = (name: string, answer: { stdout: string; stderr: string }) => `${name}: ${answer.stdout}${answer.stderr}`;
    const migrate = await step(['migrate'], sourceDir);
    expect(migrate.code, told('migrate', migrate)).toBe(0);
    const file = join(processes.tempDir('parley-perm-file-'), 'all-tenants.backup');
    const backup = await step(['backup', file], sourceDir);
    expect(backup.code, told('backup', backup)).toBe(0);
    expect(lstatSync(file).mode & 0o077).toBe(0); // the backup file itself is kept private

    const restoredDir = join(processes.tempDir('parley-perm-dst-'), 'data');
    const restore = await step(['restore', file], restoredDir);
    expect(restore.code, told('restore', restore)).toBe(0);
    const { readable, writable } = exposedFiles(restoredDir, join(restoredDir, 'pglite'));
    expect(writable.slice(0, 5), `${writable.length} files of the restored database are writable by any local user`).toEqual([]);
    expect(readable.slice(0, 5), `${readable.length} files of the restored database are readable by any local user`).toEqual([]);
  });

  it('parley migrate on a new DATA_DIR creates a database no other local user can read or change', { timeout: 60_000 }, async () => {
    const dataDir = join(processes.tempDir('parley-perm-new-'), 'data');
    const migrate = await processes.run(['migrate'], { DATA_DIR: dataDir });
    expect(migrate.code, migrate.stderr).toBe(0);
    const { readable, writable } = exposedFiles(dataDir, join(dataDir, 'pglite'));
    expect(writable.slice(0, 5), `${writable.length} files of the new database are writable by any local user`).toEqual([]);
    expect(readable.slice(0, 5), `${readable.length} files of the new database are readable by any local user`).toEqual([]);
  });
});
