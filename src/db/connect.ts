import { closeSync, existsSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { describeDiskError } from '../lib/disk-errors.js';
import { openDatabase, pgliteDirFor, type Database } from './client.js';
import { describeDatabaseUrl } from './database-url.js';
import { databaseErrorCode, describeError } from './errors.js';
import type { PgliteFreeze } from './pglite-freeze.js';

export { describeDatabaseUrl };

export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

/**
 * Why PostgreSQL could not start in this folder, when the folder says: PGlite itself only says it
 * "failed to initialize properly" (a disk turned read-only after an error, a folder of another
 * user, a disk that cannot save what is written to it). Also asked by backup and restore.
 */
export function folderProblem(dir: string): string | null {
  const target = existsSync(dir) ? dir : dirname(dir);
  // A file made, synced and removed, not access(2): a disk ext4 turned read-only after an error
  // still passes that, and a disk whose writes fail to reach it takes writes into the page cache.
  const probe = join(target, `.parley-write-check-${process.pid}`);
  let fd: number | null = null;
  try {
    fd = openSync(probe, 'w');
    writeSync(fd, 'parley');
    fdatasyncSync(fd);
    return null;
  } catch (error) {
    return describeDiskError(target, error);
  } finally {
    if (fd !== null) {
      closeSync(fd);
      rmSync(probe, { force: true });
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const RETRY_MS = 500;

/** Rejects once `ms` have passed; the query itself is left to close(). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'no answer' })), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const LOGIN_REFUSED = { problem: 'refused the login', fix: 'check the user and password in DATABASE_URL' };

/**
 * Answers PostgreSQL gives at once and keeps giving: no wait changes them, so they are said
 * without waiting out DATABASE_WAIT, with what to do (`parley doctor` says the same).
 */
const REFUSALS: Record<string, { problem: string; fix: string }> = {
  '28P01': LOGIN_REFUSED,
  '28000': LOGIN_REFUSED,
  '3D000': { problem: 'the database does not exist', fix: 'create it (createdb) or correct its name in DATABASE_URL' },
};

/** What a refusal means and what to do, with its code; null for anything else. */
export function refusalOf(error: unknown): { code: string; problem: string; fix: string } | null {
  const code = databaseErrorCode(error);
  const refusal = code ? REFUSALS[code] : undefined;
  return code && refusal ? { code, ...refusal } : null;
}

/**
 * Opens the configured database and waits for it to answer, retrying for up to DATABASE_WAIT
 * (a database container often starts after the app); then gives up with one clear line.
 * The wait counts from `startedAt`, by default the process's start: whoever launched us sees
 * the exit within DATABASE_WAIT, loading the modules (a second or more on a busy machine) included.
 */
export async function connectDatabase(config: Config, options: { startedAt?: number; freezeLog?: PgliteFreeze['log'] } = {}): Promise<Database> {
  const { startedAt = performance.timeOrigin, freezeLog } = options;
  const waitMs = config.databaseWaitMs;
  // Only a server freezes: the CLI's commands and `parley doctor` leave the folder as they found it.
  const pgliteFreeze = freezeLog ? { age: config.pgliteFreezeAge, log: freezeLog } : undefined;
  const database = await openDatabase({ url: config.databaseUrl, pgliteDir: pgliteDirFor(config.dataDir), pgliteSharedBuffers: config.pgliteSharedBuffers, pgliteOptimize: config.pgliteWasmOptimize, pgliteFsync: config.pgliteFsync, pgliteFreeze, poolMax: config.databasePoolMax, stallMs: config.databaseStallMs, idleMs: config.databaseIdleMs, prepare: config.databasePrepare, appRole: config.databaseAppRole, appUrl: config.databaseAppUrl }).catch((error: unknown) => {
    const problem = config.databaseUrl ? null : folderProblem(pgliteDirFor(config.dataDir));
    throw problem ? new DatabaseUnreachableError(`cannot open the embedded database in DATA_DIR (${config.dataDir}): ${problem}`, { cause: error }) : error;
  });
  const deadline = startedAt + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const probe = database.sql.query('SELECT 1');
      // A server that accepts connections and then stays silent must not hold us past the deadline.
      await (database.kind === 'postgres' ? within(probe, Math.max(deadline - Date.now(), RETRY_MS)) : probe);
      return database;
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal || Date.now() + RETRY_MS >= deadline) {
        // Nothing of ours is running: a pending connect attempt is cut rather than awaited.
        await database.close({ graceSeconds: 0 }).catch(() => {});
        const where = config.databaseUrl ? `DATABASE_URL (${describeDatabaseUrl(config.databaseUrl)})` : `the embedded database in ${config.dataDir}`;
        if (refusal) throw new DatabaseUnreachableError(`${where}: ${refusal.problem} (${refusal.code}); ${refusal.fix}`);
        const reason = describeError(error);
        throw new DatabaseUnreachableError(`cannot reach ${where} after ${attempt} attempts over ${Math.round(waitMs / 1000)}s: ${reason.code ?? reason.message}`);
      }
      await sleep(RETRY_MS);
    }
  }
}
