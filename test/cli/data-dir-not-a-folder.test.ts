// A DATA_DIR that names a file (a mistyped path, a backup file given as the folder, a volume mounted
// onto a file), a path under a file, or a link to a folder that is not there (its disk not
// mounted). Each command says so in one line, naming the file, and leaves the file as it was;
// `parley doctor` says so too rather than telling its operator to run `parley migrate`, which
// could not make the database there.
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();
const { tempDir, run } = cli;

afterAll(() => cli.cleanUp());

const CONTENT = 'not a folder: an operator file that must stay as it was\n';

/** A file where DATA_DIR should be. */
function fileAsDataDir(): string {
  const file = join(tempDir('parley-datadir-file-'), 'data');
  writeFileSync(file, CONTENT);
  return file;
}

/** Exit 1 and one line on stderr that names the file and says it is not a folder. */
function refusedAsNotAFolder(result: { code: number | null; stderr: string }, file: string): void {
  expect(result.stderr, result.stderr).toMatch(/^parley: [^\n]+\n$/);
  expect(result.stderr).toContain(`${file} is a file, not a folder`);
  expect(result.stderr).toMatch(/DATA_DIR/);
  expect(result.code).toBe(1);
  expect(readFileSync(file, 'utf8')).toBe(CONTENT);
}

describe('a DATA_DIR that is a file', () => {
  let backup = '';
  beforeAll(async () => {
    const dataDir = tempDir('parley-datadir-source-');
    expect((await run(['migrate'], { DATA_DIR: dataDir })).code).toBe(0);
    backup = join(tempDir('parley-datadir-backup-'), 'parley.backup');
    const made = await run(['backup', backup], { DATA_DIR: dataDir });
    expect(made.code, made.stderr).toBe(0);
  }, 120_000);

  const commands: Array<[string, () => string[]]> = [
    ['serve', () => ['serve']],
    ['migrate', () => ['migrate']],
    ['users', () => ['users', 'promote', 'alice']],
    ['export', () => ['export', '--chatbot', '00000000-0000-4000-8000-000000000000']],
    ['backup', () => ['backup', join(tempDir('parley-datadir-out-'), 'out.backup')]],
    ['restore', () => ['restore', backup]],
  ];
  for (const [name, args] of commands) {
    it(`is refused by parley ${name} in one line naming it`, { timeout: 60_000 }, async () => {
      const file = fileAsDataDir();
      refusedAsNotAFolder(await run(args(), { DATA_DIR: file, PORT: '0', LOG_LEVEL: 'warn' }), file);
    });
  }

  it('is refused when DATA_DIR lies under it', { timeout: 60_000 }, async () => {
    const file = fileAsDataDir();
    refusedAsNotAFolder(await run(['migrate'], { DATA_DIR: join(file, 'parley') }), file);
  });

  it('fails parley doctor\'s database line with what to do, not "run: parley migrate"', { timeout: 60_000 }, async () => {
    const file = fileAsDataDir();
    const doctor = await run(['doctor'], { DATA_DIR: file });
    expect(doctor.code).toBe(1);
    const line = doctor.stdout.split('\n').find((text) => text.startsWith('FAIL  database'));
    expect(line, doctor.stdout).toContain(`${file} is a file, not a folder`);
    expect(line).toMatch(/→ .*DATA_DIR/);
    expect(doctor.stdout).not.toMatch(/run: parley migrate/);
    expect(readFileSync(file, 'utf8')).toBe(CONTENT);
  });

  it('that is a link to a missing folder is refused as such, and nothing is made where it leads', { timeout: 60_000 }, async () => {
    const target = join(tempDir('parley-datadir-unmounted-'), 'disk', 'parley');
    const link = join(tempDir('parley-datadir-link-'), 'data');
    symlinkSync(target, link);
    const migrate = await run(['migrate'], { DATA_DIR: link });
    expect(migrate.stderr, migrate.stderr).toMatch(/^parley: [^\n]+\n$/);
    expect(migrate.stderr).toContain(`${link} is a link to ${target}, which does not exist`);
    expect(migrate.code).toBe(1);
    const doctor = await run(['doctor'], { DATA_DIR: link });
    expect(doctor.stdout).toMatch(/^FAIL {2}database .* is a link to .* which does not exist → mount the disk it leads to/m);
    expect(existsSync(target)).toBe(false);
  });
});
