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

/**
 * Opens the configured database and waits for it to answer, retrying for up to DATABASE_WAIT
 * (a database container often starts after the app); then gives up with one clear line.
 */
export async function connectDatabase(config: Config): Promise<Database> {
  const waitMs = config.databaseWaitMs;
  const database = await openDatabase({ url: config.databaseUrl, pgliteDir: pgliteDirFor(config.dataDir), poolMax: config.databasePoolMax, prepare: config.databasePrepare, appRole: config.databaseAppRole });
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await database.sql.query('SELECT 1');
      return database;
    } catch (error) {
      if (Date.now() + 500 >= deadline) {
        await database.close().catch(() => {});
        const where = config.databaseUrl ? `DATABASE_URL (${describeDatabaseUrl(config.databaseUrl)})` : `the embedded database in ${config.dataDir}`;
        const reason = describeError(error);
        throw new DatabaseUnreachableError(`cannot reach ${where} after ${attempt} attempts over ${Math.round(waitMs / 1000)}s: ${reason.code ?? reason.message}`);
      }
      await sleep(500);
    }
  }
}
