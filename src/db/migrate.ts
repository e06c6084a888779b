import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SqlRunner } from './client.js';

// Both src/db and dist/db sit two levels below the package root.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface Migration {
  id: string;
  sql: string;
  checksum: string;
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
    if (checksum && checksum !== migration.checksum) {
      throw new MigrationError(`migration ${migration.id} was changed after it was applied; add a new migration instead`);
    }
  }
}

/**
 * Applies pending migrations in order, each in its own transaction, holding an advisory
 * lock so that several instances starting at once apply each migration exactly once.
 */
export async function migrate(sql: SqlRunner, log: (line: string) => void = () => {}, migrations = loadMigrations()): Promise<string[]> {
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
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO parley_migrations (id, checksum) VALUES ($1, $2)', [migration.id, migration.checksum]);
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
  return migrations.filter((m) => done.get(m.id) !== m.checksum).map((m) => m.id);
}
