// The time this process writes into what it stores, and checks tokens by (lib/clock.ts's
// systemClock, lib/ids.ts): ids (UUIDv7, which order a conversation's messages and every keyset
// page) and times (created_at, updated_at, which order the conversation list). Several instances
// write into one PostgreSQL database, each with its own clock; a host whose clock is behind wrote
// a message that sorted before the exchange just before it. So on PostgreSQL this follows the
// database's clock (db/database-clock.ts sets the offset); on the embedded database the process
// is the only writer and the offset stays 0.
let offsetMs = 0;

/** Milliseconds since the epoch, as the database's clock reads them (as near as measured). */
export const storedNow = (): number => Date.now() + offsetMs;

/** How far this process's clock is from the database's (added to it), in milliseconds. */
export const storedTimeOffset = (): number => offsetMs;

export function setStoredTimeOffset(ms: number): void {
  offsetMs = ms;
}
