// A backup file: a line naming the format, a line of JSON describing the backup, then the
// embedded database's data folder as PGlite writes it (dumpDataDir) and reads it back
// (the loadDataDir option): a gzip tarball.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGzip } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import type { Database, SqlRunner } from '../../db/client.js';
import { VERSION } from '../../lib/version.js';
import { BackupError } from './control-socket.js';

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
  /** The file's bytes, in order. */
  parts: Buffer[];
  bytes: number;
  /** How long queries waited for the copy of the data folder. */
  lockedMs: number;
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
 * A copy of the data folder at one point in time. PGlite's dumpDataDir copies the files under its
 * query lock only: between two statements of a running transaction, and without what PostgreSQL
 * still keeps in memory (a turn commits its first statement with synchronous_commit off, so its WAL
 * may not be written yet, and a copy made then would lose it). So the copy is made inside a
 * transaction of its own, which waits for the running one and keeps every other out, after a
 * CHECKPOINT there has written all WAL and dirty pages to the files.
 */
async function copyDataFolder(database: Database) {
  const pglite = pgliteOf(database);
  let lockedMs = 0;
  const copied = await database.sql.transaction(async (tx) => {
    const began = performance.now();
    await tx.exec('CHECKPOINT');
    const migrations = await appliedMigrations(tx);
    const [version] = await tx.query<{ server_version: string }>('SHOW server_version');
    const tarball = await pglite.dumpDataDir('none');
    lockedMs = performance.now() - began;
    return { migrations, pgVersion: version?.server_version ?? 'unknown', tarball };
  });
  return { ...copied, lockedMs };
}

/** The generated development secret kept beside the database, if there is one. */
function generatedSecret(dataDir: string): string | null {
  const file = join(dataDir, JWT_SECRET_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
}

/** A backup of `database`, the embedded database of `dataDir`, ready to be written out. */
export async function makeBackup(database: Database, dataDir: string): Promise<Backup> {
  const { migrations, pgVersion, tarball, lockedMs } = await copyDataFolder(database);
  // Compressed once the lock is let go (queries wait only for the copy), read as a stream: the
  // tarball, as large as the database, is not copied once more.
  const chunks: Buffer[] = [];
  await pipeline(Readable.fromWeb(tarball.stream() as WebReadableStream<Uint8Array>), createGzip(), async (compressing: AsyncIterable<Buffer>) => {
    for await (const chunk of compressing) chunks.push(chunk);
  });
  const compressed = Buffer.concat(chunks);
  const header: BackupHeader = {
    parley_version: VERSION,
    created_at: new Date().toISOString(),
    migrations,
    database: { engine: 'pglite', pg_version: pgVersion, data_bytes: tarball.size, bytes: compressed.length, sha256: createHash('sha256').update(compressed).digest('hex') },
    jwt_secret: generatedSecret(dataDir),
  };
  const parts = [Buffer.from(BACKUP_MAGIC), Buffer.from(`${JSON.stringify(header)}\n`), compressed];
  return { header, parts, bytes: parts.reduce((sum, part) => sum + part.length, 0), lockedMs };
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
    typeof database.sha256 === 'string' &&
    (header.jwt_secret === null || typeof header.jwt_secret === 'string')
  );
}

/** Reads and checks a backup file: one that is not a backup, or is cut short or damaged, is refused in one line. */
export async function readBackup(file: string): Promise<{ header: BackupHeader; tarball: Buffer }> {
  let buffer: Buffer;
  try {
    buffer = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BackupError('not_a_backup', code === 'ENOENT' ? `no file ${file}` : `cannot read ${file}: ${code ?? (error as Error).message}`);
  }
  const notBackup = new BackupError('not_a_backup', `${file} is not a Parley backup (one made by parley backup)`);
  if (!buffer.subarray(0, BACKUP_MAGIC.length).equals(Buffer.from(BACKUP_MAGIC))) throw notBackup;
  const end = buffer.indexOf(10, BACKUP_MAGIC.length);
  if (end < 0 || end - BACKUP_MAGIC.length > MAX_HEADER_BYTES) throw notBackup;
  let header: unknown;
  try {
    header = JSON.parse(buffer.subarray(BACKUP_MAGIC.length, end).toString('utf8'));
  } catch {
    throw notBackup;
  }
  if (!checkHeader(header)) throw notBackup;
  const tarball = buffer.subarray(end + 1);
  const damaged = tarball.length !== header.database.bytes || createHash('sha256').update(tarball).digest('hex') !== header.database.sha256;
  if (damaged) throw new BackupError('not_a_backup', `${file} is cut short or damaged (its database does not match its checksum); use another backup`);
  return { header, tarball };
}
