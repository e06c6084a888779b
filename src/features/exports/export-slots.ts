// How many bulk exports one account reads from an instance at once. An export is a stream of
// batch after batch for as long as its client reads; on the embedded database each batch takes
// its turn at the one database with every other tenant's queries. Ten exports at once by one
// account left another account's turns at 263 ms p50 (7 ms idle; docs/decisions.md), so one
// account's exports past MAX_EXPORTS_PER_ACCOUNT wait for one of its own to end: 429.
import { AppError } from '../../errors/app-error.js';

export const MAX_EXPORTS_PER_ACCOUNT = 2;

export interface ExportSlots {
  /** Holds one of the account's places; throws 429 when they are all taken. Returns the release, to call once. */
  take(ownerId: string): () => void;
}

export function createExportSlots(max = MAX_EXPORTS_PER_ACCOUNT): ExportSlots {
  const taken = new Map<string, number>();
  return {
    take(ownerId) {
      const now = taken.get(ownerId) ?? 0;
      if (now >= max) {
        throw new AppError('rate_limited', `${max} exports of this account are already being read from this server; try again once one has ended`, {
          rateLimit: { policy: 'exports_per_account', limit: max, windowSeconds: 1, remaining: 0, resetSeconds: 5 },
        });
      }
      taken.set(ownerId, now + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (taken.get(ownerId) ?? 1) - 1;
        if (left === 0) taken.delete(ownerId);
        else taken.set(ownerId, left);
      };
    },
  };
}
