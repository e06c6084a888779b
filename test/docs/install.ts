// An installation as docs/deploy.md lays it out, on this machine: the environment file written
// by the guide's own script, and the guide's shell blocks with its paths and port made local.
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { freePort } from '../helpers/ports.js';
import { guideBlock, psqlOk, replaceAll, ROOT, shellOk, startShell, tempDir, waitForServer, type Started } from './guide.js';

/** The connection string the guide's environment file names. */
export const DOCUMENTED_DATABASE_URL = 'postgres://parley:change-me@127.0.0.1:5432/parley';
const EMBEDDED = 'embedded-database';

export interface Install {
  etc: string;
  envFile: string;
  port: number;
  base: string;
  /** A guide block with the guide's paths and port replaced by this installation's. */
  local(name: string): string;
  /** Appends lines to the environment file, as the guide asks for each addition. */
  append(lines: string): void;
  env(): Record<string, string>;
  /** The guide's `serve` block, running. */
  serve(): Promise<Started>;
}

export interface InstallOptions {
  /** null: the embedded database (the DATABASE_URL lines are taken out). */
  databaseUrl: string | null;
  appRole?: string;
  port?: number;
  /** Another instance of the same deployment: that one's environment file, on another port. */
  copyOf?: Install;
}

/** The guide's `production-env` script, with /etc/parley and /var/lib/parley in temporary folders. */
async function writeEnvironment(options: { etc: string; data: string; port: number; databaseUrl: string | null; appRole?: string }): Promise<void> {
  let script = replaceAll(guideBlock('production-env'), [
    ['/etc/parley', options.etc],
    ['/var/lib/parley', options.data],
    ['PORT=8000', `PORT=${options.port}`],
    [DOCUMENTED_DATABASE_URL, options.databaseUrl ?? EMBEDDED],
  ]);
  if (options.appRole) script = replaceAll(script, [[/\bparley_app\b/, options.appRole]]);
  await shellOk(script);
  if (options.databaseUrl) return;
  const envFile = join(options.etc, 'parley.env');
  const kept = readFileSync(envFile, 'utf8').split('\n').filter((line) => !line.startsWith('DATABASE_URL=') && !line.startsWith('DATABASE_APP_ROLE='));
  writeFileSync(envFile, kept.join('\n'));
}

/** An installation: its environment file written by the guide's script (or copied from `copyOf`). */
export async function install(options: InstallOptions): Promise<Install> {
  const etc = join(tempDir('parley-etc-'), 'parley');
  const data = tempDir('parley-data-');
  const port = options.port ?? (await freePort());
  const envFile = join(etc, 'parley.env');
  if (options.copyOf) {
    mkdirSync(etc, { recursive: true });
    writeFileSync(envFile, readFileSync(options.copyOf.envFile, 'utf8').replace(/^PORT=.*$/m, `PORT=${port}`), { mode: 0o600 });
  } else {
    await writeEnvironment({ etc, data, port, databaseUrl: options.databaseUrl, appRole: options.appRole });
  }
  const base = `http://127.0.0.1:${port}`;
  const local = (name: string) =>
    guideBlock(name).split('/opt/parley').join(ROOT).split('/etc/parley').join(etc).split('127.0.0.1:8000').join(`127.0.0.1:${port}`);
  const self: Install = {
    etc,
    envFile,
    port,
    base,
    local,
    append: (lines) => appendFileSync(envFile, lines.endsWith('\n') ? lines : `${lines}\n`),
    env: () => parseEnv(readFileSync(envFile, 'utf8')) as Record<string, string>,
    async serve() {
      const server = startShell(local('serve'));
      await waitForServer(base, server);
      return server;
    },
  };
  return self;
}

/** `VAR=value` lines. */
export const envLines = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');

/**
 * A connection string to the local server for `user` and `database`, from one of the guide's
 * (whose host, port and TLS settings belong to a managed service: the local server has no TLS).
 */
export function localDatabaseUrl(superuserUrl: string, user: string, database: string): string {
  const local = new URL(superuserUrl);
  local.username = user;
  local.password = 'change-me';
  local.pathname = `/${database}`;
  local.search = '';
  return local.toString();
}

/** Databases and roles made for one test file on the shared server, dropped afterwards. */
export function cluster(superuserUrl: string) {
  const drops: string[] = [];
  return {
    id: () => randomBytes(4).toString('hex'),
    /** Runs as the superuser; `undo` statements run in reverse order at cleanup. */
    async run(sql: string, ...undo: string[]) {
      drops.unshift(...undo);
      await psqlOk(superuserUrl, sql);
    },
    async cleanup() {
      for (const statement of drops.splice(0)) await psqlOk(superuserUrl, statement).catch((error: Error) => console.error(`cleanup: ${error.message}`));
    },
  };
}
