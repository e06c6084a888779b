// Where `parley backup <file>` (and `parley export --output <file>`) may write. Both write beside
// the file and rename onto it once whole, so the name given is replaced: a device, a pipe or a folder there must be
// refused in one line before anything is copied (run as root, `parley backup /dev/null` replaced
// the machine's /dev/null), and a symbolic link is followed as the shell's `>` follows it.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;
const cli = cliProcesses();
const { tempDir, run } = cli;

afterAll(() => cli.cleanUp());

/** Exit 1 and exactly one line on stderr, returned. */
function refused(result: { code: number | null; stderr: string }): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr, result.stderr).toMatch(/^parley: [^\n]+\n$/);
  return result.stderr.trim();
}

// The embedded database only: with DATABASE_URL set, backup points to pg_dump (backup-refusals).
describe.runIf(!url)('parley backup <file> where the file is not a plain file', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tempDir('parley-target-data-');
    const migrate = await run(['migrate'], { DATA_DIR: dataDir });
    expect(migrate.code, migrate.stderr).toBe(0);
  }, 60_000);

  it('a device or a pipe: refused before anything is copied, and left as it was', { timeout: 60_000 }, async () => {
    const folder = tempDir('parley-target-dev-');
    const device = join(folder, 'null');
    // The numbers of /dev/null: a device like the one `parley backup /dev/null` replaced.
    execFileSync('mknod', [device, 'c', '1', '3']);
    const fifo = join(folder, 'pipe');
    execFileSync('mkfifo', [fifo]);

    expect(refused(await run(['backup', device], { DATA_DIR: dataDir }))).toMatch(/null is a character device, not a file: .*name a file/);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    expect(refused(await run(['backup', fifo], { DATA_DIR: dataDir }))).toMatch(/pipe is a pipe \(fifo\), not a file: .*name a file/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(folder).sort()).toEqual(['null', 'pipe']);

    // parley export --output writes beside the file and renames onto it as well.
    const chatbot = '00000000-0000-4000-8000-000000000000';
    expect(refused(await run(['export', '--chatbot', chatbot, '--output', device], { DATA_DIR: dataDir }))).toMatch(/null is a character device, not a file: an export is written beside its name/);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    expect(refused(await run(['export', '--chatbot', chatbot, '--output', folder], { DATA_DIR: dataDir }))).toMatch(/is a folder: name a file in it/);
    expect(readdirSync(folder).sort()).toEqual(['null', 'pipe']);
  });

  it('a folder, or a file in a folder that does not exist: refused before anything is copied, naming what to do', { timeout: 60_000 }, async () => {
    const folder = tempDir('parley-target-dir-');
    expect(refused(await run(['backup', folder], { DATA_DIR: dataDir }))).toMatch(/is a folder: name a file in it, such as .*\/parley-\d{4}-\d{2}-\d{2}\.backup/);
    expect(readdirSync(folder)).toEqual([]);
    expect(refused(await run(['backup', join(folder, 'missing', 'x.backup')], { DATA_DIR: dataDir }))).toMatch(/the folder .*missing does not exist: create it first/);
    expect(readdirSync(folder)).toEqual([]);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('.backup-'))).toEqual([]);
  });

  it('a symbolic link: the backup is written where it points, and the link is kept', { timeout: 60_000 }, async () => {
    const store = tempDir('parley-target-store-');
    const here = tempDir('parley-target-link-');
    writeFileSync(join(store, 'latest.backup'), 'last week\n');
    symlinkSync(join(store, 'latest.backup'), join(here, 'latest.backup'));
    const written = await run(['backup', join(here, 'latest.backup')], { DATA_DIR: dataDir });
    expect(written.code, written.stderr).toBe(0);
    expect(lstatSync(join(here, 'latest.backup')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(store, 'latest.backup')).subarray(0, 16).toString()).toBe('PARLEY-BACKUP 1\n');

    // A link to a file not made yet, in a folder that exists: made there.
    symlinkSync(join(store, 'next.backup'), join(here, 'next.backup'));
    const next = await run(['backup', join(here, 'next.backup')], { DATA_DIR: dataDir });
    expect(next.code, next.stderr).toBe(0);
    expect(readlinkSync(join(here, 'next.backup'))).toBe(join(store, 'next.backup'));
    expect(existsSync(join(store, 'next.backup'))).toBe(true);

    // One pointing into a folder that does not exist: refused like the folder itself.
    symlinkSync(join(store, 'gone', 'x.backup'), join(here, 'dangling.backup'));
    expect(refused(await run(['backup', join(here, 'dangling.backup')], { DATA_DIR: dataDir }))).toMatch(/the folder .*gone does not exist: create it first/);
    mkdirSync(join(store, 'unused'));
    expect(readdirSync(store).sort()).toEqual(['latest.backup', 'next.backup', 'unused']);
  });
});
