// PGlite keeps a table's activity counts (dead rows, rows changed since ANALYZE) in memory only, so
// every start began them at zero: a server restarted before a table reached the upkeep's
// thresholds (a host that stops an idle app) never vacuumed or analyzed it. The counts are now
// written to the data folder every pass and carried over the restart.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, pgliteDirFor, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { COUNTERS_FILE } from '../../src/db/pglite-counters.js';
import { prepareAppRole } from '../../src/db/row-security.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const url = process.env.TEST_DATABASE_URL;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Probe = { dead: number; modified: number; vacuums: number; analyzes: number };

describe.runIf(!url)('the embedded database over a restart', () => {
  const dirs: string[] = [];
  let running: { t: TestApp; database: Database } | null = null;
  afterEach(async () => {
    await stop();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A server's start on the folder: the same database and upkeep jobs, passes every 100 ms. */
  async function start(folder: string) {
    const database = await openDatabase({ url: null, pgliteDir: folder });
    await migrate(database.sql);
    await prepareAppRole(database);
    const t = await createTestApp({ PGLITE_STATISTICS_MS: '100' }, { database });
    running = { t, database };
    return database;
  }
  async function stop() {
    if (!running) return;
    await running.t.close();
    await running.database.close();
    running = null;
  }

  // Only the statistics are read, never the table: a read of a full page prunes its dead rows,
  // which would change the count this test sets.
  const probe = async (database: Database): Promise<Probe> =>
    (await database.sql.query<Probe>(
      "SELECT n_dead_tup::int AS dead, n_mod_since_analyze::int AS modified, vacuum_count::int AS vacuums, analyze_count::int AS analyzes FROM pg_stat_user_tables WHERE relname = 'upkeep_probe'",
    ))[0]!;
  const saved = (folder: string) => JSON.parse(readFileSync(join(folder, COUNTERS_FILE), 'utf8')) as Record<string, { dead: number; modified: number }>;
  async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
    for (const giveUpAt = Date.now() + 30_000; Date.now() < giveUpAt; await sleep(50)) {
      const value = await check();
      if (value !== undefined) return value;
    }
    throw new Error(`gave up waiting for ${what}`);
  }

  it('vacuums and analyzes a table whose dead and changed rows only pass the thresholds counted over both runs', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-counters-'));
    dirs.push(dir);
    const folder = pgliteDirFor(dir);

    // First run: 1,000 rows, analyzed by the upkeep; then 140 deleted. Vacuumed past 50 + 20% of
    // 1,000 = 250 dead, analyzed again past 50 + 10% = 150 changed: neither yet.
    let database = await start(folder);
    await database.sql.exec("CREATE TABLE upkeep_probe (id int PRIMARY KEY, note text); INSERT INTO upkeep_probe SELECT n, repeat('x', 40) FROM generate_series(1, 1000) n");
    // PostgreSQL hands a session's counts on at most once a second: settled when unchanged past that.
    const settled = async (what: string, check: (now: Probe) => boolean) => {
      let since = 0;
      return until(what, async () => {
        const now = await probe(database);
        if (!check(now)) since = 0;
        else if (since === 0) since = Date.now();
        else if (Date.now() - since > 1500) return now;
        return undefined;
      });
    };
    await settled('the rows analyzed', (now) => now.analyzes > 0 && now.modified === 0);
    await database.sql.query('DELETE FROM upkeep_probe WHERE id <= 140');
    const first = await settled('the deletes counted', (now) => now.dead === 140 && now.modified === 140);
    expect(first.vacuums).toBe(0);
    await until('the counts saved', () => (saved(folder).upkeep_probe?.dead === 140 && saved(folder).upkeep_probe?.modified === 140 ? true : undefined));
    await stop();

    // Second run: 140 more deleted. This run alone counts 140 of each, short of both thresholds;
    // with the first run's, 280.
    database = await start(folder);
    await database.sql.query('DELETE FROM upkeep_probe WHERE id > 140 AND id <= 280');
    const second = await until('a VACUUM and an ANALYZE', async () => {
      const now = await probe(database);
      return now.vacuums > 0 && now.analyzes > 0 ? now : undefined;
    });
    expect(second.dead).toBeLessThan(50);
    expect(running!.t.logs.join('')).toContain("vacuumed the embedded database's table with the most dead rows");
    // What was carried is dropped once done: the next start has nothing left to vacuum.
    await until('the counts saved after the VACUUM', () => ((saved(folder).upkeep_probe?.dead ?? 0) < 50 ? true : undefined));
  });

  it('starts from zero when the counts file is not what it writes, and writes it anew', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-counters-'));
    dirs.push(dir);
    const folder = pgliteDirFor(dir);
    let database = await start(folder);
    await stop();
    writeFileSync(join(folder, COUNTERS_FILE), '{"upkeep_probe": {"dead": "many"}, "conversations": [1, 2');

    database = await start(folder);
    const health = await running!.t.request({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    await database.sql.exec('CREATE TABLE upkeep_probe (id int PRIMARY KEY); INSERT INTO upkeep_probe SELECT generate_series(1, 100)');
    const written = await until('the counts saved', () => {
      try {
        return saved(folder).upkeep_probe;
      } catch {
        return undefined;
      }
    });
    expect(written.dead).toBe(0);
    expect(Object.keys(saved(folder))).toContain('conversations');
  });
});
