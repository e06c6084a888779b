import { v7 } from 'uuid';
import { storedNow } from './time-base.js';

// The last id's millisecond and counter: ids never go back, within a millisecond or when the
// clock does (a step back, or the offset to the database's clock moving), as uuid's own v7 keeps.
let lastMs = -Infinity;
let seq = 0;

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
