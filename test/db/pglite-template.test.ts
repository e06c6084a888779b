// A new embedded database starts as a copy of the one built at `npm run build`
// (generated/pglite-template): it must be the database the migrations make, and a copy must
// never replace anything that was already in the folder.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, usePglite, type Database } from '../../src/db/client.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPglite, readTemplateStamp, seedFromTemplate, TEMPLATE_DIR, writeTemplateStamp } from '../../src/db/pglite.js';
import { prepareAppRole } from '../../src/db/row-security.js';

const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-template-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** What a database is to Parley: tables and columns, policies, row security, the request role's rights. */
async function shape(database: Database) {
  const q = (text: string) => database.sql.query<Record<string, unknown>>(text);
  return {
    columns: await q(`SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
      WHERE table_schema = current_schema() ORDER BY 1, 2`),
    policies: await q('SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies WHERE schemaname = current_schema() ORDER BY 1, 2'),
    security: await q(`SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
      WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' ORDER BY 1`),
    grants: await q(`SELECT table_name, privilege_type FROM information_schema.role_table_grants
      WHERE grantee = 'parley_app' AND table_schema = current_schema() ORDER BY 1, 2`),
    role: await q("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'parley_app'"),
    indexes: await q('SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2'),
  };
}

describe('a new embedded database', () => {
  it('starts from the template with every migration already applied', async () => {
    expect(readTemplateStamp()?.migrations).toHaveLength(loadMigrations().length);
    const dir = join(scratch(), 'pglite');
    const database = await openDatabase({ url: null, pgliteDir: dir });
    try {
      expect(await migrate(database.sql)).toEqual([]);
      await prepareAppRole(database);
      const [row] = await database.app.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      expect(row!.n).toBe(0);
    } finally {
      await database.close();
    }
    // The copy is the folder's own: the template is not touched by what the copy does.
    expect(existsSync(join(dir, 'parley-template.json'))).toBe(false);
  });

  it('is the same database that initdb and the migrations make', async () => {
    const seeded = await openDatabase({ url: null, pgliteDir: join(scratch(), 'pglite') });
    const made = await usePglite(createPglite(null));
    try {
      await migrate(made.sql);
      await prepareAppRole(made);
      await prepareAppRole(seeded);
      expect(await shape(seeded)).toEqual(await shape(made));
    } finally {
      await Promise.all([seeded.close(), made.close()]);
    }
  });

  it('keeps its data over a restart, which copies nothing again', async () => {
    const dir = join(scratch(), 'pglite');
    const first = await openDatabase({ url: null, pgliteDir: dir });
    await first.sql.query("INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'kept', 'x')");
    await first.close();
    const again = await openDatabase({ url: null, pgliteDir: dir });
    try {
      const rows = await again.sql.query<{ username: string }>('SELECT username FROM users');
      expect(rows.map((r) => r.username)).toEqual(['kept']);
    } finally {
      await again.close();
    }
  });

  it('leaves a folder that already holds something alone', () => {
    const dir = join(scratch(), 'pglite');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(seedFromTemplate(dir)).toBe(false);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(false);
  });

  it('does not use a template another PGlite version made', () => {
    const template = join(scratch(), 'template');
    cpSync(TEMPLATE_DIR, template, { recursive: true });
    writeTemplateStamp(template, { ...readTemplateStamp(template)!, pglite: '0.0.1' });
    const dir = join(scratch(), 'pglite');
    expect(seedFromTemplate(dir, { templateDir: template })).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('an embedded database in memory', () => {
  it('runs with the settings a server runs with, and starts from a dump when given one', async () => {
    const first = createPglite(null, { sharedBuffers: '24MB' });
    expect((await first.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows[0]!.shared_buffers).toBe('24MB');
    await first.exec("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('from the dump');");
    const dump = await first.dumpDataDir('none');
    await first.close();

    const second = createPglite(null, { loadDataDir: dump });
    try {
      expect((await second.query<{ note: string }>('SELECT note FROM kept')).rows).toEqual([{ note: 'from the dump' }]);
      expect((await second.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows[0]!.shared_buffers).toBe('8MB');
    } finally {
      await second.close();
    }
  });
});
