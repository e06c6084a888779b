// What an instance stores follows the database's clock (lib/time-base.ts, db/database-clock.ts):
// how a reading moves it, what the log says, and that ids never go back when it moves back.
import { v7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { followDatabaseClock, keepFollowingDatabaseClock } from '../../src/db/database-clock.js';
import { idsAfter, newId } from '../../src/lib/ids.js';
import { setStoredTimeOffset, storedTimeOffset } from '../../src/lib/time-base.js';

function recordingLog() {
  const lines: Array<{ level: 'info' | 'warn'; message: string }> = [];
  return {
    lines,
    info: (_fields: object, message: string) => void lines.push({ level: 'info', message }),
    warn: (_fields: object, message: string) => void lines.push({ level: 'warn', message }),
  };
}

afterEach(() => setStoredTimeOffset(0));

describe('following the database clock', () => {
  it('leaves clocks that agree within a round trip alone, and says nothing', () => {
    const log = recordingLog();
    expect(followDatabaseClock({ offsetMs: 12, uncertaintyMs: 1 }, log)).toBe(0);
    expect(followDatabaseClock({ offsetMs: -24, uncertaintyMs: 2 }, log)).toBe(0);
    expect(log.lines).toEqual([]);
  });

  it('takes a host 30 s behind, warns once, and keeps the offset through readings that wobble', () => {
    const log = recordingLog();
    expect(followDatabaseClock({ offsetMs: 30_004.4, uncertaintyMs: 1.5 }, log)).toBe(30_004);
    expect(log.lines).toEqual([{ level: 'warn', message: expect.stringMatching(/^this host's clock is 30\.0 s behind the database's: .*sync this host's clock/) }]);
    expect(followDatabaseClock({ offsetMs: 30_019, uncertaintyMs: 3 }, log)).toBe(30_004);
    expect(followDatabaseClock({ offsetMs: 29_990, uncertaintyMs: 3 }, log)).toBe(30_004);
    expect(log.lines).toHaveLength(1);
  });

  it('ignores a reading whose round trip was too slow to tell, and comes back to 0 when the host is set right', () => {
    const log = recordingLog();
    followDatabaseClock({ offsetMs: -5_000, uncertaintyMs: 2 }, log);
    expect(storedTimeOffset()).toBe(-5_000);
    expect(log.lines[0]).toMatchObject({ level: 'warn', message: expect.stringContaining('5.0 s ahead of the database') });
    expect(followDatabaseClock({ offsetMs: 4, uncertaintyMs: 400 }, log)).toBe(-5_000);
    expect(followDatabaseClock({ offsetMs: 4, uncertaintyMs: 2 }, log)).toBe(0);
    expect(log.lines[1]).toEqual({ level: 'info', message: "this host's clock agrees with the database's again" });
  });

  it('notes a small difference without a warning', () => {
    const log = recordingLog();
    expect(followDatabaseClock({ offsetMs: 120, uncertaintyMs: 2 }, log)).toBe(120);
    expect(log.lines).toEqual([{ level: 'info', message: expect.stringContaining('0.1 s behind the database') }]);
  });
});

describe('following it while serving', () => {
  it('takes a change once two readings in a row ask for it, so one odd reading moves nothing', async () => {
    const log = recordingLog();
    let task: (() => Promise<void>) | undefined;
    let databaseAhead = 0;
    // The database's clock, as its answer reads it, `databaseAhead` ms ahead of this host's.
    const sql = { query: async <T>() => [{ ms: Date.now() + databaseAhead }] as T[] };
    keepFollowingDatabaseClock({ every: (_name, _ms, run) => void (task = run) }, sql, 5_000, log);
    const tick = async (ahead: number) => {
      databaseAhead = ahead;
      await task!();
      return storedTimeOffset();
    };
    expect(await tick(30_000)).toBe(0);
    expect(await tick(0)).toBe(0);
    expect(await tick(30_000)).toBe(0);
    expect(await tick(30_000)).toBeGreaterThan(29_900);
    expect(log.lines).toHaveLength(1);
    expect(await tick(0)).toBeGreaterThan(29_900);
    expect(await tick(0)).toBe(0);
  });
});

describe('ids when the stored time moves back', () => {
  it('keep their order: each is after the one before', () => {
    const ids = [newId()];
    setStoredTimeOffset(-60_000);
    for (let i = 0; i < 1000; i++) ids.push(newId());
    setStoredTimeOffset(0);
    ids.push(newId());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('ids after those already stored', () => {
  it('sort after the newest stored, though the clock is an hour behind it', () => {
    // Stored by this host an hour ago of its clock, before it was set back. (Test files share a
    // process: ids made before in it may be ahead of the clock, so the hour is counted from them.)
    const latest = newId();
    const stored = v7({ msecs: Math.max(Date.now(), Number.parseInt(latest.slice(0, 8) + latest.slice(9, 13), 16)) + 3_600_000 });
    expect(newId() < stored).toBe(true);
    idsAfter(stored);
    const next = [newId(), newId()];
    expect([stored, ...next].sort()).toEqual([stored, ...next]);
    // An older id read later moves nothing back.
    idsAfter('00000000-0000-7000-8000-000000000000');
    expect(newId() > next[1]!).toBe(true);
  });
});
