// `parley backup <file>` and `parley restore <file>`: the embedded database (PGlite) of DATA_DIR,
// with its generated JWT secret, to a file and back. A backup is asked of the server running on
// DATA_DIR, through DATA_DIR/parley.sock (features/backup), so it is taken while chats go on; with
// no server running the folder is opened here. A restore needs the server stopped: it builds the
// database in a folder beside the current one, opens it once to check it, then swaps it in and
// keeps the old one. On PostgreSQL (DATABASE_URL) both refuse: pg_dump and pg_restore do this.
import { chmodSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createPglite } from './db/pglite.js';
import { syncTree } from './db/pglite-durable.js';
import { loadConfig, type Config, type Env } from './config/config.js';
import { readEnvironment } from './config/env.js';
import { pgliteDirFor, usePglite } from './db/client.js';
import { connectDatabase, folderProblem } from './db/connect.js';
import { describeDiskError } from './lib/disk-errors.js';
import { loadMigrations } from './db/migrate.js';
import { outputTarget } from './lib/output-target.js';
import { partialName, removeStalePartials } from './lib/partial-file.js';
import { USAGE } from './cli-usage.js';
import { onStopSignal, signalStatus } from './lib/stop-signals.js';
import { VERSION } from './lib/version.js';
import { appliedMigrations, checkArchive, JWT_SECRET_FILE, makeBackup, readBackup, unpackArchive, type BackupHeader, type OpenedBackup } from './features/backup/backup-file.js';
import { ask, BackupError, holdDataDir, socketAddress } from './features/backup/control-socket.js';

export const BACKUP_USAGE = USAGE.backup;
export const RESTORE_USAGE = USAGE.restore;

export interface BackupIo {
  /** Progress and the closing lines. */
  stderr: NodeJS.WritableStream;
}

/** Where the backup's bytes come from: the running server, or the folder opened here. */
interface Source {
  bytes: number;
  chunks: AsyncIterable<Buffer>;
  from: string;
  close(): void | Promise<void>;
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function fileArgument(argv: string[], usage: string): string {
  let positionals: string[];
  try {
    ({ positionals } = parseArgs({ args: argv, options: {}, allowPositionals: true, strict: true }));
  } catch (error) {
    throw new BackupError('usage', `${(error as Error).message}\nusage: ${usage}`);
  }
  if (positionals.length !== 1 || !positionals[0]) throw new BackupError('usage', `usage: ${usage}`);
  return positionals[0];
}

function embeddedOnly(env: Env, command: 'backup' | 'restore') {
  const config = loadConfig(env);
  if (config.databaseUrl) {
    const tool = command === 'backup' ? 'pg_dump (pg_dump -Fc "$DATABASE_URL" -f parley.dump)' : 'pg_restore (pg_restore -d "$DATABASE_URL" parley.dump)';
    throw new BackupError('postgres_configured', `parley ${command} works on the embedded database only; with DATABASE_URL set, use ${tool}`);
  }
  return config;
}

/** The server running on DATA_DIR sends its copy; null when no process holds the folder. */
async function fromServer(dataDir: string, io: BackupIo): Promise<Source | null> {
  const asked = await ask(dataDir, { op: 'backup' });
  if (!asked) return null;
  const { first, reader, socket } = asked;
  try {
    if (!first.ok) throw new BackupError('data_dir_in_use', first.message);
    io.stderr.write(`backup: the server running on DATA_DIR (pid ${first.pid}) is copying its database\n`);
    const ready = await reader.line<{ ok: true; bytes: number } | { ok: false; message: string }>();
    if (!ready) throw new BackupError('backup_failed', 'the server hung up before sending the backup (did it stop?); try again');
    if (!ready.ok) throw new BackupError('backup_failed', ready.message);
    return { bytes: ready.bytes, chunks: reader.rest(), from: `the running server (pid ${first.pid})`, close: () => void socket.destroy() };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * A disk ext4 turned read-only after an error is when a backup is wanted most, and the database
 * cannot be opened there (nor the socket made): said was only `cannot create …/parley.sock: EROFS`.
 * A copy of the folder on a writable disk opens, as after a crash.
 */
function unwritableFolder(dataDir: string): BackupError | null {
  const problem = folderProblem(dataDir);
  if (!problem) return null;
  return new BackupError(
    'disk_failed',
    `cannot open the embedded database in DATA_DIR (${dataDir}) to back it up: ${problem}; to back it up meanwhile, copy that folder to a writable disk (cp -a) and run parley backup with DATA_DIR set to the copy`,
  );
}

/** No server runs: the folder is held (so none starts meanwhile), opened and copied here. */
async function fromFolder(config: Config, io: BackupIo): Promise<Source> {
  const { dataDir } = config;
  const folder = pgliteDirFor(dataDir);
  if (!existsSync(join(folder, 'PG_VERSION'))) throw new BackupError('no_database', `no embedded database in ${folder}: nothing to back up`);
  const hold = await holdDataDir(dataDir, 'backup').catch((error: unknown) => {
    throw (error instanceof BackupError && error.code === 'socket_unavailable' && unwritableFolder(dataDir)) || error;
  });
  try {
    io.stderr.write(`backup: no server is running on DATA_DIR; copying ${folder}\n`);
    const database = await connectDatabase(config);
    try {
      const backup = await makeBackup(database, dataDir, { live: false });
      return { bytes: backup.bytes, chunks: backup.stream(), from: 'DATA_DIR, with no server running', close: () => backup.discard() };
    } finally {
      await database.close();
    }
  } finally {
    await hold.release();
  }
}

/**
 * Ctrl-C, a cron job's timeout or a closed terminal while the file is written: Node's default ends
 * the process at once and its partial file stayed beside the backups. It goes, and the exit status
 * is the signal's, as a shell expects. Returns the function that puts Node's default back.
 */
function removeOnStop(partial: string, io: BackupIo): () => void {
  const stop = (signal: NodeJS.Signals) => {
    rmSync(partial, { force: true });
    io.stderr.write(`backup: stopped by ${signal} before the backup was complete; nothing was kept\n`);
    process.exit(signalStatus(signal));
  };
  return onStopSignal(stop);
}

/**
 * Ctrl-C, a timeout's SIGTERM or a closed SSH session while the new database is built: Node's
 * default left DATA_DIR/pglite.restoring-<time>, as large as what was written, until a later
 * restore (a stopped restore is often followed by starting the server again instead), and the
 * socket file. Both go; the database that was there has not been touched. Returns the function
 * that puts Node's default back, called in the same turn as the swap's renames.
 */
function undoOnStop(fresh: string, dataDir: string, io: BackupIo): () => void {
  const stop = (signal: NodeJS.Signals) => {
    rmSync(fresh, { recursive: true, force: true });
    rmSync(socketAddress(dataDir), { force: true });
    io.stderr.write(`restore: stopped by ${signal} before the restored database took the old one's place; nothing was changed\n`);
    process.exit(signalStatus(signal));
  };
  return onStopSignal(stop);
}

/** Writes `<file>.<pid>.partial`, checks what landed there against the backup's checksum, then renames it to `file`. */
async function writeAtomically(file: string, source: Source, io: BackupIo): Promise<BackupHeader> {
  const partial = partialName(file);
  await removeStalePartials(file);
  const keepDefaults = removeOnStop(partial, io);
  let written = 0;
  let shownAt = Date.now();
  async function* counted() {
    for await (const chunk of source.chunks) {
      written += chunk.length;
      if (Date.now() - shownAt >= 1_000) {
        shownAt = Date.now();
        io.stderr.write(`backup: ${megabytes(written)} of ${megabytes(source.bytes)} written\n`);
      }
      yield chunk;
    }
  }
  try {
    await pipeline(Readable.from(counted()), createWriteStream(partial, { mode: 0o600 }));
    if (written !== source.bytes) throw new BackupError('backup_failed', `the copy was cut short after ${written} of ${source.bytes} bytes (did the server stop?); try again`);
    const { header } = await readBackup(partial)
      .then(async (written) => (await checkArchive(written), written))
      .catch((error: Error) => {
        throw new BackupError('backup_failed', `the file written does not check out (${error.message}); try again`);
      });
    // A backup is kept for the day the disk fails: it is on the disk before it takes its name.
    syncTree(partial, { recursive: false });
    // In the same turn of the event loop as the rename: a stop signal cannot come between them.
    renameSync(partial, file);
    keepDefaults();
    syncTree(dirname(resolve(file)), { recursive: false });
    return header;
  } catch (error) {
    await unlink(partial).catch(() => {});
    const problem = describeDiskError(dirname(resolve(file)), error);
    throw problem ? new BackupError('disk_failed', `cannot save the backup as ${file}: ${problem}; nothing was kept there`) : error;
  } finally {
    keepDefaults();
    await source.close();
  }
}

export async function runBackup(argv: string[], env: Env, io: BackupIo): Promise<BackupHeader> {
  const file = fileArgument(argv, BACKUP_USAGE);
  const config = embeddedOnly(env, 'backup');
  const target = outputTarget(file, 'backup');
  const began = performance.now();
  const source = (await fromServer(config.dataDir, io)) ?? (await fromFolder(config, io));
  const header = await writeAtomically(target, source, io);
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  io.stderr.write(
    `backup: wrote ${file} (${megabytes(source.bytes)}; a ${megabytes(header.database.data_bytes)} database at migration ${header.migrations.at(-1) ?? 'none'}, Parley ${header.parley_version}) from ${source.from} in ${seconds} s\n`,
  );
  return header;
}

/** Migrations this code lacks mean a newer Parley made the backup: refused. Returns those still to apply. */
function pendingMigrations(file: string, header: BackupHeader): string[] {
  const known = loadMigrations().map((migration) => migration.id);
  const unknown = header.migrations.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    throw new BackupError(
      'backup_too_new',
      `${file} was made by Parley ${header.parley_version} at migration ${unknown.at(-1)}, which this Parley (${VERSION}) does not have; upgrade Parley, then restore`,
    );
  }
  return known.filter((id) => !header.migrations.includes(id));
}

/** DATA_DIR's disk failing under a restore: the disk is named, not the backup, which may well be sound. */
function diskFailed(dataDir: string, problem: string) {
  return new BackupError('disk_failed', `cannot restore into DATA_DIR (${dataDir}): ${problem}; nothing was changed, and the backup is not at fault`);
}

/** Unpacks the backup into the fresh folder: a damaged or crafted file, or a failing disk, leaves nothing there. */
async function unpackInto(fresh: string, dataDir: string, backup: OpenedBackup): Promise<void> {
  try {
    await unpackArchive(backup, fresh);
  } catch (error) {
    rmSync(fresh, { recursive: true, force: true });
    if (error instanceof BackupError) throw error;
    const problem = describeDiskError(dataDir, error) ?? folderProblem(dataDir);
    if (problem) throw diskFailed(dataDir, problem);
    throw error;
  }
}

/** Under this the server refuses writes: a restore that leaves less would start a server that cannot serve. */
const RESTORE_RESERVE_BYTES = 64 * 1024 * 1024;

/** Refuses, before anything is written, a database the disk has no room for (its size is what the header names). */
function checkRestoreRoom(dataDir: string, backup: OpenedBackup): void {
  const { bavail, bsize } = statfsSync(dataDir);
  const free = Number(bavail) * Number(bsize);
  const needed = backup.header.database.data_bytes + RESTORE_RESERVE_BYTES;
  if (free < needed) {
    throw new BackupError(
      'no_room',
      `restoring ${backup.file} needs about ${Math.ceil(needed / 1024 / 1024)} MB in DATA_DIR (${dataDir}) and its disk has ${Math.floor(free / 1024 / 1024)} MB free: make room there first; nothing was changed`,
    );
  }
}

/**
 * Builds the database in a fresh folder, opens it once and syncs it: a backup that does not open
 * changes nothing, and neither does a disk that fails meanwhile.
 */
async function buildFolder(fresh: string, dataDir: string, backup: OpenedBackup): Promise<void> {
  const { header } = backup;
  rmSync(fresh, { recursive: true, force: true });
  // Becomes DATA_DIR's database: other local users kept out, as openDatabase keeps them out of it.
  mkdirSync(fresh, { recursive: true, mode: 0o700 });
  await unpackInto(fresh, dataDir, backup);
  try {
    const database = await usePglite(createPglite(fresh));
    try {
      const migrations = await appliedMigrations(database.sql);
      if (migrations.join() !== header.migrations.join()) throw new Error('its migrations are not those its header names');
    } finally {
      await database.close();
    }
  } catch (error) {
    rmSync(fresh, { recursive: true, force: true });
    // PGlite only says it "failed to initialize properly": the disk is asked before the backup is blamed.
    const problem = folderProblem(dataDir);
    if (problem) throw diskFailed(dataDir, problem);
    throw new BackupError('backup_failed', `the backup's database (PostgreSQL ${header.database.pg_version}) could not be opened: ${(error as Error).message}; nothing was changed`);
  }
  try {
    // On the disk before it takes the old one's place: a power loss just after must not leave empty files.
    syncTree(fresh);
  } catch (error) {
    rmSync(fresh, { recursive: true, force: true });
    const problem = describeDiskError(dataDir, error);
    throw problem ? diskFailed(dataDir, problem) : error;
  }
}

/** The backup's generated JWT secret in DATA_DIR/jwt-secret; a different one there is kept aside. */
function restoreSecret(dataDir: string, secret: string, stamp: string): string | null {
  const file = join(dataDir, JWT_SECRET_FILE);
  let kept: string | null = null;
  if (existsSync(file)) {
    if (readFileSync(file, 'utf8').trim() === secret) return null;
    kept = `${file}.before-restore-${stamp}`;
    renameSync(file, kept);
  }
  const next = `${file}.restoring-${stamp}`;
  writeFileSync(next, `${secret}\n`, { mode: 0o600 });
  chmodSync(next, 0o600);
  renameSync(next, file);
  return kept;
}

export interface RestoreSummary {
  header: BackupHeader;
  previous: string | null;
  pending: string[];
}

/** The closing lines: what was restored, where the old database is, and what the JWT secret means now. */
function describeRestore(file: string, dataDir: string, summary: RestoreSummary, envSecret: boolean, keptSecret: string | null): string {
  const { header, previous, pending } = summary;
  const lines = [`restore: DATA_DIR (${dataDir}) now holds the database of ${file} (made ${header.created_at} by Parley ${header.parley_version})`];
  if (previous) lines.push(`restore: the previous database is kept in ${previous}; remove it once the restored one serves`);
  if (header.jwt_secret) {
    lines.push(`restore: the backup's generated JWT secret is in ${join(dataDir, JWT_SECRET_FILE)}${keptSecret ? ` (the previous one is kept in ${keptSecret})` : ''}`);
    if (envSecret) lines.push('restore: JWT_SECRET is set, so that file is not used: sessions a server signed with it (one without JWT_SECRET) end');
  } else if (!envSecret) {
    lines.push('restore: the backup holds no generated JWT secret: start the server with the same JWT_SECRET as the backed-up one, or its sessions end');
  }
  if (pending.length > 0) lines.push(`restore: ${pending.length} newer migration(s) will be applied when the server starts`);
  lines.push('restore: start the server with parley serve');
  return `${lines.join('\n')}\n`;
}

/**
 * Folders of restores that were stopped (killed, the machine lost power) before their rename:
 * never a database anyone uses, taking the room the server needs. Removed under the hold.
 */
function removeUnfinishedRestores(target: string, io: BackupIo): void {
  const folder = dirname(target);
  const prefix = `${basename(target)}.restoring-`;
  for (const name of existsSync(folder) ? readdirSync(folder) : []) {
    if (!name.startsWith(prefix)) continue;
    io.stderr.write(`restore: removing ${join(folder, name)}, left by a restore that did not finish\n`);
    rmSync(join(folder, name), { recursive: true, force: true });
  }
}

/** The new database built in `fresh`, then put in `target`'s place; returns where the old one is kept. */
async function buildAndSwap(fresh: string, target: string, stamp: string, dataDir: string, backup: OpenedBackup, io: BackupIo): Promise<string | null> {
  const keepDefaults = undoOnStop(fresh, dataDir, io);
  try {
    await buildFolder(fresh, dataDir, backup);
    // Two renames in one folder: the old database stays whole under its new name whatever happens.
    const previous = existsSync(target) ? `${target}.before-restore-${stamp}` : null;
    if (previous) renameSync(target, previous);
    renameSync(fresh, target);
    keepDefaults();
    return previous;
  } finally {
    keepDefaults();
  }
}

export async function runRestore(argv: string[], env: Env, io: BackupIo): Promise<RestoreSummary> {
  const file = fileArgument(argv, RESTORE_USAGE);
  const config = embeddedOnly(env, 'restore');
  const backup = await readBackup(file);
  const { header } = backup;
  const pending = pendingMigrations(file, header);
  // Held for the whole restore: refused while a server runs, and no server starts meanwhile.
  const hold = await holdDataDir(config.dataDir, 'restore');
  try {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const target = pgliteDirFor(config.dataDir);
    removeUnfinishedRestores(target, io);
    checkRestoreRoom(config.dataDir, backup);
    const fresh = `${target}.restoring-${stamp}`;
    io.stderr.write(`restore: building the database of ${file} in ${fresh}\n`);
    const previous = await buildAndSwap(fresh, target, stamp, config.dataDir, backup, io);
    syncTree(config.dataDir, { recursive: false });
    const keptSecret = header.jwt_secret ? restoreSecret(config.dataDir, header.jwt_secret, stamp) : null;
    const summary = { header, previous, pending };
    io.stderr.write(describeRestore(file, config.dataDir, summary, config.jwtSecret !== null, keptSecret));
    return summary;
  } finally {
    await hold.release();
  }
}

export async function backupCommand(argv: string[]): Promise<void> {
  await runBackup(argv, readEnvironment(), { stderr: process.stderr });
}

export async function restoreCommand(argv: string[]): Promise<void> {
  await runRestore(argv, readEnvironment(), { stderr: process.stderr });
}
