import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SqlRunner } from './client.js';
import { ENCODING_QUERY, encodingProblem, UTF8_DATABASE_FIX } from './encoding.js';
import { OLDER_SERVER_FIX, versionProblem } from './server-version.js';
import { startMigrationProgress } from './migration-progress.js';

// Both src/db and dist/db sit two levels below the package root.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface Migration {
  id: string;
  sql: string;
  checksum: string;
}

/**
 * Checksums of texts that shipped for a migration before it was rewritten. A database that applied
 * one of them has that migration: 0020_earlier_texts gives it what the rewrite changed.
 * Released migrations are no longer rewritten; this list only grows for those four.
 */
const EARLIER_TEXTS: Readonly<Record<string, readonly string[]>> = {
  '0004_row_security': ['8f70ff794d8d76c601783ab3aaf669ba4001085575933ccc43e92422bfca9d58'],
  '0007_profiles': ['893a31bffa9beb808f6f3966c21ea812537e97c40a8aca9a74d24f071f613fd5'],
  '0008_public_read': ['064adba49610991030346c23efe066c85717a83ac68ab382773f69fa8b392cc0'],
  '0012_api_keys': ['46186a7ebbef7e25badc622f371f34efdcdebf77cffc219a16725f7f67724c7f'],
};

/** Whether the ledger's checksum for this migration is its text now or one it shipped in before. */
export function appliedAsShipped(migration: Migration, checksum: string): boolean {
  return checksum === migration.checksum || (EARLIER_TEXTS[migration.id]?.includes(checksum) ?? false);
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return { id: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const LEDGER = `CREATE TABLE IF NOT EXISTS parley_migrations (
  id         text PRIMARY KEY,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

// Any constant works; it only has to be the same for every instance.
const LOCK_KEY = 7_142_001;

async function applied(sql: SqlRunner): Promise<Map<string, string>> {
  const rows = await sql.query<{ id: string; checksum: string }>('SELECT id, checksum FROM parley_migrations');
  return new Map(rows.map((row) => [row.id, row.checksum]));
}

function checkHistory(migrations: Migration[], done: Map<string, string>): void {
  for (const migration of migrations) {
    const checksum = done.get(migration.id);
    if (checksum && !appliedAsShipped(migration, checksum)) {
      throw new MigrationError(`migration ${migration.id} was changed after it was applied; add a new migration instead`);
    }
  }
}

/**
 * Applies pending migrations in order, each in its own transaction, holding an advisory
 * lock so that several instances starting at once apply each migration exactly once.
 */
export async function migrate(sql: SqlRunner, log: (line: string) => void = () => {}, migrations = loadMigrations()): Promise<string[]> {
  // Before anything is made: a migration would otherwise fail halfway on the first character the encoding lacks.
  const [database] = await sql.query<{ encoding: string; name: string; version: string; num: number }>(ENCODING_QUERY);
  const older = database ? versionProblem({ ...database, num: Number(database.num) }) : null;
  if (older) throw new MigrationError(`${older}: ${OLDER_SERVER_FIX}`);
  const problem = database ? encodingProblem(database) : null;
  if (problem) throw new MigrationError(`${problem}: ${UTF8_DATABASE_FIX}`);
  // Under the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
  await sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(LEDGER);
  });
  const appliedNow: string[] = [];
  for (const migration of migrations) {
    const ran = await sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const done = await applied(tx);
      checkHistory(migrations, done);
      if (done.has(migration.id)) return false;
      log(`applying migration ${migration.id}`);
      const progress = await startMigrationProgress(tx, migration.id, migration.sql, log);
      try {
        await tx.exec(migration.sql);
        await tx.query('INSERT INTO parley_migrations (id, checksum) VALUES ($1, $2)', [migration.id, migration.checksum]);
      } catch (error) {
        progress.done({ applied: false });
        throw error;
      }
      progress.done({ applied: true });
      return true;
    });
    if (ran) appliedNow.push(migration.id);
  }
  log(appliedNow.length ? `applied ${appliedNow.length} migration(s)` : `database schema is current (${migrations.length} migrations)`);
  return appliedNow;
}

/** Ids of migrations in the repository that the database has not applied. */
export async function pendingMigrations(sql: SqlRunner, migrations = loadMigrations()): Promise<string[]> {
  const rows = await sql.query<{ present: boolean }>("SELECT to_regclass('parley_migrations') IS NOT NULL AS present");
  if (!rows[0]?.present) return migrations.map((m) => m.id);
  const done = await applied(sql);
  return migrations.filter((m) => {
    const checksum = done.get(m.id);
    return checksum === undefined || !appliedAsShipped(m, checksum);
  }).map((m) => m.id);
}
