import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { loadConfig, type Config, type Env } from './config/config.js';
import type { ExternalIssuer } from './config/issuer-types.js';
import { resolveJwtSecret } from './config/secrets.js';
import { pgliteDirFor, type Database } from './db/client.js';
import { connectDatabase } from './db/connect.js';
import { followDatabaseClock, readDatabaseClock } from './db/database-clock.js';
import { guardPgliteDisk } from './db/pglite-disk.js';
import { holdForServer } from './features/backup/backup.control.js';
import { storeCutTurns } from './features/chat/cut-turns.js';
import { UNCLAIMED_FIX, unclaimedAdminNames, unclaimedWarning } from './features/users/admin-names.js';
import { migrate } from './db/migrate.js';
import { createScoped } from './db/scope.js';
import { prepareAppRole } from './db/row-security.js';
import { idsAfter } from './lib/ids.js';
import { createLogOutput } from './observability/log-output.js';
import { loggerOptions } from './observability/logger.js';

/** How long the last lines may wait for a lagging log reader before the process exits without them. */
const LOG_FLUSH_MS = 2_000;

export interface RunningServer {
  url: string;
  stop(reason: string): Promise<void>;
}

export async function startServer(env: Env): Promise<RunningServer> {
  const config = loadConfig(env);
  // One output for the server's lines and the requests' (pino-pretty, for development, has its own).
  const output = config.logPretty ? undefined : createLogOutput();
  const log = (output ? pino(loggerOptions(config), output) : pino(loggerOptions(config))) as FastifyBaseLogger;
  // A stray rejection is a bug to log, not a reason to drop every open connection.
  process.on('unhandledRejection', (reason) => log.error({ err: { message: String((reason as Error)?.message ?? reason) } }, 'unhandled rejection'));
  const running: { stop?: (reason: string) => Promise<void> } = {};
  const exit = exitAfterStopping(() => running.stop);
  exitOnUncaughtException(log, exit);

  // The embedded database's folder is claimed before it is opened (one process per folder); backups are asked of us there.
  const hold = await holdForServer(config, log);
  const secret = await jwtSecretOnceHeld(config, hold, log);
  warnOfIssuersWithoutAudience(config.externalIssuers, log);
  // The HTTP application's modules load while the database opens (PGlite compiles its
  // WebAssembly off the main thread): the two were most of a start-up, one after the other.
  const loading = Promise.all([import('./app.js'), import('./compose.js')]);
  loading.catch(() => {});
  const database = await connectDatabase(config, { freezeLog: { info: (line) => log.info(line), warn: (line) => log.warn(line) } });
  exitWhenDatabaseFails(database, config, log, exit);
  hold?.serveBackups(database);
  log.info({ database: database.kind }, database.kind === 'pglite' ? `using embedded PGlite in ${config.dataDir}` : 'using PostgreSQL');
  // Before anything is stored: ids and times follow the database's clock (lib/time-base.ts).
  if (database.kind !== 'pglite') followDatabaseClock(await readDatabaseClock(database.sql), log);
  await migrate(database.sql, (line) => log.info(line));
  await prepareAppRole(database, (line) => log.info(line));
  await startIdsAfterStored(database);
  await warnOfUnclaimedAdmins(database, config.adminUsernames, log);
  await storeRepliesCutShort(database, log);
  const disk = database.kind === 'pglite' ? guardPgliteDisk({ dir: pgliteDirFor(config.dataDir), exec: (statement) => database.app.sql.exec(statement), log }) : null;
  await disk?.check();

  const [{ buildApp }, { DRAIN_AFTER_GRACE_MS }] = await loading;
  const app = await buildApp({ config: { ...config, jwtSecret: secret }, database, ...(output ? { logStream: output } : {}) });
  const url = await app.listen({ host: config.host, port: config.port }).catch(async (error: unknown) => {
    await app.close().catch(() => {});
    await database.close();
    await hold?.release();
    throw listenProblem(error, config);
  });

  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    stopping ??= (async () => {
      log.info({ reason, grace_ms: config.shutdownGraceMs }, 'shutting down: no new connections, finishing running requests');
      // A backstop only: after the grace, running replies are stopped and stored, and their
      // streams end with their final event; cutting connections at the grace would lose those.
      const force = setTimeout(() => {
        log.warn('shutdown took too long; closing remaining connections');
        app.server.closeAllConnections();
      }, config.shutdownGraceMs + 2 * DRAIN_AFTER_GRACE_MS + 1_000);
      force.unref();
      try {
        await app.close();
      } catch (error) {
        // The database is closed whatever went wrong before, so no write is left half-done.
        log.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'shutdown: closing the server failed');
      }
      clearTimeout(force);
      disk?.stop();
      await database.close();
      await hold?.release();
      log.info('stopped');
      await output?.flush(LOG_FLUSH_MS);
    })();
    return stopping;
  };
  running.stop = stop;
  return { url, stop };
}

/**
 * Only once the folder is ours: a server refused there (another server, a restore) wrote its
 * generated secret first, and a running restore then kept it aside as the folder's own.
 */
async function jwtSecretOnceHeld(config: Config, hold: Awaited<ReturnType<typeof holdForServer>>, log: FastifyBaseLogger): Promise<string> {
  try {
    const { secret, generated } = resolveJwtSecret(config);
    if (generated) log.warn(`generated a development JWT secret in ${config.dataDir}/jwt-secret; set JWT_SECRET in production`);
    return secret;
  } catch (error) {
    await hold?.release();
    throw error;
  }
}

/** Node's `listen EADDRINUSE: address already in use 127.0.0.1:8000` names neither variable to change. */
function listenProblem(error: unknown, config: { host: string; port: number }): Error {
  const where = `${config.host}:${config.port}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`cannot listen on ${where}: another process listens there; stop it, or set PORT (or HOST) to another`);
  if (code === 'EACCES') return new Error(`cannot listen on ${where}: this user may not use ports below 1024; set PORT to 1024 or above (and let a proxy take the low port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new Error(`cannot listen on ${where}: HOST is not an address of this machine; set HOST to one of its addresses (0.0.0.0 for all of them)`);
  }
  return error as Error;
}

/** Ids start after the newest a conversation or message already has (lib/ids.ts), whatever this host's clock says. */
async function startIdsAfterStored(database: Database) {
  const rows = await database.sql.transaction(async (tx) => {
    // Row security is forced on the owner too: read in the admin scope.
    await tx.query("SELECT set_config('app.scope', 'admin', true)");
    return tx.query<{ id: string | null }>(
      '(SELECT id::text FROM messages ORDER BY id DESC LIMIT 1) UNION ALL (SELECT id::text FROM conversations ORDER BY id DESC LIMIT 1)',
    );
  });
  for (const { id } of rows) if (id) idsAfter(id);
}

/** Operators watch the server's log more than `parley doctor`: a name anyone may claim is said at every start. */
async function warnOfUnclaimedAdmins(database: Database, names: readonly string[], log: FastifyBaseLogger) {
  if (names.length === 0) return;
  const missing = await unclaimedAdminNames(database.sql, names);
  if (missing.length > 0) log.warn(`${unclaimedWarning(missing)}; ${UNCLAIMED_FIX}`);
}

/**
 * A provider's key set signs tokens for every application it serves (Google's for each client, an
 * Auth0 tenant's for each API): without an audience, one made for another application signs its
 * user in here. A shared secret is this application's own, so it is not warned of.
 */
function warnOfIssuersWithoutAudience(issuers: readonly ExternalIssuer[], log: FastifyBaseLogger) {
  for (const issuer of issuers) {
    if (issuer.kind !== 'jwks' || issuer.audience !== null) continue;
    log.warn(
      `external issuer "${issuer.name}" names no audience: any token its key set signs is accepted, including those its provider makes for other applications; ` +
        "set its audience (EXTERNAL_JWT_AUDIENCE, or \"audience\" in AUTH_ISSUERS_FILE) to the aud this application's tokens carry",
    );
  }
}

/** Turns a stopped process left half done (features/chat/cut-turns.ts): stored, their conversations let go. */
async function storeRepliesCutShort(database: Database, log: FastifyBaseLogger) {
  const countTokens = async (text: string) => (await import('./llm/tokens.js')).countTokens(text);
  const cut = await storeCutTurns(createScoped(database.app), { everyHold: database.kind === 'pglite', countTokens });
  if (cut > 0) log.warn({ conversations: cut }, `${cut} conversation(s) held by replies cut short when the server last stopped: their replies are stored (failed, or interrupted with the text so far) and the conversations are free`);
}

/** Stops the server as SIGTERM would (running requests get their grace), then exits 1, once. */
function exitAfterStopping(stopper: () => ((reason: string) => Promise<void>) | undefined) {
  let exiting = false;
  return (reason: string) => {
    if (exiting) return;
    exiting = true;
    void (stopper()?.(reason) ?? Promise.resolve()).finally(() => process.exit(1));
  };
}

/**
 * An exception nothing caught leaves the process in a state nobody planned for, so it is not
 * carried on with: it is logged, running requests get their usual shutdown grace, and the
 * process exits 1 for its supervisor to start a fresh one. A driver fault on a cut database
 * connection is not one of these: it fails its request with a 503 (db/client.ts).
 */
function exitOnUncaughtException(log: FastifyBaseLogger, exit: (reason: string) => void) {
  process.on('uncaughtException', (error) => {
    log.fatal({ err: { message: error?.message ?? String(error), stack: error?.stack } }, 'uncaught exception: finishing running requests, then exiting');
    exit('uncaught exception');
  });
}

/**
 * The embedded database after a PANIC answers nothing more (db/pglite-panic.ts): requests get
 * 503s at once, and the process exits 1 for its supervisor, as PostgreSQL restarts itself.
 * Started again, it recovers from its log; on a disk still read-only it refuses to start, saying so.
 */
function exitWhenDatabaseFails(database: Database, config: Config, log: FastifyBaseLogger, exit: (reason: string) => void) {
  void database.failed.then((error) => {
    log.fatal(
      { err: { message: error.message, code: (error as { code?: string }).code }, data_dir: config.dataDir },
      `the embedded database in DATA_DIR (${config.dataDir}) failed and cannot go on: ${error.message}. Parley stops; check DATA_DIR's disk (free space, errors in the kernel log, whether it turned read-only), then start it again`,
    );
    exit('database failure');
  });
}
