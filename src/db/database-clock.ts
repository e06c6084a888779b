// On PostgreSQL, what an instance stores follows the database's clock (lib/time-base.ts): it reads
// that clock at start and at every heartbeat, and keeps the difference from its own. Instances
// whose hosts' clocks disagree then still write one conversation in one order. A host clock off by
// a second or more is said in the log, once each time the difference changes that much: the log's
// own times still go by the host's clock, and its other programs too.
import type { Jobs } from '../jobs/jobs.js';
import { setStoredTimeOffset, storedTimeOffset } from '../lib/time-base.js';
import type { SqlRunner } from './client.js';

const CLOCK = 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms';
const SAMPLES = 3;
/** Below this the clocks agree as well as a round trip can tell: nothing is shifted. */
const FOLLOW_FROM_MS = 25;
/** A reading whose round trip took longer than twice this tells too little to act on. */
const MAX_UNCERTAINTY_MS = 250;
const WARN_FROM_MS = 1_000;

export interface ClockReading {
  /** The database's clock minus this host's, in milliseconds. */
  offsetMs: number;
  /** Half the round trip of the best reading: how far off offsetMs may be. */
  uncertaintyMs: number;
}

/** The best of a few readings: the one with the shortest round trip. */
export async function readDatabaseClock(sql: Pick<SqlRunner, 'query'>): Promise<ClockReading> {
  let best: ClockReading | null = null;
  for (let i = 0; i < SAMPLES; i++) {
    const sent = Date.now();
    const [row] = await sql.query<{ ms: number }>(CLOCK);
    const back = Date.now();
    // Date.now() counts whole milliseconds: each end may be up to one off.
    const reading = { offsetMs: Number(row!.ms) - (sent + back) / 2, uncertaintyMs: (back - sent) / 2 + 1 };
    if (!best || reading.uncertaintyMs < best.uncertaintyMs) best = reading;
  }
  return best!;
}

interface ClockLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const describe = (ms: number) => `${(Math.abs(ms) / 1000).toFixed(1)} s ${ms > 0 ? 'behind' : 'ahead of'}`;

/** The offset a reading asks for, or null when it tells nothing the current one does not. */
function offsetWanted(reading: ClockReading): number | null {
  if (reading.uncertaintyMs > MAX_UNCERTAINTY_MS) return null;
  const wanted = Math.abs(reading.offsetMs) < FOLLOW_FROM_MS ? 0 : Math.round(reading.offsetMs);
  return Math.abs(wanted - storedTimeOffset()) <= Math.max(FOLLOW_FROM_MS, reading.uncertaintyMs) ? null : wanted;
}

function takeOffset(wanted: number, log: ClockLog): void {
  const current = storedTimeOffset();
  setStoredTimeOffset(wanted);
  const fields = { clock_offset_ms: wanted };
  if (wanted === 0) log.info(fields, "this host's clock agrees with the database's again");
  else if (Math.abs(wanted) >= WARN_FROM_MS && Math.abs(wanted - current) >= WARN_FROM_MS)
    log.warn(fields, `this host's clock is ${describe(wanted)} the database's: the ids and times Parley stores and the tokens it checks follow the database's clock, so instances keep one order; sync this host's clock (NTP: chrony, systemd-timesyncd), since the log's times and this host's other programs go by it`);
  else log.info(fields, `this host's clock is ${describe(wanted)} the database's: the ids and times Parley stores follow the database's clock`);
}

/** Takes the reading's offset when it tells a difference the current one does not (at start); returns the offset kept. */
export function followDatabaseClock(reading: ClockReading, log: ClockLog): number {
  const wanted = offsetWanted(reading);
  if (wanted !== null) takeOffset(wanted, log);
  return storedTimeOffset();
}

/**
 * Reads it again at the heartbeat's pace (server.ts reads it once before serving): a host clock
 * stepped or drifting. A change is taken once two readings in a row ask for it, so one odd
 * reading (a stall between the query and its answer) moves nothing.
 */
export function keepFollowingDatabaseClock(jobs: Pick<Jobs, 'every'>, sql: Pick<SqlRunner, 'query'>, everyMs: number, log: ClockLog): void {
  let asked: number | null = null;
  jobs.every(
    'database clock',
    everyMs,
    async () => {
      const reading = await readDatabaseClock(sql);
      const wanted = offsetWanted(reading);
      if (wanted !== null && asked !== null && Math.abs(wanted - asked) <= Math.max(FOLLOW_FROM_MS, reading.uncertaintyMs)) {
        takeOffset(wanted, log);
        asked = null;
      } else asked = wanted;
    },
    { rests: true, atWake: true },
  );
}
