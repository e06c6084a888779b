// `parley restore` of a file that unpacks to far more than it holds (a gzip bomb: zeros compress
// a thousandfold). The header names what the archive unpacks to; a restore that believed only the
// disk wrote until the disk was full, then said the backup was not at fault. DATA_DIR sits on a
// tmpfs of its own, so only it could fill up; mounting one needs root, as CI and the test machines run.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarHeader } from '../../src/features/backup/tar-folder.js';
import { cliProcesses } from '../helpers/cli-process.js';

const url = process.env.TEST_DATABASE_URL;
const MiB = 1024 * 1024;

/** Exit 1, progress lines at most, and one line saying why: returned. */
function refused(result: { code: number | null; stderr: string }): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr, result.stderr).toMatch(/^(restore: [^\n]+\n)*parley: [^\n]+\n$/);
  return result.stderr.trim().split('\n').at(-1)!;
}

describe.runIf(!url)('parley restore of a file that unpacks to more than the disk holds', () => {
  const cli = cliProcesses();
  const mountPoint = mkdtempSync(join(tmpdir(), 'parley-bomb-disk-'));
  const freeBytes = () => {
    const disk = statfsSync(mountPoint);
    return Number(disk.bavail) * Number(disk.bsize);
  };

  beforeAll(() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`this test mounts a 200 MB tmpfs as DATA_DIR's disk, which needs root: ${(error as Error).message}`);
    }
  });
  afterAll(() => {
    cli.cleanUp();
    execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('refuses it in one line, naming the file and not the disk, and writes no more than the header names', { timeout: 180_000 }, async () => {
    const sourceDir = cli.tempDir('parley-bomb-source-');
    expect((await cli.run(['migrate'], { DATA_DIR: sourceDir })).code).toBe(0);
    const files = cli.tempDir('parley-bomb-files-');
    const good = join(files, 'good.backup');
    expect((await cli.run(['backup', good], { DATA_DIR: sourceDir })).code).toBe(0);
    const bytes = readFileSync(good);
    const magicEnd = bytes.indexOf(10) + 1;
    const headerEnd = bytes.indexOf(10, magicEnd) + 1;
    const header = JSON.parse(bytes.subarray(magicEnd, headerEnd - 1).toString('utf8')) as { database: { data_bytes: number; bytes: number; sha256: string } };
    const tar = gunzipSync(bytes.subarray(headerEnd));

    // A real database's archive with a 1 GiB file of zeros added: gzip members of 1 MiB of zeros
    // each, a thousandfold smaller, one after another (gunzip reads them as one stream).
    const bombBytes = 1024 * MiB;
    const zeros = gzipSync(Buffer.alloc(MiB));
    const payload = Buffer.concat([
      gzipSync(Buffer.concat([tar.subarray(0, tar.length - 1024), tarHeader({ name: '/bomb', mode: 0o600, size: bombBytes, mtimeMs: Date.now(), directory: false })])),
      ...Array.from({ length: bombBytes / MiB }, () => zeros),
      gzipSync(Buffer.alloc(1024)),
    ]);
    expect(payload.length).toBeLessThan(10 * MiB);
    const craft = (name: string, dataBytes: number) => {
      const database = { ...header.database, data_bytes: dataBytes, bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') };
      const file = join(files, name);
      writeFileSync(file, Buffer.concat([bytes.subarray(0, magicEnd), Buffer.from(`${JSON.stringify({ ...header, database })}\n`), payload]));
      return file;
    };

    const dataDir = join(mountPoint, 'data');
    const restore = (file: string) => cli.run(['restore', file], { DATA_DIR: dataDir });
    const free = freeBytes();

    // The header names the database's own size: the extra gigabyte is refused as the file's fault.
    let lowest = free;
    const watch = setInterval(() => (lowest = Math.min(lowest, freeBytes())), 20);
    const lying = refused(await restore(craft('lying.backup', header.database.data_bytes)).finally(() => clearInterval(watch)));
    expect(lying).toMatch(/lying\.backup's database unpacks to more than the \d+ MB its header names: the file is damaged or was made to fill the disk; nothing was changed$/);
    // What was written stayed within the size the header names, far from the disk's 200 MB.
    expect(free - lowest).toBeLessThan(header.database.data_bytes + 16 * MiB);

    // The header names the whole gigabyte: refused before anything is written.
    const honest = refused(await restore(craft('honest.backup', tar.length - 1024 + 512 + bombBytes + 1024)));
    expect(honest).toMatch(/restoring .*honest\.backup needs about 1\d{3} MB in DATA_DIR \(.*\) and its disk has \d+ MB free: make room there first; nothing was changed$/);

    expect(readdirSync(dataDir).filter((name) => name.startsWith('pglite'))).toEqual([]);
    expect(freeBytes()).toBeGreaterThan(free - MiB);
    // The true backup restores on the same disk.
    const restored = await restore(good);
    expect(restored.code, restored.stderr).toBe(0);
  });
});
