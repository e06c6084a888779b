// How many files (sockets included) this process may hold open, and holds now. Every turn holds
// two sockets while it runs, its client's and the model's; past the limit, new connections are
// reset by the kernel's accept before Node.js or Parley sees them, with nothing in any log.
import { readdirSync, readFileSync } from 'node:fs';

/** The soft "Max open files" of a /proc/<pid>/limits text; null when it is not there. */
export function parseOpenFileLimit(limits: string): number | null {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!match) return null;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** This process's open-file limit (Linux); null where it cannot be read. */
export function openFileLimit(): number | null {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** Files this process holds open now (Linux); null where it cannot be counted. */
export function openFileCount(): number | null {
  try {
    // The listing's own descriptor is among those listed.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

export interface TurnRoom {
  /** Turns at once, or null for no cap. */
  turns: number | null;
  limit: number | null;
  open: number | null;
}

/** Descriptors kept for what is neither a turn nor open at start: idle client connections, webhooks, exports, logs. */
const SPARE = 128;
/** Files the embedded database may open beyond those open at start, as requests reach more of its tables. */
export const EMBEDDED_FILES_LATER = 256;

/**
 * Turns that fit the open-file limit: two descriptors each, after what the process holds now,
 * `later` more that it will open (the rest of the database pool, the embedded database's further
 * files) and a spare 128.
 */
export function turnsWithRoom(limit: number | null, open: number | null, later: number): TurnRoom {
  if (limit === null || open === null || !Number.isFinite(limit)) return { turns: null, limit, open };
  return { turns: Math.max(1, Math.floor((limit - open - later - SPARE) / 2)), limit, open };
}

/** The open-file limit `turns` at once need, with `open` files held and `later` more to come. */
export const filesForTurns = (turns: number, open: number, later: number): number => turns * 2 + open + later + SPARE;
