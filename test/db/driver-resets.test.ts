// The PostgreSQL driver as Parley loads it (postgres.js with the guards of src/db/client.ts),
// behind a proxy that cuts every connection again and again while many callers share a small
// pool. What each caller must see: its own statement's answer, or a connection error (a 503
// to a user); never another statement's rows or error, never a statement of its transaction
// run inside someone else's transaction, never a wait without end. Faster and more direct than
// connection-resets.test.ts: every answer is checked against the statement that asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { postgresDriver } from '../../src/db/postgres-driver.js';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;

/** Fewer connections than callers: queries queue and pipeline, and connections are reused. */
const POOL_MAX = 3;
const LOOPS = 12;
const RESETS = 25;
/** The mean time between cuts; each wait is drawn at random, mostly short, so that cuts land in every phase of a connection, its start too. */
const RESET_EVERY_MS = 120;
/** Far longer than any answer should take, even on a loaded machine: a query past it hangs. */
const HANG_MS = 15_000;

/** `answered`: its own answer (or its own error); `unavailable`: a connection error; else what went wrong. */
type Outcome = { what: string; verdict: 'answered' | 'unavailable' | { wrong: string } };
const wrong = (outcome: Outcome) => typeof outcome.verdict === 'object';

let counter = 0;
/** A number no other statement of the run asks for, so any answer can be traced to its statement. */
const fresh = () => ++counter;

/** Settles as the query does, or as 'hang' once HANG_MS has passed. */
async function bounded<T>(query: Promise<T>): Promise<{ value: T } | { error: unknown } | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(resolve, HANG_MS, 'hang')));
  try {
    return await Promise.race([query.then((value) => ({ value }), (error: unknown) => ({ error })), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const describeError = (error: unknown) => {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return `${code ?? 'no code'}: ${message ?? String(error)}`;
};

/**
 * One statement's outcome: the rows it asked for, or a connection error. `expected` is what the
 * statement selects; `inTransaction` the id of the transaction it was issued in, if any.
 */
function judge(
  what: string,
  settled: Awaited<ReturnType<typeof bounded<postgres.RowList<postgres.Row[]>>>>,
  expected: { n: number; failsWith?: string; inTransaction?: string },
): Outcome {
  const was = (verdict: Outcome['verdict']) => ({ what: `${what} (${expected.n})`, verdict });
  if (settled === 'hang') return was({ wrong: 'no answer' });
  if ('error' in settled) {
    const code = (settled.error as { code?: string }).code;
    if (expected.failsWith && code === expected.failsWith) return was('answered');
    if (isDatabaseUnavailable(settled.error)) return was('unavailable');
    return was({ wrong: `failed with ${describeError(settled.error)}` });
  }
  const rows = [...settled.value];
  if (expected.failsWith) return was({ wrong: `answered ${JSON.stringify(rows)} instead of failing with ${expected.failsWith}` });
  if (rows.length !== 1 || rows[0]?.n !== expected.n) return was({ wrong: `answered ${JSON.stringify(rows)}` });
  if (expected.inTransaction !== undefined && rows[0]?.tx !== expected.inTransaction)
    return was({ wrong: `ran in transaction ${String(rows[0]?.tx)}, not in its own ${expected.inTransaction}` });
  return was('answered');
}

/** A short pause, as the service's own work between two statements of a transaction. */
const work = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 15));

/**
 * One caller's next step, in turn: a query alone, a query that fails, and a transaction of
 * three statements with work between them, the last statement failing half of the time (so
 * the transaction rolls back). Every statement is recorded, including those its transaction
 * issues after the transaction was already given up.
 */
function caller(sql: postgres.Sql, loop: number, record: (outcome: Outcome) => void, bodies: Promise<unknown>[]) {
  let step = loop;
  return async function next(): Promise<void> {
    step++;
    if (step % 3 === 0) {
      const n = fresh();
      record(judge('a query', await bounded(sql`select ${n}::int as n`.execute()), { n }));
      return;
    }
    if (step % 3 === 1) {
      const n = fresh();
      record(judge('a failing query', await bounded(sql`select ${n}::int / 0 as n`.execute()), { n, failsWith: '22012' }));
      return;
    }
    const rollsBack = Math.random() < 0.5;
    const body = async (tx: postgres.TransactionSql) => {
      const first = fresh();
      const opened = await bounded(tx`select ${first}::int as n, txid_current()::text as tx`.execute());
      record(judge('a transaction statement', opened, { n: first }));
      if (opened === 'hang') throw new Error('no answer');
      if ('error' in opened) throw opened.error;
      const id = String(opened.value[0]?.tx);
      await work();
      const second = fresh();
      record(judge('a transaction statement', await bounded(tx`select ${second}::int as n, txid_current()::text as tx`.execute()), { n: second, inTransaction: id }));
      await work();
      const third = fresh();
      const last = rollsBack
        ? tx`select ${third}::int / 0 as n, txid_current()::text as tx`
        : tx`select ${third}::int as n, txid_current()::text as tx`;
      const settled = await bounded(last.execute());
      record(judge('a transaction statement', settled, rollsBack ? { n: third, failsWith: '22012' } : { n: third, inTransaction: id }));
      if (settled !== 'hang' && 'error' in settled) throw settled.error;
    };
    // The body goes on after a cut gave up its transaction: the test waits for it to end.
    const transaction = sql.begin((tx) => {
      const running = body(tx);
      bodies.push(running.catch(() => {}));
      return running;
    });
    const settled = await bounded(transaction);
    const what = rollsBack ? 'a transaction rolled back' : 'a transaction';
    if (settled === 'hang') record({ what, verdict: { wrong: 'no answer' } });
    else if ('error' in settled) {
      const code = (settled.error as { code?: string }).code;
      if (rollsBack && code === '22012') record({ what, verdict: 'answered' });
      else if (isDatabaseUnavailable(settled.error)) record({ what, verdict: 'unavailable' });
      else record({ what, verdict: { wrong: `failed with ${describeError(settled.error)}` } });
    } else record({ what, verdict: rollsBack ? { wrong: 'committed although its last statement failed' } : 'answered' });
  };
}

describe.runIf(url)('the PostgreSQL driver with connections cut under load', () => {
  let proxy: TcpProxy;
  let sql: postgres.Sql;
  const stray: unknown[] = [];
  const onStray = (reason: unknown) => stray.push(reason);

  beforeAll(async () => {
    const target = new URL(url!);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    // The options Parley's pools use (src/db/client.ts), with a short wait between reconnects.
    sql = postgresDriver()(proxy.url(url!), { max: POOL_MAX, prepare: true, connect_timeout: 5, backoff: () => 0.02, onnotice: () => {} });
    process.on('unhandledRejection', onStray);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onStray);
    await sql?.end({ timeout: 1 });
    await proxy?.close();
  });

  it('gives every statement its own answer or a connection error, and recovers', { timeout: 120_000 }, async () => {
    const outcomes: Outcome[] = [];
    const record = (outcome: Outcome) => outcomes.push(outcome);
    const bodies: Promise<unknown>[] = [];
    const callers = Array.from({ length: LOOPS }, (_, loop) => caller(sql, loop, record, bodies));

    let resetting = true;
    const resets = (async () => {
      for (let i = 0; i < RESETS; i++) {
        await new Promise((resolve) => setTimeout(resolve, RESET_EVERY_MS * 3 * Math.random() ** 2));
        proxy.resetAll();
      }
      resetting = false;
    })();
    // Each caller goes on for a few steps past the last cut: those may still meet it.
    await Promise.all([
      resets,
      ...callers.map(async (next) => {
        for (let i = 0, past = 0; i < 1_000 && (resetting || past++ < 3); i++) await next();
      }),
    ]);

    await Promise.all(bodies);
    const tally = (verdict: string) => outcomes.filter((outcome) => outcome.verdict === verdict).length;
    console.log(`driver resets: ${outcomes.length} outcomes, ${tally('answered')} answered, ${tally('unavailable')} unavailable, ${outcomes.filter(wrong).length} wrong`);
    expect.soft(outcomes.filter(wrong)).toEqual([]);
    // A driver error that reached no caller (it surfaces as the process's unhandled rejection).
    expect.soft(stray.map(describeError)).toEqual([]);
    // The cuts landed while statements ran, or the run proved nothing.
    expect(tally('unavailable')).toBeGreaterThan(0);
    expect(tally('answered')).toBeGreaterThan(LOOPS);

    // The cuts are over: each caller's next steps all answer, each with its own answer.
    const after: Outcome[] = [];
    await Promise.all(
      Array.from({ length: LOOPS }, async (_, loop) => {
        const next = caller(sql, loop, (outcome) => after.push(outcome), bodies);
        for (let i = 0; i < 3; i++) await next();
      }),
    );
    await Promise.all(bodies);
    expect(after.filter((outcome) => outcome.verdict !== 'answered')).toEqual([]);
    expect(stray.map(describeError)).toEqual([]);
  });
});
