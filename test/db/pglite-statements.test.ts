// Named prepared statements on PGlite (src/db/pglite-statements.ts): what requests' SQL runs
// through must answer exactly as PGlite's own query() does, stay right when a table changes,
// survive errors, and keep a bounded number of statements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PGlite } from '@electric-sql/pglite';
import { createPglite } from '../../src/db/pglite.js';
import { createPgliteStatements, type PgliteStatements } from '../../src/db/pglite-statements.js';

let pg: PGlite;
let statements: PgliteStatements;

beforeAll(async () => {
  pg = createPglite(null);
  await pg.waitReady;
  await pg.exec(`CREATE TABLE notes (id uuid PRIMARY KEY, body text NOT NULL, n int, at timestamptz, tags jsonb, ok boolean);`);
  statements = createPgliteStatements(pg);
});
afterAll(async () => {
  await pg?.close();
});

const note = (i: number) => ({
  id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
  body: `note ${i} — 筆記 ${i}`,
  n: i,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  tags: { i, list: ['a', i] },
});

describe('PGlite named statements', () => {
  it('answer as query() does: types parsed the same, parameters serialised the same, on every run', async () => {
    const insert = 'INSERT INTO notes (id, body, n, at, tags, ok) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *';
    for (let i = 1; i <= 5; i++) {
      const n = note(i);
      const [row] = await statements.query(insert, [n.id, n.body, n.n, n.at, n.tags, i % 2 === 0]);
      const [same] = (await pg.query('SELECT * FROM notes WHERE id = $1', [n.id])).rows;
      expect(row).toEqual(same);
      expect(row).toEqual({ ...n, ok: i % 2 === 0 });
    }
    const select = 'SELECT id, body, n, at, tags, ok, NULL::text AS nothing FROM notes WHERE n >= $1 ORDER BY n';
    for (const from of [1, 3, 5, 6]) {
      expect(await statements.query(select, [from])).toEqual((await pg.query(select, [from])).rows);
    }
    expect(await statements.query('SELECT $1::text IS NULL AS absent', [null])).toEqual([{ absent: true }]);
  });

  it('stays right when the table it reads changes', async () => {
    const select = 'SELECT * FROM notes WHERE n = $1';
    expect(Object.keys((await statements.query<Record<string, unknown>>(select, [1]))[0]!)).not.toContain('extra');
    await pg.exec("ALTER TABLE notes ADD COLUMN extra text DEFAULT 'x'");
    // PostgreSQL refuses the old plan ("cached plan must not change result type"): the statement is prepared again.
    expect((await statements.query<Record<string, unknown>>(select, [1]))[0]).toMatchObject({ n: 1, extra: 'x' });
    expect((await statements.query<Record<string, unknown>>(select, [2]))[0]).toMatchObject({ n: 2, extra: 'x' });
  });

  it('a failing statement leaves the session usable, and is not kept', async () => {
    await expect(statements.query('SELECT * FROM no_such_table WHERE id = $1', [1])).rejects.toThrow(/no_such_table/);
    await expect(statements.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [note(1).id, 'duplicate'])).rejects.toMatchObject({ code: '23505' });
    expect(await statements.query('SELECT count(*)::int AS n FROM notes WHERE n > $1', [0])).toEqual([{ n: 5 }]);
    expect(pg.isInTransaction()).toBe(false);
  });

  it('keeps a bounded number of statements: hundreds of distinct texts all answer, and the oldest are closed', async () => {
    for (let i = 0; i < 600; i++) {
      expect(await statements.query(`SELECT $1::int + ${i} AS v`, [1])).toEqual([{ v: 1 + i }]);
    }
    const [{ kept }] = (await pg.query<{ kept: number }>("SELECT count(*)::int AS kept FROM pg_prepared_statements WHERE name LIKE 'parley_%'")).rows as [{ kept: number }];
    expect(kept).toBeLessThanOrEqual(256);
    expect(kept).toBeGreaterThan(0);
  });

  it('waits for a transaction that holds the session instead of running inside it', async () => {
    let inside: Promise<unknown> | null = null;
    await pg.transaction(async (tx) => {
      await tx.query("INSERT INTO notes (id, body, n) VALUES ('00000000-0000-7000-8000-000000000099', 'in tx', 99)");
      inside = statements.query('SELECT count(*)::int AS n FROM notes WHERE n = $1', [99]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await tx.rollback();
    });
    // Run inside the rolled-back transaction, it would have seen the row.
    expect(await inside).toEqual([{ n: 0 }]);
  });
});
