// A database as an older Parley left it: the migrations up to one of them, some in the text that
// version shipped (test/upgrade/released/), so that tests can fill it with rows of that schema
// and then start the current version on it.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openDatabase, usePglite, type Database } from '../../src/db/client.js';
import { loadMigrations, type Migration } from '../../src/db/migrate.js';
import { createPglite } from '../../src/db/pglite.js';

const RELEASED_DIR = new URL('../upgrade/released/', import.meta.url);

/** A migration in the text an older version shipped: test/upgrade/released/<id>.<name>.sql. */
export function releasedText(id: string, name: string): Migration {
  const sql = readFileSync(new URL(`${id}.${name}.sql`, RELEASED_DIR), 'utf8');
  return { id, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

/** The migrations an older version had: this version's up to `lastId`, with `texts` in place of theirs. */
export function migrationsUpTo(lastId: string, texts: Migration[] = []): Migration[] {
  const all = loadMigrations();
  if (!all.some((m) => m.id === lastId)) throw new Error(`no migration ${lastId}`);
  return all.filter((m) => m.id <= lastId).map((m) => texts.find((t) => t.id === m.id) ?? m);
}

/**
 * A database with nothing in it: PGlite in memory, or with TEST_DATABASE_URL a new schema on that
 * server (dropped on close). Nothing is migrated and no request role is prepared.
 */
export async function createEmptyDatabase(): Promise<{ database: Database; drop(): Promise<void> }> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const database = await usePglite(createPglite(null));
    return { database, drop: () => database.close() };
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ url, pgliteDir: null, poolMax: 1 });
  await admin.sql.exec(`CREATE SCHEMA ${schema}`);
  const database = await openDatabase({ url, pgliteDir: null, poolMax: 4, searchPath: schema });
  return {
    database,
    async drop() {
      await database.close();
      await admin.sql.exec(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
    },
  };
}
