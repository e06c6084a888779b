// A `parley restore` stopped while it builds the new database (Ctrl-C, a timeout's SIGTERM, a
// closed SSH session). Its half-built DATA_DIR/pglite.restoring-<time> was left as large as what it
// had written, removed only by a later restore: an operator who stops a restore and starts the
// server again keeps it on the disk the server needs room on. It goes, the database that was there
// is untouched, and the command says so with the signal's status.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { folderBytes } from '../../src/features/backup/tar-folder.js';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(!url)('a parley restore stopped while it builds the database', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('removes what it built, leaves the database that was there, and says so', { timeout: 300_000 }, async () => {
    const sourceDir = join(processes.tempDir('parley-stopped-src-'), 'data');
    expect((await processes.run(['migrate'], { DATA_DIR: sourceDir })).code).toBe(0);
    const db = createPglite(join(sourceDir, 'pglite'));
    await db.exec('CREATE TABLE bulk_text (t text); ALTER TABLE bulk_text ALTER COLUMN t SET STORAGE EXTERNAL');
    await db.query(`INSERT INTO bulk_text SELECT (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 1000) g) FROM generate_series(1, 2000) i`);
    await db.close();
    const large = join(processes.tempDir('parley-stopped-files-'), 'large.backup');
    expect((await processes.run(['backup', large], { DATA_DIR: sourceDir })).code).toBe(0);

    const dataDir = join(processes.tempDir('parley-stopped-dst-'), 'data');
    expect((await processes.run(['migrate'], { DATA_DIR: dataDir })).code).toBe(0);
    const before = createPglite(join(dataDir, 'pglite'));
    await before.exec("CREATE TABLE kept_here (note text); INSERT INTO kept_here VALUES ('the database that was there')");
    await before.close();

    const restoring = () => readdirSync(dataDir).filter((name) => name.startsWith('pglite.restoring-'));
    const stopped = processes.start(['restore', large], { DATA_DIR: dataDir });
    // Stopped once it has written 20 MB of the new database.
    let written = 0;
    while (stopped.child.exitCode === null && written < 20 * 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const [folder] = restoring();
      written = folder ? await folderBytes(join(dataDir, folder)).catch(() => 0) : 0;
    }
    stopped.child.kill('SIGINT');
    expect(await stopped.exited, stopped.stderr()).toBe(130);
    expect(stopped.stderr()).toMatch(/^restore: stopped by SIGINT before the restored database took the old one's place; nothing was changed$/m);
    expect(restoring()).toEqual([]);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('pglite.before-restore-'))).toEqual([]);
    expect(existsSync(join(dataDir, 'parley.sock'))).toBe(false);

    const after = createPglite(join(dataDir, 'pglite'));
    try {
      expect((await after.query('SELECT note FROM kept_here')).rows).toEqual([{ note: 'the database that was there' }]);
    } finally {
      await after.close();
    }
  });
});
