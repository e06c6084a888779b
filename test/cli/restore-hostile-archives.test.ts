// `parley restore` takes a file anyone may hand an operator. The archive inside is unpacked into a
// new data folder; one written to attack it names places outside that folder ("../", an absolute
// name, PGlite's own prefix followed by "..") or entries no data folder holds (symbolic and hard
// links, devices), or ends midway. Each is refused with a line naming the entry, and nothing is
// written outside the folder being built.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarHeader } from '../../src/features/backup/tar-folder.js';
import { untarFolder, UntarError } from '../../src/features/backup/untar-folder.js';

const scratch = mkdtempSync(join(tmpdir(), 'parley-hostile-archive-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Entry = { name: string; body?: string; type?: string; link?: string; sizeField?: Buffer };

/** A header as tar-folder.ts writes it, then given another type or link name, its checksum made right again. */
function header(entry: Entry): Buffer {
  const body = Buffer.from(entry.body ?? '');
  const block = tarHeader({ name: 'x', mode: 0o600, size: body.length, mtimeMs: 0, directory: entry.type === '5' });
  block.fill(0, 0, 100);
  block.write(entry.name, 0, 'utf8');
  if (entry.type) block.write(entry.type, 156, 'latin1');
  if (entry.link) block.write(entry.link, 157, 'utf8');
  entry.sizeField?.copy(block, 124);
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function archive(entries: Entry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry));
    const body = Buffer.from(entry.body ?? '');
    if (body.length > 0) parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Unpacks into a fresh folder inside a fresh parent: what the restore answered, and every name written under the parent. */
async function unpack(bytes: Buffer) {
  const parent = mkdtempSync(join(scratch, 'case-'));
  const root = join(parent, 'pglite');
  mkdirSync(root);
  const outcome = await untarFolder((async function* () { yield bytes; })(), root).then(
    (result) => ({ result, error: null }),
    (error: Error) => ({ result: null, error }),
  );
  return { ...outcome, written: readdirSync(parent, { recursive: true }).map(String).sort() };
}

describe('restoring a hostile archive', () => {
  it.each([
    ['a parent folder', '../escaped'],
    ['a parent folder after a leading slash', '/../escaped'],
    ["PGlite's own prefix then parent folders", '/pglite/data/../../escaped'],
    ['a parent folder midway', '/base/../../escaped'],
    ['an empty part', '/base//escaped'],
  ])('refuses a name with %s, writing nothing', async (_what, name) => {
    const { error, written } = await unpack(archive([{ name: '/base', type: '5' }, { name, body: 'owned' }]));
    expect(error).toBeInstanceOf(UntarError);
    expect(error!.message).toContain(JSON.stringify(name));
    expect(error!.message).toMatch(/outside the database's folder/);
    expect(written).toEqual(['pglite', 'pglite/base']);
  });

  it('keeps an absolute name inside the folder, and refuses it when the archive made no folder for it', async () => {
    const { error, written } = await unpack(archive([{ name: '/etc/cron.d/evil', body: '* * * * * root sh' }]));
    expect(error).toBeInstanceOf(UntarError);
    expect(error!.message).toMatch(/whose folder it does not hold/);
    expect(written).toEqual(['pglite']);

    const inside = await unpack(archive([{ name: '/etc', type: '5' }, { name: '/etc/passwd', body: 'root:x:0:0' }]));
    expect(inside.error).toBeNull();
    expect(inside.written).toEqual(['pglite', 'pglite/etc', 'pglite/etc/passwd']);
  });

  it.each([
    ['1', 'a hard link'],
    ['2', 'a symbolic link'],
    ['3', 'a character device'],
    ['6', 'a fifo'],
    ['L', 'a GNU long name'],
    ['x', 'a pax extended header'],
  ])('refuses an entry of type %s (%s), and what follows it', async (type, what) => {
    const { error, written } = await unpack(
      archive([{ name: '/base', type: '5' }, { name: '/base/link', type, link: '/etc/shadow' }, { name: '/base/after', body: 'after' }]),
    );
    expect(error).toBeInstanceOf(UntarError);
    expect(error!.message).toContain(`/base/link, ${what}, which a database folder never does`);
    expect(written).toEqual(['pglite', 'pglite/base']);
  });

  it('refuses a symbolic link, then a file written through it, before either is made', async () => {
    const { error, written } = await unpack(archive([{ name: '/out', type: '2', link: '..' }, { name: '/out/escaped', body: 'owned' }]));
    expect(error).toBeInstanceOf(UntarError);
    expect(written).toEqual(['pglite']);
  });

  it('refuses a name given twice rather than writing over the first', async () => {
    const { error, written } = await unpack(archive([{ name: '/PG_VERSION', body: '17' }, { name: '/PG_VERSION', body: 'owned' }]));
    expect(error!.message).toMatch(/names "\/PG_VERSION" twice/);
    expect(written).toEqual(['pglite', 'pglite/PG_VERSION']);
  });

  it('refuses a folder named as a file before it, in the same words', async () => {
    const { error, written } = await unpack(archive([{ name: '/base', body: 'a file' }, { name: '/base', type: '5' }, { name: '/base/1', body: 'x' }]));
    expect(error).toBeInstanceOf(UntarError);
    expect(error!.message).toMatch(/names "\/base" twice/);
    expect(written).toEqual(['pglite', 'pglite/base']);
  });

  it('refuses an archive cut inside a file, or before its end marker', async () => {
    const whole = archive([{ name: '/PG_VERSION', body: 'x'.repeat(2000) }]);
    expect((await unpack(whole.subarray(0, 512 + 1000))).error!.message).toMatch(/ends inside \/PG_VERSION \(1000 of its 2000 bytes missing\)/);
    expect((await unpack(whole.subarray(0, whole.length - 1024))).error!.message).toMatch(/ends before its end marker/);
    expect((await unpack(whole.subarray(0, whole.length - 512))).error!.message).toMatch(/ends before its end marker/);
    expect((await unpack(Buffer.alloc(0))).error!.message).toMatch(/ends before its end marker/);
  });

  it('refuses a file that claims more bytes than any file has, before writing it', async () => {
    const { error, written } = await unpack(archive([{ name: '/big', sizeField: Buffer.from([0x80, 0xff, ...Array(10).fill(0)]) }]));
    expect(error).toBeInstanceOf(UntarError);
    expect(error!.message).toBe("the archive's entry /big gives a size no file has");
    expect(written).toEqual(['pglite']);
  });
});
