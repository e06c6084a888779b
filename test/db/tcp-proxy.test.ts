// The fault-injection proxy (test/helpers/tcp-proxy.ts) does what other tests rely on: it
// carries a real PostgreSQL session, cuts it on demand, and lets the next connection through.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(url)('the TCP proxy in front of PostgreSQL', () => {
  let proxy: TcpProxy;
  let sql: postgres.Sql;

  beforeAll(async () => {
    const target = new URL(url!);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    // One connection, no waiting between reconnects: what the test sees is the proxy's doing.
    sql = postgres(proxy.url(url!), { max: 1, backoff: () => 0, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 0 });
    await proxy?.close();
  });

  it('runs queries through, cuts a running one on resetAll, and serves a new connection after', async () => {
    const [first] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    expect(proxy.connections()).toBe(1);

    const running = sql`SELECT pg_sleep(2)`.execute();
    await until(async () => (await sideQuery(first!.pid)) === 'active');
    proxy.resetAll();
    const error = await running.then(() => null, (caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(proxy.connections()).toBe(0);

    // A fresh client: postgres.js 3.4.9 keeps the failed query on the cut connection, and a
    // query sent on that same connection in the same tick waits forever (porsager/postgres#1130).
    const again = postgres(proxy.url(url!), { max: 1, onnotice: () => {} });
    try {
      const [second] = await again<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      expect(second!.pid).not.toBe(first!.pid);
      expect(proxy.connections()).toBe(1);
    } finally {
      await again.end();
    }
  });

  it('refuses new connections while told to, and lets them through again after', async () => {
    proxy.refuse(true);
    await expect(sql`SELECT 1`).rejects.toSatisfy(isDatabaseUnavailable);
    expect(proxy.connections()).toBe(0);
    proxy.refuse(false);
    expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
  });
});

/** The state of a backend, read on a direct connection (not through the proxy). */
async function sideQuery(pid: number): Promise<string | undefined> {
  const direct = postgres(url!, { max: 1, onnotice: () => {} });
  try {
    const [row] = await direct<{ state: string }[]>`SELECT state FROM pg_stat_activity WHERE pid = ${pid}`;
    return row?.state;
  } finally {
    await direct.end();
  }
}

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
