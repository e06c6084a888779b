// A statement given up as stalled through a transaction pooler: the cancel goes through the
// pooler too, so the database process behind it stops waiting (driver-stalls.test.ts without it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { postgresDriver, watchForStalls } from '../../src/db/postgres-driver.js';
import { processesStillRunning, whileLocked } from '../helpers/held-lock.js';
import { describeWithPgBouncer, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';

const url = process.env.TEST_DATABASE_URL;
const STALL_MS = 700;

describe.runIf(url)('PostgreSQL', () => {
describeWithPgBouncer('a stalled statement through PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  let direct: postgres.Sql;
  let pooled: postgres.Sql;

  beforeAll(async () => {
    const server = new URL(url!);
    bouncer = await startPgBouncer({ server: url!, database: server.pathname.slice(1), users: [decodeURIComponent(server.username)], poolSize: 4 });
    direct = postgresDriver()(url!, { max: 2, onnotice: () => {} });
    pooled = postgresDriver()(bouncer.url(decodeURIComponent(server.username)), { max: 4, prepare: false, onnotice: () => {} });
    watchForStalls(pooled, STALL_MS);
  });
  afterAll(async () => {
    await pooled?.end({ timeout: 1 });
    await direct?.end({ timeout: 1 });
    await bouncer?.stop();
  });

  it('leaves no database process waiting on the lock behind it', async () => {
    await whileLocked(direct, async (table, marker) => {
      for (let round = 0; round < 3; round++) {
        const outcome = await pooled.unsafe(`SELECT /* ${marker} */ count(*) FROM ${table}`).then(() => 'answered', (error: { code?: string }) => error.code);
        expect(outcome).toBe('57014');
      }
      expect(await processesStillRunning(direct, marker)).toBe(0);
    });
  });
});
});
