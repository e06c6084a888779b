import { readFileSync, statSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Env } from './config.js';
import { ConfigError } from './errors.js';

/** `.env`'s variables; none when there is no such file. */
function readEnvFile(file: string): Record<string, string> {
  const found = statSync(file, { throwIfNoEntry: false });
  if (!found) return {};
  // `docker run -v ./.env:/app/.env` makes a folder of a file that was missing; reading it said only
  // `EISDIR: illegal operation on a directory, read`.
  if (!found.isFile()) throw new ConfigError(`${file} is ${found.isDirectory() ? 'a folder' : 'not a regular file'}, not a file of variables (a container mount of a missing file makes a folder): remove it, or make it a file`);
  // A byte order mark (Notepad's UTF-8) became part of the first name, which was then never read.
  return parseEnv(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as Record<string, string>;
}

/**
 * The process environment merged over `.env` (when present in the working directory):
 * variables set in the environment win, as in every dotenv convention.
 * This module and config.ts are the only readers of process.env.
 */
export function readEnvironment(cwd = process.cwd()): Env {
  return { ...readEnvFile(`${cwd}/.env`), ...process.env };
}
