import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { assertDataDirIsFolder } from './config/data-dir.js';
import { pgliteDirFor } from './db/client.js';

/**
 * For a command that reads the database a server made (`users`, `export`). Opened where there was
 * none (a mistyped DATA_DIR, or the default ./data from another working folder), it was created
 * there, 40 MB, and the command answered `no local user named "alice"` as if the server's
 * database lacked her.
 */
export function requireEmbeddedDatabase(config: { databaseUrl: string | null; dataDir: string }): void {
  if (config.databaseUrl) return;
  assertDataDirIsFolder(config.dataDir);
  const folder = resolve(pgliteDirFor(config.dataDir));
  if (existsSync(join(folder, 'PG_VERSION'))) return;
  throw new Error(
    `no embedded database in ${folder}: set DATA_DIR to the server's (a relative DATA_DIR is taken from the working folder, ${process.cwd()}), or DATABASE_URL to its PostgreSQL; nothing was created`,
  );
}
