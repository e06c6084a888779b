import { v7 } from 'uuid';
import { storedNow } from './time-base.js';

// The last id's millisecond and counter: ids never go back, within a millisecond or when the
// clock does (a step back, or the offset to the database's clock moving), as uuid's own v7 keeps.
let lastMs = -Infinity;
let seq = 0;

/** The millisecond a UUIDv7 was made in. */
const msOf = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

/**
 * Ids from here on sort after `id` (one already stored), whatever the clock says: a host whose
 * clock is behind what the database holds (it started before NTP set it, or was stepped back
 * while the server was stopped) made ids that sorted before every message already stored.
 */
export function idsAfter(id: string): void {
  // The next millisecond: every id made from here on has a later one, or a higher count in it.
  const next = msOf(id) + 1;
  if (next > lastMs) {
    lastMs = next;
    seq = 0;
  }
}

/** Time-ordered UUIDv7 from the stored time (lib/time-base.ts): index-friendly primary keys that also sort by creation. */
export function newId(): string {
  const now = storedNow();
  if (now > lastMs) {
    lastMs = now;
    // A random start of 31 bits, as uuid's own: room to count up within the millisecond. The id's
    // other 42 random bits are uuid's, from the crypto generator.
    seq = Math.floor(Math.random() * 0x80000000);
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return v7({ msecs: lastMs, seq });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID.test(value);
