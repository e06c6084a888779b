// An upgrade whose migration rewrites a large table (0029: every knowledge chunk's search terms,
// minutes for a large knowledge base) printed "applying migration …" and then nothing until it
// was done: an operator could take it for hung and stop it. It now says how much it works
// through, that it still runs, and how long it took.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { tablesWorkedThrough } from '../../src/db/migration-progress.js';
import type { Database } from '../../src/db/client.js';
import { createTestDatabase } from '../helpers/app.js';

let database: Database;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ database, drop } = await createTestDatabase());
});
afterAll(async () => {
  await drop();
});

const shipped = (id: string) => loadMigrations().find((migration) => migration.id === id)!;

/** A migration not shipped, applied after every shipped one. */
function extra(sql: string) {
  const id = `9999_progress_${randomBytes(4).toString('hex')}`;
  return { migrations: [...loadMigrations(), { id, sql, checksum: id }], id };
}

async function tableOf(rows: number): Promise<string> {
  const name = `progress_${randomBytes(4).toString('hex')}`;
  await database.sql.exec(`CREATE TABLE ${name} (n int); INSERT INTO ${name} SELECT generate_series(1, ${rows}); ANALYZE ${name}`);
  return name;
}

describe('a migration working through a large table', () => {
  it('names the tables that the shipped migrations rewrite, and no statement inside a function body', () => {
    expect(tablesWorkedThrough(shipped('0029_knowledge_terms_folded').sql)).toEqual(['knowledge_chunks']);
    expect(tablesWorkedThrough(shipped('0028_knowledge_terms_again').sql)).toEqual(['knowledge_chunks']);
    expect(tablesWorkedThrough(shipped('0006_local_email_unique').sql)).toEqual(['users']);
    expect(tablesWorkedThrough('CREATE UNIQUE INDEX IF NOT EXISTS m_by_c ON messages (conversation_id);\nDELETE FROM sessions WHERE false;')).toEqual(['messages', 'sessions']);
    expect(tablesWorkedThrough('CREATE FUNCTION f() RETURNS void AS $$\nBEGIN\n  UPDATE users SET name = name;\nEND $$ LANGUAGE plpgsql;')).toEqual([]);
  });

  it('says how many rows it works through, and then that it was applied', async () => {
    const table = await tableOf(20_000);
    const { migrations, id } = extra(`UPDATE ${table} SET n = n + 1;\nCREATE INDEX ${table}_n ON ${table} (n);`);
    const lines: string[] = [];
    expect(await migrate(database.sql, (line) => lines.push(line), migrations)).toEqual([id]);
    const applying = lines.indexOf(`applying migration ${id}`);
    expect(applying, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(lines[applying + 1]).toBe(
      `  ${id} works through about 20,000 rows of ${table}: this can take minutes (stopped, it is undone, and the next start runs it again)`,
    );
    expect(lines.at(-1)).toBe('applied 1 migration(s)');
    const [total] = await database.sql.query<{ sum: string }>(`SELECT sum(n)::text AS sum FROM ${table}`);
    expect(total?.sum).toBe(String((20_000 * 20_001) / 2 + 20_000));
  });

  it('says nothing more for a small table, nor for one that is not there yet', async () => {
    const table = await tableOf(500);
    const fresh = `progress_new_${randomBytes(4).toString('hex')}`;
    const { migrations, id } = extra(`UPDATE ${table} SET n = n + 1;\nCREATE TABLE ${fresh} (n int);\nCREATE INDEX ${fresh}_n ON ${fresh} (n);`);
    const lines: string[] = [];
    await migrate(database.sql, (line) => lines.push(line), migrations);
    expect(lines).toEqual([`applying migration ${id}`, 'applied 1 migration(s)']);
  });

  it('says nothing of a migration that failed beyond the error it throws', async () => {
    const table = await tableOf(20_000);
    const { migrations, id } = extra(`UPDATE ${table} SET n = n / 0;`);
    const lines: string[] = [];
    await expect(migrate(database.sql, (line) => lines.push(line), migrations)).rejects.toThrow(/division by zero/);
    expect(lines.filter((line) => line.includes(id))).toEqual([
      `applying migration ${id}`,
      `  ${id} works through about 20,000 rows of ${table}: this can take minutes (stopped, it is undone, and the next start runs it again)`,
    ]);
    const [highest] = await database.sql.query<{ max: number }>(`SELECT max(n) AS max FROM ${table}`);
    expect(highest?.max).toBe(20_000);
  });

  // PostgreSQL runs elsewhere: this process is free to speak meanwhile. The embedded database runs
  // each statement on this thread, so there such lines come only between statements.
  it.runIf(process.env.TEST_DATABASE_URL)('says every ten seconds that it still runs, and how long it took', { timeout: 60_000 }, async () => {
    const { migrations, id } = extra('SELECT pg_sleep(10.5);');
    const lines: string[] = [];
    await migrate(database.sql, (line) => lines.push(line), migrations);
    expect(lines.filter((line) => line.includes(id)).map((line) => line.replace(/\d+\.\d s/, 'N s'))).toEqual([
      `applying migration ${id}`,
      `  still applying ${id}: N s so far`,
      `  applied ${id} in N s`,
    ]);
  });
});
