// A backup's tar stream unpacked into a folder a piece at a time, the counterpart of tar-folder.ts.
// PGlite's loadDataDir held the whole archive in memory, gunzipped, before writing a file: a
// 242 MB database took 1.1 GB to restore. The archive comes from a file anyone may hand to
// `parley restore`, so only what a data folder holds is written: folders and regular files, named
// inside the folder, each inside a folder the archive made before it. Anything else refuses the
// restore rather than being skipped: no backup Parley or PGlite wrote holds it.
import { mkdir, open } from 'node:fs/promises';
import { resolve, sep } from 'node:path';

const BLOCK = 512;
/** Where PGlite keeps the data folder in its own file system: its dumpDataDir names entries from there. */
const PGDATA = '/pglite/data';

export class UntarError extends Error {}

/** Bytes of an async stream of pieces, taken a header or a file at a time. */
class Pieces {
  private piece: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    while (this.piece.length === 0 && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else this.piece = next.value;
    }
    return this.piece.length > 0;
  }

  /** Up to `limit` bytes, or null at the end of the stream. */
  async take(limit: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const taken = this.piece.subarray(0, limit);
    this.piece = this.piece.subarray(taken.length);
    return taken;
  }

  /** Exactly `length` bytes (a header block): copied, since it is kept past the next piece. */
  async exactly(length: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < length) {
      const part = await this.take(length - got);
      if (!part) return null;
      parts.push(part);
      got += part.length;
    }
    return Buffer.concat(parts, length);
  }

  /** Reads the rest, so that a gzip stream cut short or a checksum further on still fails. */
  async drain(): Promise<void> {
    while (await this.take(Infinity));
  }
}

const text = (block: Buffer, offset: number, length: number) => {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
};

function octal(block: Buffer, offset: number, length: number, name: string): number {
  const digits = text(block, offset, length).trim();
  if (!/^[0-7]*$/.test(digits)) throw new UntarError(`the archive's entry ${name} has a malformed header`);
  return digits ? parseInt(digits, 8) : 0;
}

/**
 * A file's size: octal digits, or from 8 GiB on GNU tar's base-256 form (tar-folder.ts): the first
 * byte 0x80, the size big-endian in the rest. A negative one (first byte 0xff) or one past what a
 * number here holds exactly is no file's size.
 */
function sizeOf(block: Buffer, name: string): number {
  if (block[124]! < 0x80) return octal(block, 124, 12, name);
  const size = block[124] === 0x80 ? BigInt(`0x${block.subarray(125, 136).toString('hex')}`) : -1n;
  if (size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER)) throw new UntarError(`the archive's entry ${name} gives a size no file has`);
  return Number(size);
}

/**
 * A file's time. Backups made before tar-folder.ts kept times in the field's range hold a time
 * before 1970 as a negative number ('-2264012400', or '000000000-1'): such a backup is a good one,
 * and no file's time matters to the database, so it is taken as 0 (the file keeps the restore's
 * time) rather than refused.
 */
function mtimeOf(block: Buffer, name: string): number {
  return /^0*-[0-7]+$/.test(text(block, 136, 12).trim()) ? 0 : octal(block, 136, 12, name);
}

interface Entry {
  name: string;
  kind: 'file' | 'folder';
  size: number;
  mtime: number;
}

const KINDS: Record<string, string> = { '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '6': 'a fifo', '7': 'a contiguous file', x: 'a pax extended header', g: 'a pax global header', L: 'a GNU long name', K: 'a GNU long link name' };

/** One header block, checked (exported for its tests): its checksum (as tinytar computes it, the field counted as spaces), its magic and its type. */
export function parseHeader(block: Buffer): Entry {
  const name = text(block, 0, 100);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  if (octal(block, 148, 8, name) !== sum % 262144 || !block.subarray(257, 262).equals(Buffer.from('ustar'))) {
    throw new UntarError(`the archive's entry after ${JSON.stringify(name)} is not a tar header (checksum or magic)`);
  }
  // ustar's name prefix: neither writer uses it (tinytar keeps its times past byte 476).
  if (block[345] !== 0) throw new UntarError(`the archive's entry ${name} has a name prefix, which no backup has`);
  const type = String.fromCharCode(block[156]!);
  if (type !== '0' && type !== '\0' && type !== '5') {
    throw new UntarError(`the archive holds ${name}, ${KINDS[type] ?? `an entry of type ${JSON.stringify(type)}`}, which a database folder never does`);
  }
  return { name, kind: type === '5' ? 'folder' : 'file', size: sizeOf(block, name), mtime: mtimeOf(block, name) };
}

/**
 * The entry's path in `root`, or null for the root itself. PGlite names entries from the data
 * folder with a leading slash (loadDataDir puts them under its PGDATA); some with that PGDATA.
 */
function placeOf(root: string, name: string, folders: Set<string>): string | null {
  let relative = name === PGDATA || name.startsWith(`${PGDATA}/`) ? name.slice(PGDATA.length) : name;
  if (relative.startsWith('/')) relative = relative.slice(1);
  if (relative.endsWith('/')) relative = relative.slice(0, -1);
  if (relative === '' || relative === '.') return null;
  const parts = relative.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) throw new UntarError(`the archive names ${JSON.stringify(name)}, outside the database's folder`);
  const path = resolve(root, relative);
  if (!path.startsWith(root + sep)) throw new UntarError(`the archive names ${JSON.stringify(name)}, outside the database's folder`);
  const parent = resolve(path, '..');
  // Both writers put a folder before what it holds: anything else is not a backup's data folder.
  if (parent !== root && !folders.has(parent)) throw new UntarError(`the archive names ${JSON.stringify(name)}, whose folder it does not hold`);
  return path;
}

async function writeFile(pieces: Pieces, path: string, entry: Entry): Promise<void> {
  // 'wx': a name given twice, or anything already there, is not followed or overwritten.
  const handle = await open(path, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' ? new UntarError(`the archive names ${JSON.stringify(entry.name)} twice`) : error;
  });
  try {
    let left = entry.size;
    while (left > 0) {
      const piece = await pieces.take(left);
      if (!piece) throw new UntarError(`the archive ends inside ${entry.name} (${left} of its ${entry.size} bytes missing)`);
      await handle.write(piece);
      left -= piece.length;
    }
    if (entry.mtime > 0) await handle.utimes(entry.mtime, entry.mtime);
  } finally {
    await handle.close();
  }
}

async function skipPadding(pieces: Pieces, entry: Entry): Promise<void> {
  const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
  if (padding > 0 && !(await pieces.exactly(padding))) throw new UntarError(`the archive ends after ${entry.name}`);
}

/** Unpacks the tar stream `source` into the empty folder `root`: the files written and their bytes. */
export async function untarFolder(source: AsyncIterable<Buffer>, folder: string): Promise<{ files: number; bytes: number }> {
  // Entries' places are compared with it as absolute paths: a relative DATA_DIR (README's default
  // ./data) had every entry of every backup refused as "outside the database's folder".
  const root = resolve(folder);
  const pieces = new Pieces(source[Symbol.asyncIterator]());
  const folders = new Set<string>();
  let files = 0;
  let bytes = 0;
  for (;;) {
    const block = await pieces.exactly(BLOCK);
    if (!block) throw new UntarError('the archive ends before its end marker');
    if (block.every((byte) => byte === 0)) break;
    const entry = parseHeader(block);
    const path = placeOf(root, entry.name, folders);
    if (entry.kind === 'folder') {
      // A folder named again is taken as it is; a file's name given again for a folder is not.
      if (path) await mkdir(path, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
        if (!folders.has(path)) throw new UntarError(`the archive names ${JSON.stringify(entry.name)} twice`);
      });
      if (path) folders.add(path);
      continue;
    }
    if (!path) throw new UntarError(`the archive names a file ${JSON.stringify(entry.name)} at the folder's own place`);
    await writeFile(pieces, path, entry);
    await skipPadding(pieces, entry);
    files++;
    bytes += entry.size;
  }
  const second = await pieces.exactly(BLOCK);
  if (!second || !second.every((byte) => byte === 0)) throw new UntarError('the archive ends before its end marker');
  await pieces.drain();
  return { files, bytes };
}
