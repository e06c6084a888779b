import { getTableConfig } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../src/db/schema.js';
import { loadMigrations, migrate, MigrationError, pendingMigrations } from '../../src/db/migrate.js';
import { createTestDatabase } from '../helpers/app.js';
import type { Database } from '../../src/db/client.js';

let database: Database;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ database, drop } = await createTestDatabase());
});
afterAll(async () => {
  await drop();
});

describe('migrations', () => {
  it('are all applied and a second run applies nothing', async () => {
    expect(await pendingMigrations(database.sql)).toEqual([]);
    const lines: string[] = [];
    expect(await migrate(database.sql, (line) => lines.push(line))).toEqual([]);
    expect(lines.at(-1)).toMatch(/schema is current/);
  });

  it('refuses to run when an applied migration was edited', async () => {
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
    await expect(migrate(database.sql, () => {}, edited)).rejects.toBeInstanceOf(MigrationError);
    expect(await pendingMigrations(database.sql, edited)).toEqual([edited[0]!.id]);
  });

  it('reports a migration added to the repository as pending, then applies it once under concurrency', async () => {
    const extra = { id: '9999_test_extra', sql: 'CREATE TABLE test_extra (id int)', checksum: 'x' };
    const all = [...loadMigrations(), extra];
    expect(await pendingMigrations(database.sql, all)).toEqual(['9999_test_extra']);
    const results = await Promise.all([migrate(database.sql, () => {}, all), migrate(database.sql, () => {}, all)]);
    expect(results.flat()).toEqual(['9999_test_extra']);
    expect(await pendingMigrations(database.sql, all)).toEqual([]);
  });

  it('match the Drizzle schema: every column the code uses exists with its nullability', async () => {
    for (const table of [
      schema.users,
      schema.sessions,
      schema.refreshTokens,
      schema.chatbots,
      schema.knowledgeDocuments,
      schema.knowledgeChunks,
      schema.conversations,
      schema.messages,
      schema.idempotencyKeys,
      schema.profiles,
    ]) {
      const config = getTableConfig(table);
      const rows = await database.sql.query<{ column_name: string; is_nullable: string }>(
        `SELECT column_name, is_nullable FROM information_schema.columns
          WHERE table_name = $1 AND table_schema = current_schema()`,
        [config.name],
      );
      const actual = Object.fromEntries(rows.map((r) => [r.column_name, r.is_nullable === 'NO']));
      const expected = Object.fromEntries(config.columns.map((c) => [c.name, c.notNull]));
      expect(actual, config.name).toEqual(expected);
    }
  });
});
