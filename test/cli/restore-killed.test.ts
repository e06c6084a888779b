// A `parley restore` killed while it writes the database (the OOM killer, Ctrl-\, a reboot) leaves
// DATA_DIR/pglite.restoring-<time>: a half-written database as large as what it had written. A
// backup's work folder left by a dead process is removed by the next backup (removeLeftovers);
// the restore's was never removed nor named, and stayed on the disk the server needs room on (it
// refuses writes under 64 MB free). The next restore removes it now, and says so.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { folderBytes } from '../../src/features/backup/tar-folder.js';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(!url)('a parley restore that was killed', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('leaves no half-written database behind: the next restore removes it and says so', { timeout: 300_000 }, async () => {
    const sourceDir = join(processes.tempDir('parley-killed-src-'), 'data');
    expect((await processes.run(['migrate'], { DATA_DIR: sourceDir })).code).toBe(0);
    const files = processes.tempDir('parley-killed-files-');
    const small = join(files, 'small.backup');
    expect((await processes.run(['backup', small], { DATA_DIR: sourceDir })).code).toBe(0);
    const db = createPglite(join(sourceDir, 'pglite'));
    await db.exec('CREATE TABLE bulk_text (t text); ALTER TABLE bulk_text ALTER COLUMN t SET STORAGE EXTERNAL');
    await db.query(`INSERT INTO bulk_text SELECT (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 1000) g) FROM generate_series(1, 2000) i`);
    await db.close();
    const large = join(files, 'large.backup');
    expect((await processes.run(['backup', large], { DATA_DIR: sourceDir })).code).toBe(0);

    const dataDir = join(processes.tempDir('parley-killed-dst-'), 'data');
    const restoring = () => (existsSync(dataDir) ? readdirSync(dataDir).filter((name) => name.startsWith('pglite.restoring-')) : []);
    const killed = processes.start(['restore', large], { DATA_DIR: dataDir });
    // Killed once it has written 40 MB of the new database.
    let written = 0;
    while (killed.child.exitCode === null && written < 40 * 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const [folder] = restoring();
      written = folder ? await folderBytes(join(dataDir, folder)).catch(() => 0) : 0;
    }
    killed.child.kill('SIGKILL');
    await killed.exited;
    const left = restoring();
    expect(left).toHaveLength(1);

    const again = await processes.run(['restore', small], { DATA_DIR: dataDir });
    expect(again.code, again.stderr).toBe(0);
    // The killed restore's folder is gone, and the restore said so.
    expect(restoring()).toEqual([]);
    expect(again.stderr).toContain(`removing ${join(dataDir, left[0]!)}, left by a restore that did not finish`);
  });
});
