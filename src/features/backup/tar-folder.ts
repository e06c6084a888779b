// A folder as a tar stream, read from the disk a piece at a time, in the layout PGlite's own
// dumpDataDir writes and its loadDataDir reads (its bundled tinytar): every folder and file under
// the root, named from the root with a leading slash, folders before what they hold. PGlite's
// dumpDataDir builds the whole tarball in memory; a backup of a 151 MB database grew the server by
// 490 MB (docs/decisions.md, "A backup without the database in memory").
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const BLOCK = 512;
const READ_BYTES = 1024 * 1024;
/** tinytar reads the name field alone (not ustar's prefix): a longer name cannot be written. */
const MAX_NAME = 99;

function field(header: Buffer, offset: number, length: number, text: string) {
  header.write(text.slice(0, length), offset, 'latin1');
}

/** An octal number in `length` bytes: digits, then NUL. */
const octal = (value: number, length: number) => Math.floor(value).toString(8).padStart(length - 1, '0') + '\0';

/** The largest time the 12-byte field holds as digits and NUL, in the year 2242. */
const MAX_SECONDS = 8 ** 11 - 1;

/** The largest size the 12-byte field holds as digits and NUL: 8 GiB − 1. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/**
 * A file's size in the 12-byte field. From 8 GiB on, digits no longer fit with their NUL (and from
 * 64 GiB not at all): GNU tar's base-256 form, which it and libarchive read, holds any size; the
 * sizes every backup so far held stay digits, as tinytar (PGlite's loadDataDir) reads them.
 */
function sizeField(size: number): Buffer {
  if (size <= MAX_OCTAL_SIZE) return Buffer.from(octal(size, 12), 'latin1');
  const field = Buffer.alloc(12);
  field[0] = 0x80;
  field.writeBigUInt64BE(BigInt(size), 4);
  return field;
}

/**
 * A file's time as the header can hold it. A time before 1970 (a folder copied from a machine with
 * a wrong clock) was written as '-2264012400' and every restore of the backup refused it; the
 * database needs no file's time, so one out of the field's range is written at its nearest end.
 */
const headerSeconds = (mtimeMs: number) => Math.min(Math.max(Math.floor(mtimeMs / 1000), 0), MAX_SECONDS);

/** One header block, as tinytar writes it (its checksum covers the first 500 bytes; the rest is zero). */
export function tarHeader(entry: { name: string; mode: number; size: number; mtimeMs: number; directory: boolean }): Buffer {
  if (Buffer.byteLength(entry.name) > MAX_NAME) throw new Error(`the path ${entry.name} is too long for the backup's archive`);
  const header = Buffer.alloc(BLOCK);
  field(header, 0, 100, entry.name);
  field(header, 100, 8, octal(entry.mode & 0o777, 8));
  field(header, 108, 8, octal(0, 8));
  field(header, 116, 8, octal(0, 8));
  sizeField(entry.directory ? 0 : entry.size).copy(header, 124);
  field(header, 136, 12, octal(headerSeconds(entry.mtimeMs), 12));
  field(header, 148, 8, ' '.repeat(8));
  field(header, 156, 1, entry.directory ? '5' : '0');
  field(header, 257, 8, 'ustar\u000000');
  let sum = 0;
  for (let i = 0; i < 500; i++) sum += header[i]!;
  field(header, 148, 8, `${octal(sum % 262144, 7)} `);
  return header;
}

async function* fileBlocks(path: string, size: number): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    let left = size;
    while (left > 0) {
      const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, left));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size - left);
      if (bytesRead === 0) throw new Error(`${path} became shorter while it was read`);
      left -= bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding > 0) yield Buffer.alloc(padding);
  } finally {
    await handle.close();
  }
}

async function* entries(root: string, folder: string): AsyncGenerator<Buffer> {
  const names = (await readdir(folder)).sort();
  for (const name of names) {
    const path = join(folder, name);
    const info = await stat(path);
    const directory = info.isDirectory();
    if (!directory && !info.isFile()) continue;
    yield tarHeader({ name: path.slice(root.length), mode: info.mode, size: info.size, mtimeMs: info.mtimeMs, directory });
    if (directory) yield* entries(root, path);
    else yield* fileBlocks(path, info.size);
  }
}

/** Every folder and file under `root` as a tar archive, in pieces of at most 1 MiB. */
export async function* tarFolder(root: string): AsyncGenerator<Buffer> {
  yield* entries(root, root);
  yield Buffer.alloc(2 * BLOCK);
}

/** The bytes of the files under `root`, for the room a copy of it needs. */
export async function folderBytes(root: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(root)) {
    const path = join(root, name);
    const info = await stat(path);
    total += info.isDirectory() ? await folderBytes(path) : info.size;
  }
  return total;
}
