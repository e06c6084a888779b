import { storedNow } from './time-base.js';

export interface Clock {
  now(): Date;
}

/** The stored time (lib/time-base.ts): the database's clock on PostgreSQL. */
export const systemClock: Clock = { now: () => new Date(storedNow()) };
