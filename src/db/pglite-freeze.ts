// The embedded database freezes its old rows itself. PostgreSQL stops taking writes once its
// oldest unfrozen transaction is 2^31 − 3 million old; on a server autovacuum freezes rows long
// before, but PGlite runs as one session without background workers, so nothing did. A turn uses
// two transaction ids: at 10 turns a second without pause, writes would stop after about three
// years. The limit is the whole folder's: PostgreSQL counts from the oldest `datfrozenxid` of every
// database in it, template0 and template1 included, which a session on Parley's database cannot
// freeze. So at start, once the oldest is past PGLITE_FREEZE_AGE, each database past it is frozen:
// Parley's in the session that serves (before it takes the request role), the templates each in a
// session of their own on the same folder (PGlite without a postmaster may open template0), with
// the serving one closed meanwhile and opened again after (docs/decisions.md).
import type { PGlite } from '@electric-sql/pglite';
import type { SqlRunner } from './client.js';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Jobs } from '../jobs/jobs.js';
import { COUNTERS_FILE, forgetDeadRows } from './pglite-counters.js';
import { DISK_RESERVE_BYTES, statfsFree } from './pglite-disk.js';
import { createPglite, type PgliteOptions } from './pglite.js';

/** Where PostgreSQL stops taking writes: 2^31 − 3,000,000 transactions after the oldest unfrozen one. */
export const WRAPAROUND_STOP = 2 ** 31 - 3_000_000;
/** A running server past this warns (a restart freezes); `parley doctor` warns from here too. */
export const WARN_AGE_CAP = 1_000_000_000;
/** Past this `parley doctor` fails: writes stop within 600 million transactions. */
export const FAIL_AGE = 1_500_000_000;

export type DatabaseAge = {
  name: string;
  /** Transactions since the oldest unfrozen row of this database. */
  age: number;
  /** The database this session is on. */
  current: boolean;
};

const AGES = 'SELECT datname AS name, age(datfrozenxid)::int AS age, datname = current_database() AS current FROM pg_database ORDER BY age DESC, datname';

export async function databaseAges(sql: Pick<SqlRunner, 'query'>): Promise<DatabaseAge[]> {
  return sql.query<DatabaseAge>(AGES);
}

/** The age from which a long-running embedded server warns that only a restart freezes. */
export const warnAge = (freezeAge: number): number => Math.min(10 * freezeAge, WARN_AGE_CAP);

export interface FreezeSteps {
  /** The serving session, still its own superuser (not yet in the request role). */
  current: Pick<SqlRunner, 'query' | 'exec'>;
  /** Closes the serving session, so another may open the folder. */
  closeCurrent(): Promise<void>;
  /** Opens a session on another database of the folder, runs `statement` outside a transaction, closes it. */
  runIn(database: string, statement: string): Promise<void>;
  /** Why the disk has too little room to freeze, or null. */
  shortOfRoom(): string | null;
  log: PgliteFreeze['log'];
}

/**
 * Freezes every database of the folder whose oldest unfrozen transaction is older than
 * `freezeAge`. Returns whether the serving session was closed (then it must be opened again) and
 * whether its own database was vacuumed.
 */
export async function freezeOldDatabases(steps: FreezeSteps, freezeAge: number): Promise<{ reopen: boolean; vacuumed: boolean }> {
  const old = (await databaseAges(steps.current)).filter((database) => database.age > freezeAge);
  if (old.length === 0) return { reopen: false, vacuumed: false };
  const names = old.map((database) => `${database.name} (${database.age.toLocaleString('en')} transactions old)`).join(', ');
  const short = steps.shortOfRoom();
  if (short) {
    steps.log.warn(`did not freeze the embedded database's old rows (${names}): ${short}; make room, and the next start freezes them`);
    return { reopen: false, vacuumed: false };
  }
  const started = performance.now();
  const own = old.find((database) => database.current);
  // VACUUM (FREEZE) of the whole database also moves its datfrozenxid forward.
  if (own) await steps.current.exec('VACUUM (FREEZE)');
  const others = old.filter((database) => !database.current);
  if (others.length > 0) {
    await steps.closeCurrent();
    for (const database of others) await steps.runIn(database.name, 'VACUUM (FREEZE)');
  }
  steps.log.info(`froze the embedded database's old rows (past PGLITE_FREEZE_AGE ${freezeAge.toLocaleString('en')}): ${names}, in ${Math.round(performance.now() - started)} ms`);
  return { reopen: others.length > 0, vacuumed: own !== undefined };
}

/** Bytes of the files under `dir`. */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(path) : statSync(path).size;
  }
  return total;
}

const MB = (bytes: number) => `${Math.round(bytes / 1_000_000).toLocaleString('en')} MB`;

/**
 * A freeze rewrites every page of the tables at most once, each page also into the write-ahead
 * log: room for the tables again over the reserve the disk guard keeps (pglite-disk.ts), or the
 * freeze could fill the disk in the middle of a start.
 */
function shortOfRoom(dir: string): string | null {
  const needed = DISK_RESERVE_BYTES + bytesUnder(join(dir, 'base'));
  const free = statfsFree(dir);
  return free < needed ? `${MB(free)} free on its disk, freezing may need ${MB(needed)}` : null;
}

export interface PgliteFreeze {
  /** PGLITE_FREEZE_AGE. */
  age: number;
  log: { info(line: string): void; warn(line: string): void };
}

/**
 * Before the session takes the request role: freezes the folder's databases past the age. A
 * failure (a full disk) is logged and the server starts as it would have without: the next start
 * tries again, long before writes would stop. Returns the session to serve with.
 */
export async function freezeIfOld(client: PGlite, dir: string, options: PgliteOptions, freeze: PgliteFreeze): Promise<PGlite> {
  await client.waitReady;
  let closed = false;
  const steps: FreezeSteps = {
    current: {
      query: async <T>(text: string) => (await client.query<T>(text)).rows,
      exec: async (text: string) => {
        await client.exec(text);
      },
    },
    closeCurrent: async () => {
      closed = true;
      await client.close();
    },
    runIn: async (database, statement) => {
      const other = createPglite(dir, { ...options, database });
      try {
        await other.exec(statement);
      } finally {
        await other.close();
      }
    },
    shortOfRoom: () => shortOfRoom(dir),
    log: freeze.log,
  };
  let vacuumed = false;
  try {
    ({ vacuumed } = await freezeOldDatabases(steps, freeze.age));
  } catch (error) {
    freeze.log.warn(`could not freeze the embedded database's old rows (tried again at the next start): ${(error as Error).message}`);
  }
  // The freeze vacuumed every table: the dead rows counted before this start are gone. Left as
  // they were, they only cost one VACUUM more.
  if (vacuumed) {
    try {
      forgetDeadRows(dir);
    } catch (error) {
      freeze.log.warn(`could not set the dead rows of ${COUNTERS_FILE} to zero after the freeze (a VACUUM of each table past the threshold follows): ${(error as Error).message}`);
    }
  }
  return closed ? createPglite(dir, options) : client;
}

/**
 * A server that runs on for long never reaches the freeze at start: past warnAge it says so in its
 * log, then again each time another `freezeAge` transactions have gone by.
 */
export function watchTransactionAge({ jobs, owner, log, freezeAge, everyMs }: { jobs: Pick<Jobs, 'every'>; owner: Pick<SqlRunner, 'query'>; log: { warn(fields: object, message: string): void }; freezeAge: number; everyMs: number }): void {
  let warnedAt = 0;
  jobs.every('embedded database transaction age', everyMs, async () => {
    const [oldest] = await databaseAges(owner);
    if (!oldest || oldest.age <= warnAge(freezeAge) || oldest.age - warnedAt < freezeAge) return;
    warnedAt = oldest.age;
    const left = WRAPAROUND_STOP - oldest.age;
    log.warn(
      { database: oldest.name, age: oldest.age, transactions_left: left },
      `the embedded database's oldest unfrozen transaction is ${oldest.age.toLocaleString('en')} old (database ${oldest.name}); it stops taking writes ${left.toLocaleString('en')} transactions from now: restart Parley, which freezes old rows at start`,
    );
  });
}
