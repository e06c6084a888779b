// DATA_DIR on a disk mounted read-only (a disk ext4 turned read-only after an error, a volume
// mounted `:ro`, a snapshot). `parley doctor` gave six lines of "the check failed: PGlite failed
// to initialize properly" with nothing to do, `parley serve`, with no JWT_SECRET set, stopped on
// `EROFS: read-only file system, open '…/jwt-secret'`, and `parley backup`, wanted most then, on
// `cannot create …/parley.sock: EROFS`. Each now says the disk is read-only and what to do, in
// one line, and the backup's way out works.
// DATA_DIR sits on an ext4 image of its own, loop-mounted: that needs root, as CI and the test machines run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { loopDisk, run } from '../helpers/loop-disk.js';

const url = process.env.TEST_DATABASE_URL;

// The embedded database's disk: on PostgreSQL it is the server's.
describe.runIf(!url)('DATA_DIR on a read-only disk', () => {
  const processes = cliProcesses();
  const disk = loopDisk('parley-doctor-ro-');
  const dataDir = join(disk.mountPoint, 'data');

  beforeAll(async () => {
    disk.create();
    const migrate = await processes.run(['migrate'], { DATA_DIR: dataDir });
    expect(migrate.code, migrate.stderr).toBe(0);
    run('mount', ['-o', 'remount,ro', disk.mountPoint]);
  }, 120_000);
  afterAll(() => {
    processes.cleanUp();
    disk.remove();
  });

  it('parley doctor: the database line says the disk is read-only and what to do; what needs the database is skipped', { timeout: 60_000 }, async () => {
    const doctor = await processes.run(['doctor'], { DATA_DIR: dataDir });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).not.toMatch(/failed to initialize/);
    const lines = doctor.stdout.split('\n');
    expect(lines.find((line) => line.startsWith('FAIL  database')), doctor.stdout).toMatch(/read-only file system.* → .*writable/);
    for (const name of ['migrations', 'row-security', 'admins', 'transactions']) {
      expect(lines.find((line) => line.includes(` ${name} `)), doctor.stdout).toMatch(/^skip /);
    }
  });

  it('parley serve with no JWT_SECRET: one line naming DATA_DIR, the read-only disk and JWT_SECRET', { timeout: 60_000 }, async () => {
    const serve = await processes.run(['serve'], { DATA_DIR: dataDir, PORT: '0' });
    expect(serve.code).toBe(1);
    expect(serve.stderr, serve.stderr).toMatch(/^parley: [^\n]+\n$/);
    expect(serve.stderr).toMatch(/DATA_DIR .*read-only file system.*JWT_SECRET/);
  });

  it('parley backup: one line saying why and to back up a copy, which then works', { timeout: 120_000 }, async () => {
    const out = processes.tempDir('parley-ro-backup-');
    const refused = await processes.run(['backup', join(out, 'in-place.backup')], { DATA_DIR: dataDir });
    expect(refused.code).toBe(1);
    expect(refused.stderr, refused.stderr).toMatch(/^parley: [^\n]+\n$/);
    expect(refused.stderr).toMatch(/read-only file system.*copy that folder to a writable disk \(cp -a\) and run parley backup with DATA_DIR set to the copy/);
    expect(existsSync(join(out, 'in-place.backup'))).toBe(false);

    const copy = join(processes.tempDir('parley-ro-copy-'), 'data');
    run('cp', ['-a', dataDir, copy]);
    const backup = await processes.run(['backup', join(out, 'copy.backup')], { DATA_DIR: copy });
    expect(backup.code, backup.stderr).toBe(0);
    const restored = join(processes.tempDir('parley-ro-restored-'), 'data');
    expect((await processes.run(['restore', join(out, 'copy.backup')], { DATA_DIR: restored })).code).toBe(0);
  });
});
