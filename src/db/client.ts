import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type { drizzle as drizzlePostgresType } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import { createDeadlockRetries, type DeadlockRetries } from './deadlocks.js';
import { createPglite, seedFromTemplate } from './pglite.js';
import { freezeIfOld, type PgliteFreeze } from './pglite-freeze.js';
import { answerThroughEventLoop } from './pglite-event-loop.js';
import { createMaintenance } from './pglite-maintenance.js';
import { watchForPanic } from './pglite-panic.js';
import { postgresTarget } from './database-url.js';
import { postgresDriver, watchForStalls } from './postgres-driver.js';
import { createPgliteStatements, type PgliteStatements } from './pglite-statements.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** A Drizzle database or transaction: repositories accept either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/** Raw SQL access, used by migrations and health checks. */
export interface SqlRunner {
  query<T extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements, no parameters. */
  exec(text: string): Promise<void>;
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export interface TransactionOptions {
  /**
   * PostgreSQL: the whole transaction is run again when it is a deadlock's victim (db/deadlocks.ts).
   * Only for one whose every effect is in the database and is returned (nothing sent from within).
   */
  retryDeadlocks?: boolean;
}

export interface Access {
  db: Db;
  sql: SqlRunner;
}

/** What requests use: the application's role, which row security applies to (§10). */
export interface AppAccess extends Access {
  role: string;
  /** The pool logs in as `role` itself (DATABASE_APP_URL): the owner neither creates it nor switches to it. */
  login?: boolean;
  /** One transaction; `fn` gets a Drizzle and a raw handle on it. */
  transaction<T>(fn: (tx: Access) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export interface Database {
  kind: 'pglite' | 'postgres';
  /** The connecting role, which owns the tables: migrations, the CLI, and tests looking behind the app's back. */
  db: Db;
  sql: SqlRunner;
  app: AppAccess;
  /** Called once the app role exists (row-security.ts); until then `app` must not be used. */
  enterAppRole(): Promise<void>;
  /**
   * The embedded database only, once in the app role: runs one maintenance statement (VACUUM) as
   * the owner, outside any transaction, with nothing else running until the app role is back
   * (db/pglite-maintenance.ts).
   */
  maintain?(statement: string): Promise<void>;
  /** The embedded database's data folder; null when it is kept in memory, absent on PostgreSQL. */
  folder?: string | null;
  /** `graceSeconds`: how long running queries may finish before their connections are cut (PostgreSQL). */
  close(options?: { graceSeconds?: number }): Promise<void>;
  /**
   * Settles when this process can no longer use the database: the embedded one after a PANIC
   * (db/pglite-panic.ts), whose every later call fails. Never, on PostgreSQL: its server
   * recovers by itself and the pool reconnects.
   */
  failed: Promise<Error>;
  /** Deadlocks met and retried so far (PostgreSQL; always none on the embedded database). */
  deadlocks: DeadlockRetries;
}

export const DEFAULT_APP_ROLE = 'parley_app';

export interface DatabaseOptions {
  /** PostgreSQL connection string; without it an embedded PGlite is used. */
  url: string | null;
  /** PGlite data folder; null keeps the database in memory. */
  pgliteDir: string | null;
  /** PGlite's shared_buffers (PGLITE_SHARED_BUFFERS). */
  pgliteSharedBuffers?: string;
  /** PGlite's WebAssembly recompiled by V8's optimising compiler (PGLITE_WASM_OPTIMIZE). */
  pgliteOptimize?: boolean;
  /** PGlite's commits synced to its disk (PGLITE_FSYNC, default true). */
  pgliteFsync?: boolean;
  /** A folder's databases are frozen when opened once their oldest transaction is this old (serve only: PGLITE_FREEZE_AGE). */
  pgliteFreeze?: PgliteFreeze;
  poolMax?: number;
  /** A request's statement that hears nothing back this long drops its connection (DATABASE_STALL_TIMEOUT). */
  stallMs?: number | null;
  /** A connection idle this long is closed (DATABASE_IDLE_TIMEOUT); the owner's after at most 30 s. */
  idleMs?: number | null;
  /** PostgreSQL schema to work in (tests use a fresh one per file). */
  searchPath?: string;
  /** Named prepared statements (off behind poolers that cannot keep them). */
  prepare?: boolean;
  /** The role requests run as (default parley_app). */
  appRole?: string;
  /** DATABASE_APP_URL: the request pool logs in with it, as `appRole`, instead of switching roles on `url`'s connections. */
  appUrl?: string | null;
}

/** The raw client under a Drizzle transaction, so raw SQL can join it. */
function clientOf(tx: unknown): unknown {
  const client = (tx as { session?: { client?: unknown } }).session?.client;
  if (!client) throw new Error('a Drizzle transaction without a session client');
  return client;
}

function pgliteRunner(client: Pick<PGlite, 'query' | 'exec'> & { transaction?: PGlite['transaction'] }, statements?: PgliteStatements): SqlRunner {
  return {
    async query<T>(text: string, params: unknown[] = []) {
      if (statements) return statements.query<T>(text, params);
      return (await client.query<T>(text, params)).rows;
    },
    async exec(text) {
      await client.exec(text);
    },
    async transaction(fn) {
      if (!client.transaction) return fn(pgliteRunner(client));
      return client.transaction((tx) => fn(pgliteRunner(tx)));
    },
  };
}

/**
 * Drizzle's postgres.js driver switches the shared client's date serialisers off (it formats
 * dates itself), so raw queries send dates as ISO strings.
 */
const toWire = (value: unknown) => (value instanceof Date ? value.toISOString() : value);

function postgresRunner(client: postgres.Sql | postgres.TransactionSql, prepare: boolean, deadlocks: DeadlockRetries): SqlRunner {
  // Outside a transaction a statement is its own, rolled back whole when it is a deadlock's
  // victim: it is run again (db/deadlocks.ts). Inside one, the transaction's owner decides.
  const alone = 'begin' in client;
  const run = async <T>(text: string, params: unknown[]) =>
    // Prepared once per connection: a turn's statements are planned once, not on every call.
    (await client.unsafe(text, params.map(toWire) as postgres.ParameterOrJSON<never>[], { prepare: prepare && params.length > 0 })) as unknown as T[];
  return {
    async query<T>(text: string, params: unknown[] = []) {
      return alone ? deadlocks.retrying(() => run<T>(text, params)) : run<T>(text, params);
    },
    async exec(text) {
      await client.unsafe(text);
    },
    async transaction(fn, options) {
      if (!('begin' in client)) return fn(postgresRunner(client, prepare, deadlocks));
      return deadlocks.asAsked(options, async () => (await client.begin((tx) => fn(postgresRunner(tx, prepare, deadlocks)))) as Awaited<ReturnType<typeof fn>>);
    },
  };
}

/** 0700 where it can be set; a read-only DATA_DIR (served read-only) or another owner's folder keeps its mode. */
function keepPrivate(dir: string): void {
  try {
    chmodSync(dir, 0o700);
  } catch {
    // Not ours to change: the operator set it up so.
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const role = options.appRole ?? DEFAULT_APP_ROLE;
  if (options.url) {
    // Loaded for PostgreSQL only: with it come postgres.js's own modules, 2.3 MiB of an embedded
    // database's server that never uses them (docs/decisions.md, "Idle RSS at five seconds").
    const { drizzle } = await import('drizzle-orm/postgres-js');
    return usePostgres(options.url, options, role, drizzle);
  }
  const pgliteOptions = { sharedBuffers: options.pgliteSharedBuffers, optimize: options.pgliteOptimize, fsync: options.pgliteFsync };
  if (options.pgliteDir) {
    mkdirSync(dirname(options.pgliteDir), { recursive: true });
    seedFromTemplate(options.pgliteDir, { sync: options.pgliteFsync ?? true });
    mkdirSync(options.pgliteDir, { recursive: true });
    // Every tenant's data and password hashes: PGlite writes its files 0666 whatever the umask, so
    // the folder is what keeps other local users out (PostgreSQL insists on 0700 for its own).
    keepPrivate(options.pgliteDir);
  }
  const client = createPglite(options.pgliteDir, pgliteOptions);
  if (!options.pgliteDir || !options.pgliteFreeze) return usePglite(client, role, options.pgliteDir);
  return usePglite(await freezeIfOld(client, options.pgliteDir, pgliteOptions, options.pgliteFreeze), role, options.pgliteDir);
}

const reconnectDelaySeconds = (failures: number) => (0.5 + Math.random() / 2) * Math.min(3 ** failures / 100, 0.5);

function usePostgres(url: string, options: DatabaseOptions, role: string, drizzlePostgres: typeof drizzlePostgresType): Database {
  const prepare = options.prepare ?? true;
  // postgres.js waits before each reconnect, growing to 20 s after six failed connects in a
  // row: start-up overran DATABASE_WAIT, and a database that came up late sat unused. Half a
  // second at most matches start-up's own retry pace.
  const shared = { prepare, connect_timeout: 5, backoff: reconnectDelaySeconds, onnotice: () => {} };
  const searchPath = options.searchPath ? { search_path: options.searchPath } : {};
  // The owner's pool is busy only at start-up (migrations); it lets its connections go.
  const postgres = postgresDriver();
  const idleSeconds = options.idleMs ? Math.max(1, Math.round(options.idleMs / 1000)) : undefined;
  const ownerTarget = postgresTarget(url);
  const owner = postgres(ownerTarget.url, { ...shared, ...ownerTarget.options, max: 2, idle_timeout: Math.min(30, idleSeconds ?? 30), connection: searchPath });
  // Every connection of the app's pool starts as the app role (a startup parameter, so no
  // statement of ours runs before it); connections open lazily, after the role exists. With
  // DATABASE_APP_URL it logs in as the role: no parameter for a transaction pooler to refuse or drop.
  // An idle connection may be dropped on the way without a word (a load balancer's or NAT's idle
  // timeout: 4 minutes on Azure, 350 s on AWS's NLB; a serverless database suspending): its next
  // statement would wait out the stall timeout. Closed here first, it is simply opened again.
  const appPool = { ...shared, max: options.poolMax ?? 10, ...(idleSeconds ? { idle_timeout: idleSeconds } : {}) };
  const appTarget = options.appUrl ? postgresTarget(options.appUrl) : null;
  const app = appTarget ? postgres(appTarget.url, { ...appPool, ...appTarget.options, connection: searchPath }) : postgres(ownerTarget.url, { ...appPool, ...ownerTarget.options, connection: { ...searchPath, role } });
  // Only requests' pool: migrations may rightly keep the database busy for minutes.
  if (options.stallMs) watchForStalls(app, options.stallMs);
  const appDb = drizzlePostgres(app, { schema }) as unknown as Db;
  const deadlocks = createDeadlockRetries();
  const appTransaction: AppAccess['transaction'] = (fn, transactionOptions) => {
    return deadlocks.asAsked(transactionOptions, () =>
      appDb.transaction((tx) => fn({ db: tx, sql: postgresRunner(clientOf(tx) as postgres.TransactionSql, prepare, deadlocks) })),
    );
  };
  return {
    kind: 'postgres',
    db: drizzlePostgres(owner, { schema }) as unknown as Db,
    sql: postgresRunner(owner, prepare, deadlocks),
    app: {
      role,
      login: Boolean(options.appUrl),
      db: appDb,
      sql: postgresRunner(app, prepare, deadlocks),
      transaction: appTransaction,
    },
    enterAppRole: async () => {},
    close: async ({ graceSeconds = 5 } = {}) => {
      await Promise.all([app.end({ timeout: graceSeconds }), owner.end({ timeout: graceSeconds })]);
    },
    failed: new Promise<never>(() => {}),
    deadlocks,
  };
}

type PgliteTransaction = Parameters<Parameters<PGlite['transaction']>[0]>[0];

/**
 * PGlite is one session, which works as the app role once enterAppRole() ran; the owner's
 * handle wraps each use in a transaction that steps back to the session's own role.
 */
function asOwner(client: PGlite) {
  const run = <T>(fn: (tx: PgliteTransaction) => Promise<T>) =>
    client.transaction(async (tx) => {
      await tx.exec('SET LOCAL ROLE NONE');
      return fn(tx);
    });
  return {
    query: (text: string, params?: unknown[], options?: object) => run((tx) => tx.query(text, params, options)),
    exec: (text: string) => run((tx) => tx.exec(text)),
    transaction: run,
  };
}

/** A Database over an existing PGlite instance (which it closes on close()); `folder`: its data folder, if any. */
export async function usePglite(client: PGlite, role = DEFAULT_APP_ROLE, folder: string | null = null): Promise<Database> {
  await client.waitReady;
  const panics = watchForPanic(client);
  answerThroughEventLoop(client);
  const owner = asOwner(client);
  const appDb = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db: drizzlePglite({ client: owner as unknown as PGlite, schema }) as unknown as Db,
    sql: pgliteRunner(owner as unknown as PGlite),
    app: {
      role,
      db: appDb,
      // Requests' own SQL (turns, keys, sessions) runs as named statements, prepared once.
      sql: pgliteRunner(client, createPgliteStatements(client)),
      transaction: (fn) => appDb.transaction((tx) => fn({ db: tx, sql: pgliteRunner(clientOf(tx) as PgliteTransaction) })),
    },
    enterAppRole: async () => {
      await client.exec(`SET ROLE ${role}`);
    },
    maintain: createMaintenance(client, role, panics.fail),
    folder,
    // Closing ends the session with a last message, which a PGlite that panicked would spin on.
    close: async () => {
      if (!panics.stopped()) await client.close();
    },
    failed: panics.panicked,
    deadlocks: createDeadlockRetries(),
  };
}

export const pgliteDirFor = (dataDir: string) => join(dataDir, 'pglite');
