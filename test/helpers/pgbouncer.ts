// A real PgBouncer (Debian's package) in front of the test PostgreSQL, in transaction mode, as
// Neon's pooled endpoint and Supabase's port 6543 are: each transaction may run on any server
// connection, so nothing a session sets may outlive its transaction.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { freePort } from './ports.js';

export const PGBOUNCER_PATH = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

const missingMessage = () => `PgBouncer not found at ${PGBOUNCER_PATH}: install Debian's pgbouncer (apt-get install -y pgbouncer) or set PGBOUNCER_PATH`;

/**
 * `describe` for tests that need PgBouncer (they run on PostgreSQL only). Without it they fail at
 * once with what to install, rather than pass having tested nothing.
 */
export function describeWithPgBouncer(name: string, body: () => void): void {
  if (existsSync(PGBOUNCER_PATH)) describe(name, body);
  else {
    describe(name, () => {
      it('needs PgBouncer', () => {
        throw new Error(missingMessage());
      });
    });
  }
}

export interface PgBouncer {
  /** A connection string for `user` to `database` through the pooler. */
  url(user: string): string;
  /** Gone at once, every client and server connection with it, as a crashed or restarted pooler. */
  kill(): Promise<void>;
  /** Starts again on the same port, with the same settings. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export interface PgBouncerOptions {
  /** The PostgreSQL server behind it (host and port are taken from this URL). */
  server: string;
  database: string;
  /** Login roles allowed through (trusted, as the test server trusts 127.0.0.1). */
  users: string[];
  /** Server connections per user and database: few, so transactions of many clients share them. */
  poolSize: number;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const server = new URL(options.server);
  const port = await freePort();
  // PgBouncer will not run as root: it switches to `postgres`, which must read this folder.
  const dir = mkdtempSync(join(tmpdir(), 'parley-pgbouncer-'));
  chmodSync(dir, 0o755);
  const config = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'users.txt');
  writeFileSync(users, options.users.map((user) => `"${user}" ""\n`).join(''), { mode: 0o644 });
  writeFileSync(
    config,
    [
      '[databases]',
      `${options.database} = host=${server.hostname} port=${server.port || 5432} dbname=${options.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${users}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize}`,
      'max_client_conn = 1000',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );

  let child: ChildProcess | undefined;
  let output = '';
  async function start(): Promise<void> {
    const asRoot = process.getuid?.() === 0;
    child = spawn(PGBOUNCER_PATH, [...(asRoot ? ['-u', 'postgres'] : []), config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    for (let i = 0; i < 100; i++) {
      if (await listening(port)) return;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`PgBouncer did not start:\n${output}`);
  }
  async function end(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  }
  await start();
  return {
    url: (user) => `postgres://${user}@127.0.0.1:${port}/${options.database}`,
    kill: () => end('SIGKILL'),
    restart: start,
    async stop() {
      await end('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}
