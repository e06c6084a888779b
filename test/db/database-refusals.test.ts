// A database that refuses work for a while (§11, §12), each answered 503 database_unavailable,
// never 500, and served again by itself once it passes: no writes (a failover that lands the
// connections on a standby before the primary is promoted, or a maintenance window with
// default_transaction_read_only: reads go on), and statements given up by the database's own
// limits (lock_timeout, statement_timeout) while an operator's maintenance holds a table. The
// server runs as its own process on a database of its own, whose settings the test changes.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall as call } from '../helpers/http-call.js';
import { cliProcesses } from '../helpers/cli-process.js';
import { freePort } from '../helpers/ports.js';

const url = process.env.TEST_DATABASE_URL;
/** The operator's own session, which the test's cuts spare. */
const MAINTENANCE = 'parley-test-maintenance';


describe.runIf(url)('a database that takes no writes for a while', () => {
  const name = `parley_read_only_${randomBytes(5).toString('hex')}`;
  const processes = cliProcesses();
  let admin: postgres.Sql;

  beforeAll(async () => {
    admin = postgres(url!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
  });
  afterAll(async () => {
    processes.cleanUp();
    await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
  });

  /** A database setting, taken up as a failover or a restart would: every connection is cut, so the next ones get it. */
  async function setting(name_: string, value: string | null) {
    await admin.unsafe(`ALTER DATABASE ${name} ${value === null ? `RESET ${name_}` : `SET ${name_} = '${value}'`}`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND application_name <> '${MAINTENANCE}'`);
  }
  const readOnly = (on: boolean) => setting('default_transaction_read_only', on ? 'on' : null);

  let served: Promise<{ base: string; server: ReturnType<typeof processes.start> }> | undefined;
  /** One server for the file, on the database of its own. */
  function serve() {
    served ??= (async () => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const databaseUrl = new URL(url!);
      databaseUrl.pathname = `/${name}`;
      const server = processes.start(['serve'], { PORT: String(port), DATABASE_URL: databaseUrl.toString(), LOG_LEVEL: 'warn' });
      for (let i = 0; i < 300 && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      return { base, server };
    })();
    return served;
  }

  /** A new account with a conversation that has had one turn ('hello'). */
  async function chatting(base: string) {
    const token = (await call(base, 'POST', '/v1/auth/register', undefined, { username: `refused_${randomBytes(4).toString('hex')}`, password: 'a long enough password' })).body.access_token as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { title: 'before' })).body.id as string;
    expect((await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'hello' })).status).toBe(201);
    return { token, conversation };
  }

  /** Once the database works again: a turn in the same conversation succeeds, after at most a few 503s on connections the change cut. */
  async function expectTurnAgain(base: string, token: string, conversation: string) {
    let turn: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 50 && turn?.status !== 201; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 200));
      turn = await call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'working again' });
      expect([201, 503]).toContain(turn.status);
    }
    expect(turn?.status).toBe(201);
  }

  const unavailable = { status: 503, contentType: expect.stringMatching(/^application\/problem\+json/), body: { code: 'database_unavailable' } };

  it('answers 503 to writes and serves reads while it is read-only, and takes writes again once it does', { timeout: 120_000 }, async () => {
    const { base, server } = await serve();
    const { token, conversation } = await chatting(base);

    await readOnly(true);
    // The first requests after the cut may find a dead connection (503 either way); then the writes meet the read-only database.
    const writes = [
      () => call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'while read-only' }),
      () => call(base, 'POST', '/v1/conversations', token, { title: 'while read-only' }),
      () => call(base, 'POST', '/v1/auth/register', undefined, { username: `read_only_${randomBytes(3).toString('hex')}`, password: 'a long enough password' }),
    ];
    for (const write of [...writes, ...writes]) expect(await write()).toMatchObject(unavailable);
    const read = await call(base, 'GET', `/v1/conversations/${conversation}/messages`, token);
    expect(read.status).toBe(200);
    expect((read.body.data as Array<{ content: string }>).map((m) => m.content)).toContain('hello');
    const log = `${server.stdout()}${server.stderr()}`;
    expect(log).not.toMatch(/"unexpected error"/);

    await readOnly(false);
    await expectTurnAgain(base, token, conversation);
    expect(server.child.exitCode).toBeNull();
  });

  it("answers 503 when the database's lock_timeout or statement_timeout gives a statement up behind an operator's lock, and serves again once it is released", { timeout: 120_000 }, async () => {
    const { base, server } = await serve();
    const { token, conversation } = await chatting(base);
    const turn = () => call(base, 'POST', `/v1/conversations/${conversation}/messages`, token, { content: 'behind the lock' });

    // Maintenance holding the conversations table (an ALTER TABLE, a VACUUM FULL) until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const locker = postgres(url!.replace(/\/[^/]*$/, `/${name}`), { max: 1, onnotice: () => {}, connection: { application_name: MAINTENANCE } });
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const maintenance = locker.begin(async (tx) => {
      await tx.unsafe('LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE');
      holding();
      await released;
    });
    await held;
    try {
      for (const [limit, value] of [['lock_timeout', '300ms'], ['statement_timeout', '300ms']] as const) {
        await setting(limit, value);
        // The first answers may be 503s of the connections the setting's change cut (each of the
        // pool's ten is found cut by the turn that uses it); all are 503, until the limit's own.
        const code = limit === 'lock_timeout' ? '55P03' : '57014';
        for (let i = 0; i < 12 && !`${server.stdout()}${server.stderr()}`.includes(code); i++) expect(await turn(), limit).toMatchObject(unavailable);
        expect(`${server.stdout()}${server.stderr()}`).toContain(code);
        await setting(limit, null);
      }
    } finally {
      release();
      await maintenance;
      await locker.end();
    }
    expect(`${server.stdout()}${server.stderr()}`).not.toMatch(/"unexpected error"/);
    await expectTurnAgain(base, token, conversation);
  });
});
