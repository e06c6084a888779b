// A process whose host clock is off, by Debian's libfaketime (`apt-get install -y faketime`), as a
// host without NTP or a VM resumed from a snapshot would be: nothing in Parley is told. Tests that
// need it are skipped, saying so, where the library is missing, except in CI where a skip is a failure.
import { existsSync } from 'node:fs';

export const FAKETIME_LIBRARY = process.env.FAKETIME_LIBRARY ?? '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
export const skipFaketime = !existsSync(FAKETIME_LIBRARY) && process.env.CI !== 'true';
export const faketimeSkipReason = skipFaketime ? ` (skipped: ${FAKETIME_LIBRARY} is missing; apt-get install -y faketime, or set FAKETIME_LIBRARY)` : '';

/** Environment for a child process whose wall clock is `seconds` behind; its monotonic clock (timers) is untouched. */
export function clockBehind(seconds: number): Record<string, string> {
  if (!existsSync(FAKETIME_LIBRARY)) throw new Error(`${FAKETIME_LIBRARY} is missing: apt-get install -y faketime (or set FAKETIME_LIBRARY)`);
  return { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: `-${seconds}s`, DONT_FAKE_MONOTONIC: '1' };
}
