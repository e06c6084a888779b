// The embedded database's settings for durability (PGLITE_FSYNC): a folder's commits are synced
// with fsync(), the call its file system layer carries to the disk; in memory, or with the
// setting off, PostgreSQL runs as PGlite starts it. What a power loss keeps is in power-loss.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function settings(dir: string | null, fsync?: boolean) {
  const pg = createPglite(dir, { fsync });
  try {
    const rows = await pg.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'wal_sync_method') ORDER BY name");
    await pg.exec('CREATE TABLE IF NOT EXISTS t (n int); INSERT INTO t VALUES (1)');
    return Object.fromEntries(rows.rows.map((row) => [row.name, row.setting]));
  } finally {
    await pg.close();
  }
}

describe('the embedded database in a folder', () => {
  // Three databases made from nothing: 24 s alone on a slow 2-core machine, more beside other tests.
  it('syncs its commits through fsync() by default, and not with PGLITE_FSYNC=false or in memory', { timeout: 120_000 }, async () => {
    const folder = () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-durable-'));
      dirs.push(dir);
      return join(dir, 'pglite');
    };
    expect(await settings(folder())).toEqual({ fsync: 'on', wal_sync_method: 'fsync' });
    expect(await settings(folder(), false)).toMatchObject({ fsync: 'off' });
    expect(await settings(null)).toMatchObject({ fsync: 'off' });
  });
});
