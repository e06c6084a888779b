import type { Config } from '../config/config.js';
import { openDatabase, pgliteDirFor, type Database } from './client.js';
import { describeError } from './errors.js';

export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

/** host:port/database of a connection string, without credentials, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'the configured server';
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

/**
 * Opens the configured database and waits for it to answer, retrying for up to DATABASE_WAIT
 * (a database container often starts after the app); then gives up with one clear line.
 * The wait counts from `startedAt`, by default the process's start: whoever launched us sees
 * the exit within DATABASE_WAIT, loading the modules (a second or more on a busy machine) included.
 */
export async function connectDatabase(config: Config, startedAt = performance.timeOrigin): Promise<Database> {
  const waitMs = config.databaseWaitMs;
  const database = await openDatabase({ url: config.databaseUrl, pgliteDir: pgliteDirFor(config.dataDir), pgliteSharedBuffers: config.pgliteSharedBuffers, pgliteOptimize: config.pgliteWasmOptimize, poolMax: config.databasePoolMax, stallMs: config.databaseStallMs, prepare: config.databasePrepare, appRole: config.databaseAppRole, appUrl: config.databaseAppUrl });
  const deadline = startedAt + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const probe = database.sql.query('SELECT 1');
      // A server that accepts connections and then stays silent must not hold us past the deadline.
      await (database.kind === 'postgres' ? within(probe, Math.max(deadline - Date.now(), RETRY_MS)) : probe);
      return database;
    } catch (error) {
      if (Date.now() + RETRY_MS >= deadline) {
        // Nothing of ours is running: a pending connect attempt is cut rather than awaited.
        await database.close({ graceSeconds: 0 }).catch(() => {});
        const where = config.databaseUrl ? `DATABASE_URL (${describeDatabaseUrl(config.databaseUrl)})` : `the embedded database in ${config.dataDir}`;
        const reason = describeError(error);
        throw new DatabaseUnreachableError(`cannot reach ${where} after ${attempt} attempts over ${Math.round(waitMs / 1000)}s: ${reason.code ?? reason.message}`);
      }
      await sleep(RETRY_MS);
    }
  }
}
