// What a transaction returned is its caller's, not its connection's. postgres.js's sql.begin()
// leaves a close listener on the connection it used, and that listener's scope held the
// transaction's callback and result until the connection's next transaction: each connection of
// the pool kept the last result it served (an export batch of megabytes, a turn's history) for as
// long as it stayed idle. Read on the heap after full collections.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { postgresDriver } from '../../src/db/postgres-driver.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const url = process.env.TEST_DATABASE_URL;

const RESULT = 4_000_000;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe.runIf(url)('a transaction that ended', () => {
  let sql: postgres.Sql | undefined;
  afterEach(async () => {
    await sql?.end({ timeout: 1 });
  });

  it('leaves its result and its callback to be collected, while its connection stays open and idle', async () => {
    sql = postgresDriver()(url!, { max: 4, connect_timeout: 5, onnotice: () => {} });
    const db = sql;
    await db.unsafe('SELECT 1');
    const before = heapAfterGc();
    // Four at once, one on each connection; raw statements, as Parley's runner sends them.
    const lengths = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const result = await db.begin(async (tx) => {
          const [row] = await tx.unsafe(`SELECT repeat('x', ${RESULT}) AS text, pg_sleep(0.05)`);
          return { text: row!.text as string };
        });
        return result.text.length;
      }),
    );
    expect(lengths).toEqual([RESULT, RESULT, RESULT, RESULT]);
    // Before: 16 MB, the four results, until each connection's next transaction.
    expect(heapAfterGc() - before).toBeLessThan(RESULT / 2);
  });

  it('still fails, when its connection closes mid-way, with the connection error', async () => {
    sql = postgresDriver()(url!, { max: 1, connect_timeout: 5, onnotice: () => {} });
    const db = sql;
    const failed = db.begin(async (tx) => {
      const [{ pid }] = (await tx`SELECT pg_backend_pid() AS pid`) as unknown as [{ pid: number }];
      const admin = postgresDriver()(url!, { max: 1, onnotice: () => {} });
      try {
        await admin`SELECT pg_terminate_backend(${pid})`;
      } finally {
        await admin.end({ timeout: 1 });
      }
      await tx`SELECT pg_sleep(5)`;
    });
    await expect(failed).rejects.toMatchObject({ code: expect.stringMatching(/CONNECTION_CLOSED|57P01/) });
    // And the pool serves again.
    expect((await db`SELECT 1 AS one`)[0]!.one).toBe(1);
  });
});
