// `parley restore` of a backup file made to attack the machine: its header and checksum are right
// (anyone can compute them), and its archive names a place outside the data folder or holds a
// symbolic link. The restore refuses it in one line naming the entry, exits 1, and leaves DATA_DIR
// and the folders around it as they were (the folder it was building removed).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKUP_MAGIC } from '../../src/features/backup/backup-file.js';
import { tarHeader } from '../../src/features/backup/tar-folder.js';
import { cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();
afterAll(() => cli.cleanUp());

function entry(name: string, body: string, type = '0', link = ''): Buffer {
  const bytes = Buffer.from(body);
  const block = tarHeader({ name: 'x', mode: 0o600, size: bytes.length, mtimeMs: 0, directory: type === '5' });
  block.fill(0, 0, 100);
  block.write(name, 0, 'utf8');
  block.write(type, 156, 'latin1');
  block.write(link, 157, 'utf8');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([block, bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)]);
}

/** A backup file with `good`'s header, made right for the archive `tar`. */
function backupFile(good: Buffer, tar: Buffer): Buffer {
  const headerEnd = good.indexOf(10, BACKUP_MAGIC.length) + 1;
  const header = JSON.parse(good.subarray(BACKUP_MAGIC.length, headerEnd - 1).toString('utf8'));
  const archive = gzipSync(Buffer.concat([tar, Buffer.alloc(1024)]));
  header.database = { ...header.database, data_bytes: tar.length + 1024, bytes: archive.length, sha256: createHash('sha256').update(archive).digest('hex') };
  return Buffer.concat([Buffer.from(BACKUP_MAGIC), Buffer.from(`${JSON.stringify(header)}\n`), archive]);
}

describe('parley restore of a hostile backup file', () => {
  it('refuses names outside the data folder and symbolic links, in one line, writing nothing', { timeout: 120_000 }, async () => {
    const source = cli.tempDir('parley-hostile-source-');
    expect((await cli.run(['migrate'], { DATA_DIR: source })).code).toBe(0);
    const files = cli.tempDir('parley-hostile-files-');
    const good = join(files, 'good.backup');
    expect((await cli.run(['backup', good], { DATA_DIR: source })).code).toBe(0);
    const goodBytes = readFileSync(good);

    const cases = [
      { file: 'parent.backup', tar: entry('/../escaped', 'owned'), says: /"\/\.\.\/escaped", outside the database's folder/ },
      { file: 'deeper.backup', tar: Buffer.concat([entry('/base', '', '5'), entry('/base/../../../escaped', 'owned')]), says: /outside the database's folder/ },
      { file: 'link.backup', tar: Buffer.concat([entry('/base', '', '2', '/'), entry('/base/escaped', 'owned')]), says: /\/base, a symbolic link, which a database folder never does/ },
    ];
    for (const { file, tar, says } of cases) {
      const parent = cli.tempDir('parley-hostile-target-');
      const dataDir = join(parent, 'data');
      mkdirSync(dataDir);
      writeFileSync(join(files, file), backupFile(goodBytes, tar));
      const restore = await cli.run(['restore', join(files, file)], { DATA_DIR: dataDir });
      expect(restore.code, restore.stderr).toBe(1);
      // Its progress line, then the refusal: one line.
      const refusals = restore.stderr.split('\n').filter((line) => line.startsWith('parley: '));
      expect(refusals, restore.stderr).toHaveLength(1);
      expect(restore.stderr.trimEnd().split('\n').at(-1)).toBe(refusals[0]);
      expect(restore.stderr).toMatch(says);
      expect(restore.stderr).toContain(`${file}'s database cannot be restored`);
      expect(readdirSync(parent, { recursive: true }).map(String)).toEqual(['data']);
    }
  });
});
