import { ConfigError, loadConfig, type Config } from './config/config.js';
import { readEnvironment } from './config/env.js';
import { connectDatabase, DatabaseUnreachableError } from './db/connect.js';
import { migrate, MigrationError } from './db/migrate.js';
import { VERSION } from './lib/version.js';
import { asksForHelp, isCommand, USAGE as COMMAND_USAGE, type Command } from './cli-usage.js';
// Each command loads its own modules when it runs: `serve` does not pay for the doctor's Redis
// client or the backup's archiver, nor the other commands for the whole server.

const USAGE = `parley ${VERSION} — self-hostable AI chatbot backend

Usage:
  parley serve      start the API server (applies pending migrations first)
  parley migrate    apply pending database migrations and exit
  parley users      promote|demote|deactivate|activate <username> [--issuer <name> [--external-id <id>]]
  parley slugs      show|release <slug>: what a slug names; free one a chatbot gave up (held for its account)
  parley token      mint a JWT of a configured external issuer: --user-id <id> --username <name>
                    [--issuer external|supabase] [--expires 24h|none]
  parley export     --chatbot <id> [--status active|completed] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                    [--format json|ndjson|csv] [--output <file>]   (progress on stderr; stdout without --output)
  parley doctor     check the set-up, one line per check with what to do [--json] [--streams <n>]
  parley backup     <file>: the embedded database and its generated JWT secret, while the server runs or not
  parley restore    <file>: replace DATA_DIR's embedded database with a backup (server stopped)
  parley --version  print the version

parley <command> --help shows a command's usage.
Configuration comes from environment variables and ./.env (see README.md).`;

/** Known failures print one line and exit non-zero; nothing else is printed. */
function fail(error: unknown): never {
  if (error instanceof ConfigError) process.stderr.write(`parley: configuration error: ${error.message}\n`);
  else if (error instanceof DatabaseUnreachableError || error instanceof MigrationError) process.stderr.write(`parley: ${error.message}\n`);
  else process.stderr.write(`parley: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

async function serve(): Promise<void> {
  const { startServer } = await import('./server.js');
  const server = await startServer(readEnvironment());
  const onSignal = (signal: NodeJS.Signals) => {
    server.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // The terminal or SSH session that started the server closing: Node's default ends the process at
  // once, cutting running replies. Nothing is reloaded on it; it stops as SIGTERM does.
  process.once('SIGHUP', onSignal);
}

async function runMigrations(): Promise<void> {
  const config = loadConfig(readEnvironment());
  const { holdForCommand } = await import('./features/backup/control-socket.js');
  const hold = await holdForCommand(config, 'migrate');
  try {
    const database = await connectDatabase(config);
    try {
      await migrate(database.sql, (line) => process.stdout.write(`${line}\n`));
    } finally {
      await database.close();
    }
  } finally {
    await hold?.release();
  }
}

async function usersCommand(argv: string[]): Promise<void> {
  // A mistyped command is said before the database is opened (or created, in a new DATA_DIR).
  (await import('./cli-users.js')).parseUsersArguments(argv);
  const config = loadConfig(readEnvironment());
  (await import('./cli-database.js')).requireEmbeddedDatabase(config);
  const { holdForCommand } = await import('./features/backup/control-socket.js');
  const hold = await holdForCommand(config, 'users');
  try {
    await changeUsers(config, argv);
  } finally {
    await hold?.release();
  }
}

async function changeUsers(config: Config, argv: string[]): Promise<void> {
  const database = await connectDatabase(config);
  // Running instances hear of the change through Redis, as of an admin's, and apply it at once.
  const log = { info: () => {}, warn: (_fields: object, message: string) => process.stderr.write(`parley: ${message}\n`) };
  const [{ createRedisRevocations }, { runUsersCommand }] = await Promise.all([import('./features/auth/revocations.js'), import('./cli-users.js')]);
  const revocations = config.redisUrl ? await createRedisRevocations(config.redisUrl, log, { cacheMs: config.authCacheMs }) : null;
  try {
    process.stdout.write(`${await runUsersCommand(argv, database.sql, revocations ? (revocation) => revocations.announce(revocation) : undefined)}\n`);
  } finally {
    await revocations?.close();
    await database.close();
  }
}

async function slugsCommand(argv: string[]): Promise<void> {
  const { parseSlugsArguments, runSlugsCommand } = await import('./cli-slugs.js');
  parseSlugsArguments(argv);
  const config = loadConfig(readEnvironment());
  (await import('./cli-database.js')).requireEmbeddedDatabase(config);
  const { holdForCommand } = await import('./features/backup/control-socket.js');
  const hold = await holdForCommand(config, 'slugs');
  try {
    const database = await connectDatabase(config);
    try {
      process.stdout.write(`${await runSlugsCommand(argv, database.sql)}\n`);
    } finally {
      await database.close();
    }
  } finally {
    await hold?.release();
  }
}

/** `serve` and `migrate` take none: `parley serve --port 9000` served on PORT, `parley migrate --help` migrated. */
function noArguments(command: Command, argv: string[]): void {
  if (argv.length > 0) throw new Error(`parley ${command} takes no arguments (got ${JSON.stringify(argv[0])})\nusage: ${COMMAND_USAGE[command]}`);
}

async function main(argv: string[]): Promise<void> {
  const [command] = argv;
  if (command !== undefined && isCommand(command) && asksForHelp(argv.slice(1))) {
    process.stdout.write(`usage: ${COMMAND_USAGE[command]}\n`);
    return;
  }
  switch (command) {
    case 'serve':
      noArguments(command, argv.slice(1));
      return serve();
    case 'migrate':
      noArguments(command, argv.slice(1));
      return runMigrations();
    case 'users':
      return usersCommand(argv.slice(1));
    case 'slugs':
      return slugsCommand(argv.slice(1));
    case 'export':
      return (await import('./cli-export.js')).exportCommand(argv.slice(1));
    case 'doctor':
      return (await import('./cli-doctor.js')).doctorCommand(argv.slice(1));
    case 'backup':
      return (await import('./cli-backup.js')).backupCommand(argv.slice(1));
    case 'restore':
      return (await import('./cli-backup.js')).restoreCommand(argv.slice(1));
    case 'token':
      process.stdout.write(`${await (await import('./cli-token.js')).mintToken(argv.slice(1), readEnvironment())}\n`);
      return;
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`parley: unknown command "${command}"\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch(fail);
