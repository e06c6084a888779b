// PGlite keeps PostgreSQL's activity counters (each table's dead rows, its rows changed since the
// last ANALYZE) in memory only: every start begins them at zero, a clean one as much as one after a
// crash (measured: n_dead_tup and vacuum_count read 0 after a close and reopen). The upkeep's
// thresholds (pglite-vacuum.ts, pglite-statistics.ts) then counted only what changed since the
// start, and a server restarted more often than a table reaches them (a host that stops an idle
// app and starts it on the next request) would never vacuum it. So each table's counts are written
// to a file in the data folder every pass, and the next start adds them to what PostgreSQL counts
// from then on. What changed in the last pass before a stop is not carried; a VACUUM or ANALYZE of
// the table drops what was carried for it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlRunner } from './client.js';

export const COUNTERS_FILE = 'parley-counters.json';

export interface TableCounts {
  dead: number;
  modified: number;
}

const COUNTED = `
SELECT s.relname AS name, s.n_dead_tup::float8 AS dead, s.n_mod_since_analyze::float8 AS modified
  FROM pg_stat_user_tables s
 WHERE s.schemaname = current_schema()`;

export interface CarriedCounts {
  /** The counts from before this start, as jsonb for the upkeep's queries: {"table": {"dead": n, "modified": n}}. */
  json(): string;
  /** The table was vacuumed: its dead rows from before are gone. */
  vacuumed(table: string): void;
  /** The table was analyzed: ANALYZE counts its dead rows itself, and its changes start again from zero. */
  analyzed(table: string): void;
  /** Writes, for every table, what was carried plus what PostgreSQL counted since the start. */
  save(owner: Pick<SqlRunner, 'query'>): Promise<void>;
}

const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);

/** The counts a file holds; none when it is missing or not what this module writes. */
function read(file: string): Map<string, TableCounts> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return new Map();
  }
  if (typeof parsed !== 'object' || parsed === null) return new Map();
  const counts = new Map<string, TableCounts>();
  for (const [table, value] of Object.entries(parsed)) {
    const { dead, modified } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    counts.set(table, { dead: count(dead), modified: count(modified) });
  }
  return counts;
}

/** Drops the carried dead rows of every table (a VACUUM of the whole database reclaimed them); keeps the changes. */
export function forgetDeadRows(folder: string): void {
  const file = join(folder, COUNTERS_FILE);
  const counts = read(file);
  if (counts.size === 0) return;
  for (const table of counts.values()) table.dead = 0;
  write(file, Object.fromEntries(counts));
}

/** Written beside and renamed over: a stop in the middle leaves the last whole file. */
function write(file: string, counts: Record<string, TableCounts>): void {
  writeFileSync(`${file}.next`, JSON.stringify(counts));
  renameSync(`${file}.next`, file);
}

/** `folder`: the embedded database's data folder; null (in memory) carries nothing and saves nothing. */
export function carriedCounts(folder: string | null): CarriedCounts {
  const file = folder === null ? null : join(folder, COUNTERS_FILE);
  const carried = file === null ? new Map<string, TableCounts>() : read(file);
  return {
    json: () => JSON.stringify(Object.fromEntries(carried)),
    vacuumed(table) {
      const counts = carried.get(table);
      if (counts) counts.dead = 0;
    },
    analyzed(table) {
      carried.delete(table);
    },
    async save(owner) {
      if (file === null) return;
      const now = await owner.query<{ name: string; dead: number; modified: number }>(COUNTED);
      const total: Record<string, TableCounts> = {};
      for (const row of now) {
        const before = carried.get(row.name) ?? { dead: 0, modified: 0 };
        total[row.name] = { dead: before.dead + count(row.dead), modified: before.modified + count(row.modified) };
      }
      write(file, total);
    },
  };
}
