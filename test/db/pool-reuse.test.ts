// The PostgreSQL driver as Parley loads it (src/db/client.ts): once a burst has opened the whole
// pool, one user's statements one after another go to the connection used last, whose database
// process is warm, not round every connection in turn (~0.6 ms a turn, phase 3 of the bench).
import { afterEach, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { postgresDriver } from '../../src/db/postgres-driver.js';

const url = process.env.TEST_DATABASE_URL;
const POOL = 8;

describe.runIf(url)('the pool after a burst', () => {
  let sql: postgres.Sql | undefined;
  afterEach(async () => {
    await sql?.end({ timeout: 1 });
  });

  it('serves statements sent one after another from one connection, the one used last', async () => {
    sql = postgresDriver()(url!, { max: POOL, connect_timeout: 5, onnotice: () => {} });
    const db = sql;
    // The burst: as many statements at once as the pool has connections.
    const burst = await Promise.all(Array.from({ length: POOL }, () => db`SELECT pg_backend_pid() AS pid, pg_sleep(0.1)`));
    expect(new Set(burst.map(([row]) => row!.pid)).size).toBe(POOL);

    const pids: number[] = [];
    for (let i = 0; i < 3 * POOL; i++) pids.push((await db`SELECT pg_backend_pid() AS pid`)[0]!.pid as number);
    expect(new Set(pids).size).toBe(1);

    // Under load again, every connection still serves.
    const again = await Promise.all(Array.from({ length: POOL }, () => db`SELECT pg_backend_pid() AS pid, pg_sleep(0.1)`));
    expect(new Set(again.map(([row]) => row!.pid)).size).toBe(POOL);
  });
});
