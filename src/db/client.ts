import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** A Drizzle database or transaction: repositories accept either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/** Raw SQL access, used by migrations and health checks. */
export interface SqlRunner {
  query<T extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements, no parameters. */
  exec(text: string): Promise<void>;
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  sql: SqlRunner;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL connection string; without it an embedded PGlite is used. */
  url: string | null;
  /** PGlite data folder; null keeps the database in memory. */
  pgliteDir: string | null;
  poolMax?: number;
  /** PostgreSQL schema to work in (tests use a fresh one per file). */
  searchPath?: string;
  /** Named prepared statements (off behind poolers that cannot keep them). */
  prepare?: boolean;
}

function pgliteRunner(client: Pick<PGlite, 'query' | 'exec'> & { transaction?: PGlite['transaction'] }): SqlRunner {
  return {
    async query<T>(text: string, params: unknown[] = []) {
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

function postgresRunner(client: postgres.Sql | postgres.TransactionSql, prepare: boolean): SqlRunner {
  return {
    async query<T>(text: string, params: unknown[] = []) {
      // Prepared once per connection: a turn's statements are planned once, not on every call.
      return (await client.unsafe(text, params.map(toWire) as postgres.ParameterOrJSON<never>[], { prepare: prepare && params.length > 0 })) as unknown as T[];
    },
    async exec(text) {
      await client.unsafe(text);
    },
    async transaction(fn) {
      if (!('begin' in client)) return fn(postgresRunner(client, prepare));
      return (await client.begin((tx) => fn(postgresRunner(tx, prepare)))) as Awaited<ReturnType<typeof fn>>;
    },
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const client = postgres(options.url, {
      max: options.poolMax ?? 10,
      prepare: options.prepare ?? true,
      connect_timeout: 5,
      onnotice: () => {},
      connection: options.searchPath ? { search_path: options.searchPath } : {},
    });
    return {
      kind: 'postgres',
      db: drizzlePostgres(client, { schema }) as unknown as Db,
      sql: postgresRunner(client, options.prepare ?? true),
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (options.pgliteDir) mkdirSync(options.pgliteDir, { recursive: true });
  const client = options.pgliteDir ? new PGlite(options.pgliteDir) : new PGlite();
  return usePglite(client);
}

/** A Database over an existing PGlite instance (which it closes on close()). */
export async function usePglite(client: PGlite): Promise<Database> {
  await client.waitReady;
  return {
    kind: 'pglite',
    db: drizzlePglite(client, { schema }) as unknown as Db,
    sql: pgliteRunner(client),
    close: () => client.close(),
  };
}

export const pgliteDirFor = (dataDir: string) => join(dataDir, 'pglite');
