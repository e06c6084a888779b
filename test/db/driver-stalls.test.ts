// The PostgreSQL driver as Parley loads it, with its stall guard (src/db/client.ts): a statement
// that hears nothing back from the database for the stall timeout is cancelled there, and its
// connection given up when not even that is answered; nothing else is. connection-stalls.test.ts
// shows the same from a user's side, stall-cancel-pgbouncer.test.ts through a transaction pooler.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { postgresDriver, watchForStalls } from '../../src/db/postgres-driver.js';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { processesStillRunning, whileLocked } from '../helpers/held-lock.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;
const STALL_MS = 700;
/** Far longer than the stall timeout, even on a loaded machine: a statement past it hangs. */
const HANG_MS = 15_000;

async function settle<T>(query: Promise<T>): Promise<{ value: T } | { error: { code?: string } } | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(resolve, HANG_MS, 'hang')));
  try {
    return await Promise.race([query.then((value) => ({ value }), (error: { code?: string }) => ({ error })), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A direct connection, beside the proxy: it holds locks and looks at what the database is doing. */
let observer: postgres.Sql;

describe.runIf(url)('the driver when the database goes silent', () => {
  let proxy: TcpProxy;
  let sql: postgres.Sql;

  beforeAll(async () => {
    observer = postgresDriver()(url!, { max: 2, onnotice: () => {} });
    const target = new URL(url!);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  });
  beforeEach(() => {
    sql = postgresDriver()(proxy.url(url!), { max: 2, connect_timeout: 5, onnotice: () => {} });
    watchForStalls(sql, STALL_MS);
  });
  afterEach(async () => {
    proxy.stall(false);
    await sql.end({ timeout: 1 });
  });
  afterAll(async () => {
    await observer?.end({ timeout: 1 });
    await proxy?.close();
  });

  it('fails a statement waiting on a silent connection with a connection error, then serves from a fresh connection once the network is back', async () => {
    const [before] = await sql`SELECT pg_backend_pid() AS pid`;
    proxy.stall(true);
    const during = await settle(sql`SELECT 1 AS n`);
    expect(during).toEqual({ error: expect.objectContaining({ code: 'CONNECTION_STALLED' }) });
    expect(isDatabaseUnavailable((during as { error: unknown }).error)).toBe(true);

    proxy.stall(false);
    const after = await settle(sql`SELECT pg_backend_pid() AS pid, 2 AS n`);
    expect(after).toEqual({ value: [expect.objectContaining({ n: 2 })] });
    expect((after as { value: postgres.Row[] }).value[0]!.pid).not.toBe(before!.pid);
  });

  it('fails every statement of a transaction that went silent, its rollback too, and lets nothing of it run elsewhere', async () => {
    const stalled = sql.begin(async (tx) => {
      await tx`SELECT set_config('parley.marker', 'the stalled transaction', true)`;
      proxy.stall(true);
      await tx`SELECT 2`;
    });
    const outcome = await settle(stalled);
    // The statement fails as stalled; its ROLLBACK then finds the connection closed, and that is what begin() reports.
    expect(outcome).toEqual({ error: expect.objectContaining({ code: expect.stringMatching(/^CONNECTION_(STALLED|CLOSED)$/) }) });
    expect(isDatabaseUnavailable((outcome as { error: unknown }).error)).toBe(true);
    proxy.stall(false);
    // Not inside what is left of that transaction: its transaction-local setting is gone.
    expect(await settle(sql`SELECT 3 AS n, coalesce(current_setting('parley.marker', true), '') AS marker`)).toEqual({ value: [{ n: 3, marker: '' }] });
  });

  it('leaves connections alone that only wait on the caller: idle in the pool, or in a transaction while the caller works', async () => {
    const [first] = await sql`SELECT pg_backend_pid() AS pid`;
    await pause(STALL_MS * 3);
    const [idle] = await sql`SELECT pg_backend_pid() AS pid`;
    expect(idle!.pid).toBe(first!.pid);

    const pids = await sql.begin(async (tx) => {
      const [one] = await tx`SELECT pg_backend_pid() AS pid`;
      await pause(STALL_MS * 3);
      const [two] = await tx`SELECT pg_backend_pid() AS pid`;
      return [one!.pid, two!.pid];
    });
    expect(pids).toEqual([first!.pid, first!.pid]);
  });

  it('gives up a statement the database works on for longer than the stall timeout: the setting must exceed the longest statement', async () => {
    const marker = `slow-statement-${process.pid}-${Date.now()}`;
    const slow = await settle(sql.unsafe(`SELECT /* ${marker} */ pg_sleep(30) AS slept`));
    // Cancelled in the database (57014, "canceling statement due to user request"), which answers
    // 503 as a stalled connection does; the database stops working on it, rather than for 30 s.
    expect(slow).toEqual({ error: expect.objectContaining({ code: '57014' }) });
    expect(isDatabaseUnavailable((slow as { error: unknown }).error)).toBe(true);
    expect(await processesStillRunning(observer, marker)).toBe(0);
    expect(await settle(sql`SELECT 4 AS n`)).toEqual({ value: [{ n: 4 }] });
  });

  it('leaves no database process behind a statement given up while it waited on a lock, so a long lock cannot fill the database with them', async () => {
    await whileLocked(observer, async (table, marker) => {
      for (let round = 0; round < 3; round++) {
        const waited = await settle(sql.unsafe(`SELECT /* ${marker} */ count(*) FROM ${table}`));
        expect(waited).toEqual({ error: expect.objectContaining({ code: '57014' }) });
      }
      // Before, each given-up statement's process went on waiting for the lock, holding one of
      // the database's connections, until the lock was released: a lock held for minutes under
      // load used them all up ("sorry, too many clients already"), for every client of the database.
      expect(await processesStillRunning(observer, marker)).toBe(0);
    });
  });
});
