import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.js';
import { assertDataDirIsFolder } from './data-dir.js';
import { ConfigError } from './errors.js';
import { describeDiskError } from '../lib/disk-errors.js';

/**
 * Outside production, a missing JWT secret is generated once and kept in the data
 * folder so tokens survive restarts. Production refuses to start without one (config.ts).
 */
export function resolveJwtSecret(config: Config): { secret: string; generated: boolean } {
  if (config.jwtSecret) return { secret: config.jwtSecret, generated: false };
  assertDataDirIsFolder(config.dataDir);
  const file = join(config.dataDir, 'jwt-secret');
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), generated: false };
  const secret = randomBytes(48).toString('base64url');
  try {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  } catch (error) {
    // Was `EROFS: read-only file system, open '…/jwt-secret'`, naming neither way out.
    const problem = describeDiskError(config.dataDir, error);
    if (!problem) throw error;
    throw new ConfigError(`cannot keep a generated JWT secret in DATA_DIR (${config.dataDir}): ${problem}; set JWT_SECRET, or make DATA_DIR writable`);
  }
  return { secret, generated: true };
}
