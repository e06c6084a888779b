import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Env } from './config.js';

/**
 * The process environment merged over `.env` (when present in the working directory):
 * variables set in the environment win, as in every dotenv convention.
 * This module and config.ts are the only readers of process.env.
 */
export function readEnvironment(cwd = process.cwd()): Env {
  const file = `${cwd}/.env`;
  const fromFile = existsSync(file) ? (parseEnv(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  return { ...fromFile, ...process.env };
}
