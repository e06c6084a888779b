// A backup file: a line naming the format, a line of JSON describing the backup, then the
// embedded database's data folder as a gzip tarball in the layout PGlite writes (dumpDataDir) and
// reads back (the loadDataDir option). It is made on the disk, a piece at a time (tar-folder.ts),
// not in memory, and restored the same way (untar-folder.ts).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, open, readdir, rm, stat, statfs } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { pgliteDirFor, type Database, type SqlRunner } from '../../db/client.js';
import { processAlive } from '../../lib/process-alive.js';
import { VERSION } from '../../lib/version.js';
import { BackupError } from './control-socket.js';
import { folderBytes, tarFolder } from './tar-folder.js';
import { untarFolder, UntarError } from './untar-folder.js';

export const BACKUP_MAGIC = 'PARLEY-BACKUP 1\n';
const MAX_HEADER_BYTES = 1024 * 1024;
export const JWT_SECRET_FILE = 'jwt-secret';

export interface BackupHeader {
  parley_version: string;
  created_at: string;
  /** Migrations the database had applied, in order: a restore refuses one it does not know. */
  migrations: string[];
  database: {
    engine: 'pglite';
    /** PostgreSQL's version inside PGlite: a data folder opens only with the same major version. */
    pg_version: string;
    /** The data folder's tarball before compression, and the gzip of it that follows the header. */
    data_bytes: number;
    bytes: number;
    sha256: string;
  };
  /** DATA_DIR/jwt-secret, the generated development secret, when there is one: without it every session ends. */
  jwt_secret: string | null;
}

export interface Backup {
  header: BackupHeader;
  bytes: number;
  /** How long queries waited for the copy of the data folder. */
  lockedMs: number;
  /** The file's bytes in order: the two header lines, then the compressed archive read from the disk. */
  stream(): AsyncIterable<Buffer>;
  /** Removes what the backup left in DATA_DIR's work folder: once the stream was read, or given up. */
  discard(): Promise<void>;
}

/** The PGlite instance under a Database (Drizzle's documented `$client`). */
export function pgliteOf(database: Database): PGlite {
  const client = (database.app.db as { $client?: unknown }).$client;
  if (database.kind !== 'pglite' || !(client instanceof PGlite)) throw new Error('the database is not an embedded PGlite');
  return client;
}

export async function appliedMigrations(sql: Pick<SqlRunner, 'query'>): Promise<string[]> {
  const [ledger] = await sql.query<{ present: boolean }>("SELECT to_regclass('parley_migrations') IS NOT NULL AS present");
  if (!ledger?.present) return [];
  return (await sql.query<{ id: string }>('SELECT id FROM parley_migrations ORDER BY id')).map((row) => row.id);
}

/**
 * The data folder at one point in time. PGlite runs PostgreSQL in this process: between two
 * statements of a running transaction, and without what PostgreSQL still keeps in memory (a turn
 * commits its first statement with synchronous_commit off, so its WAL may not be written yet), the
 * files are not a database. So they are taken inside a transaction of its own, which waits for
 * the running one and keeps every other out, after a CHECKPOINT there has written all WAL and
 * dirty pages to the files. A server's folder is copied beside it on the disk (queries wait for
 * that copy only); with nothing else running on the folder, it is read where it is.
 */
async function takeDataFolder(database: Database, folder: string, copy: string | null) {
  let lockedMs = 0;
  const taken = await database.sql.transaction(async (tx) => {
    const began = performance.now();
    await tx.exec('CHECKPOINT');
    const migrations = await appliedMigrations(tx);
    const [version] = await tx.query<{ server_version: string }>('SHOW server_version');
    if (copy) await cp(folder, copy, { recursive: true });
    lockedMs = performance.now() - began;
    return { migrations, pgVersion: version?.server_version ?? 'unknown' };
  });
  return { ...taken, lockedMs };
}

/** The generated development secret kept beside the database, if there is one. */
function generatedSecret(dataDir: string): string | null {
  const file = join(dataDir, JWT_SECRET_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
}

const WORK_PREFIX = '.backup-';
const RESERVE_BYTES = 64 * 1024 * 1024;
const megabytes = (bytes: number) => `${Math.ceil(bytes / 1024 / 1024)} MB`;

/** Work folders of backups whose process died before it removed them. */
async function removeLeftovers(dataDir: string) {
  for (const name of await readdir(dataDir)) {
    const pid = Number(name.startsWith(WORK_PREFIX) ? name.slice(WORK_PREFIX.length).split('-')[0] : NaN);
    if (Number.isInteger(pid) && !processAlive(pid)) await rm(join(dataDir, name), { recursive: true, force: true });
  }
}

/** Refuses, before anything is written, a backup the disk has no room for: the copy (when there is one) and the archive. */
async function checkRoom(dataDir: string, folder: string, copying: boolean) {
  const size = await folderBytes(folder);
  // A data folder compresses to a fraction of its size; a quarter leaves room to spare.
  const needed = (copying ? size : 0) + Math.ceil(size / 4) + RESERVE_BYTES;
  const { bavail, bsize } = await statfs(dataDir);
  const free = bavail * bsize;
  if (free < needed) {
    throw new BackupError(
      'no_room',
      `a backup is made in DATA_DIR (${dataDir}) first: ${copying ? `a copy of the ${megabytes(size)} database, then ` : ''}its compressed archive, about ${megabytes(needed)} with the reserve, and the disk has ${megabytes(free)} free; make room there first`,
    );
  }
}

/** `folder` as a gzip tarball in `archive`, a piece at a time: the tarball's size, the archive's size and its SHA-256. */
async function archiveFolder(folder: string, archive: string) {
  const digest = createHash('sha256');
  let dataBytes = 0;
  let bytes = 0;
  await pipeline(
    Readable.from(tarFolder(folder)),
    async function* (tar: AsyncIterable<Buffer>) {
      for await (const chunk of tar) {
        dataBytes += chunk.length;
        yield chunk;
      }
    },
    createGzip(),
    async function* (gzip: AsyncIterable<Buffer>) {
      for await (const chunk of gzip) {
        digest.update(chunk);
        bytes += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(archive, { mode: 0o600 }),
  );
  return { dataBytes, bytes, sha256: digest.digest('hex') };
}

/**
 * A backup of `database`, the embedded database of `dataDir`, written to a work folder in
 * DATA_DIR and read from there. `live`: a server is using the database, so its folder is copied
 * under the lock and archived afterwards; otherwise nothing else uses it and it is archived in place.
 */
export async function makeBackup(database: Database, dataDir: string, options: { live: boolean }): Promise<Backup> {
  pgliteOf(database); // refuses anything but an embedded database, before anything is written
  const folder = pgliteDirFor(dataDir);
  await removeLeftovers(dataDir);
  await checkRoom(dataDir, folder, options.live);
  const work = join(dataDir, `${WORK_PREFIX}${process.pid}-${Date.now()}`);
  const discard = () => rm(work, { recursive: true, force: true });
  try {
    await mkdir(work, { mode: 0o700 });
    const copy = options.live ? join(work, 'pglite') : null;
    const { migrations, pgVersion, lockedMs } = await takeDataFolder(database, folder, copy);
    const archive = join(work, 'data.tar.gz');
    const { dataBytes, bytes, sha256 } = await archiveFolder(copy ?? folder, archive);
    if (copy) await rm(copy, { recursive: true, force: true });
    const header: BackupHeader = {
      parley_version: VERSION,
      created_at: new Date().toISOString(),
      migrations,
      database: { engine: 'pglite', pg_version: pgVersion, data_bytes: dataBytes, bytes, sha256 },
      jwt_secret: generatedSecret(dataDir),
    };
    const lines = [Buffer.from(BACKUP_MAGIC), Buffer.from(`${JSON.stringify(header)}\n`)];
    return {
      header,
      bytes: lines[0]!.length + lines[1]!.length + bytes,
      lockedMs,
      async *stream() {
        yield* lines;
        yield* createReadStream(archive) as AsyncIterable<Buffer>;
      },
      discard,
    };
  } catch (error) {
    await discard();
    throw error;
  }
}

/**
 * A restore reads its file more than once (the header, then the archive from its offset, the
 * checksum again when it breaks): a pipe (`<(curl …)`, `… | parley restore /dev/stdin`) gave it
 * nothing to read a second time, and a good backup was called "not a Parley backup".
 */
function notAFile(file: string, kind: Stats): BackupError {
  if (kind.isDirectory()) return new BackupError('not_a_backup', `${file} is a folder, not a backup file`);
  const what = kind.isFIFO() ? 'a pipe' : kind.isSocket() ? 'a socket' : 'a device';
  return new BackupError('not_a_backup', `${file} is ${what}, not a file: a restore reads its backup more than once; save the backup to a file first (then restore from that file)`);
}

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

function checkHeader(value: unknown): value is BackupHeader {
  const header = value as Partial<BackupHeader> | null;
  const database = header?.database as Partial<BackupHeader['database']> | undefined;
  return (
    typeof header?.parley_version === 'string' &&
    typeof header.created_at === 'string' &&
    isStrings(header.migrations) &&
    database?.engine === 'pglite' &&
    typeof database.bytes === 'number' &&
    Number.isSafeInteger(database.data_bytes) &&
    database.data_bytes! >= 0 &&
    typeof database.sha256 === 'string' &&
    (header.jwt_secret === null || typeof header.jwt_secret === 'string')
  );
}

/** A backup file's header, and where its archive lies in the file. */
export interface OpenedBackup {
  header: BackupHeader;
  file: string;
  /** The archive's first byte in the file; the archive runs to its end. */
  offset: number;
}

/**
 * Reads and checks a backup file's header, and that the archive after it has the size the header
 * names: one that is not a backup, or is cut short, is refused in one line. The archive is not
 * read here: its checksum is checked as it is streamed (`checkArchive`, `unpackArchive`).
 */
export async function readBackup(file: string): Promise<OpenedBackup> {
  let head: Buffer;
  let size: number;
  try {
    // Looked at before it is opened: opening a named pipe waits for a writer, maybe forever.
    const kind = await stat(file);
    if (!kind.isFile()) throw notAFile(file, kind);
    const handle = await open(file, 'r');
    try {
      size = (await handle.stat()).size;
      head = Buffer.alloc(Math.min(size, BACKUP_MAGIC.length + MAX_HEADER_BYTES + 1));
      await handle.read(head, 0, head.length, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof BackupError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new BackupError('not_a_backup', code === 'ENOENT' ? `no file ${file}` : `cannot read ${file}: ${code ?? (error as Error).message}`);
  }
  const notBackup = new BackupError('not_a_backup', `${file} is not a Parley backup (one made by parley backup)`);
  if (!head.subarray(0, BACKUP_MAGIC.length).equals(Buffer.from(BACKUP_MAGIC))) throw notBackup;
  const end = head.indexOf(10, BACKUP_MAGIC.length);
  if (end < 0) throw notBackup;
  let header: unknown;
  try {
    header = JSON.parse(head.subarray(BACKUP_MAGIC.length, end).toString('utf8'));
  } catch {
    throw notBackup;
  }
  if (!checkHeader(header)) throw notBackup;
  if (size - (end + 1) !== header.database.bytes) throw damaged(file);
  return { header, file, offset: end + 1 };
}

const damaged = (file: string) => new BackupError('not_a_backup', `${file} is cut short or damaged (its database does not match its checksum); use another backup`);

/** The archive's bytes as read from the file, counted into `digest`. */
async function* archiveOf(backup: OpenedBackup, digest: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(backup.file, { start: backup.offset }) as AsyncIterable<Buffer>) {
    digest.update(chunk);
    yield chunk;
  }
}

/** Streams the archive through its checksum: a damaged one is refused in one line. */
export async function checkArchive(backup: OpenedBackup): Promise<void> {
  const digest = createHash('sha256');
  for await (const chunk of archiveOf(backup, digest)) void chunk;
  if (digest.digest('hex') !== backup.header.database.sha256) throw damaged(backup.file);
}

/**
 * Unpacks the archive into the empty folder `folder` as it is read, gunzipped and checked: the
 * file is never held whole in memory. A checksum that does not match at the end, or an archive
 * that breaks first in a file whose checksum does not match, is a damaged file; one that matches
 * but does not unpack (a crafted file, or a foreign tarball) is refused with what is wrong in it.
 */
export async function unpackArchive(backup: OpenedBackup, folder: string): Promise<void> {
  const digest = createHash('sha256');
  const limit = backup.header.database.data_bytes;
  let unpacked = 0;
  // Thrown inside the pipeline, it reaches the caller as the next step's AbortError: kept here.
  let tooLarge: BackupError | null = null;
  try {
    await pipeline(
      archiveOf(backup, digest),
      createGunzip(),
      // Zeros compress a thousandfold: a 5 MB file unpacked a gigabyte until the disk was full.
      // What the header names is what may be written, and its room is checked before.
      async function* (tar: AsyncIterable<Buffer>) {
        for await (const chunk of tar) {
          unpacked += chunk.length;
          if (unpacked > limit) {
            tooLarge = new BackupError('not_a_backup', `${backup.file}'s database unpacks to more than the ${Math.ceil(limit / 1024 / 1024)} MB its header names: the file is damaged or was made to fill the disk; nothing was changed`);
            throw tooLarge;
          }
          yield chunk;
        }
      },
      async (tar: AsyncIterable<Buffer>) => {
        await untarFolder(tar, folder);
      },
    );
  } catch (error) {
    if (tooLarge) throw tooLarge;
    if (error instanceof UntarError || (error as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      await checkArchive(backup);
      throw new BackupError('not_a_backup', `${backup.file}'s database cannot be restored: ${error instanceof UntarError ? error.message : `its archive is not a whole gzip stream (${(error as Error).message})`}`);
    }
    throw error;
  }
  if (digest.digest('hex') !== backup.header.database.sha256) throw damaged(backup.file);
}
