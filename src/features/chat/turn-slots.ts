// How many turns this instance runs at once (MAX_CONCURRENT_TURNS). A turn holds two sockets
// while it runs, its client's and the model's; a server past its open-file limit does not fail
// politely: the kernel resets new connections before anything hears of them, and model calls fail
// as if the model were down. So a turn past the cap is answered 503 `at_capacity` before anything
// is stored, counted or asked of the model, and the operator is told, at most once a minute.
import { AppError } from '../../errors/app-error.js';

export interface TurnSlots {
  /** Runs `work` holding one place; throws `at_capacity` when every place is taken. */
  hold<T>(work: () => Promise<T>): Promise<T>;
  /** Turns running now, for the operator's gauge. */
  running(): number;
  /** The cap; null when there is none. */
  capacity: number | null;
}

export interface TurnSlotsDeps {
  /** Null: no cap. */
  capacity: number | null;
  /** What the cap comes from, for the operator's log line. */
  source: string;
  onRefused(): void;
  log: { error(fields: object, message: string): void };
  now?: () => number;
}

const TELL_EVERY_MS = 60_000;

export function createTurnSlots(deps: TurnSlotsDeps): TurnSlots {
  const { capacity, source, onRefused, log } = deps;
  const now = deps.now ?? Date.now;
  let running = 0;
  let toldAt = Number.NEGATIVE_INFINITY;
  let refusedSinceTold = 0;

  const refuse = (): AppError => {
    onRefused();
    refusedSinceTold += 1;
    if (now() - toldAt >= TELL_EVERY_MS) {
      log.error(
        { code: 'at_capacity', running, capacity, refused: refusedSinceTold },
        `${running} turns are running, as many as this server takes at once (${source}): new turns answer 503 at_capacity. Raise the open-file limit (systemd LimitNOFILE, docker --ulimit nofile) and MAX_CONCURRENT_TURNS, or add instances`,
      );
      toldAt = now();
      refusedSinceTold = 0;
    }
    return new AppError('at_capacity', 'This server is running as many replies as it can at once; try again in a moment');
  };

  return {
    async hold(work) {
      if (capacity !== null && running >= capacity) throw refuse();
      running += 1;
      try {
        return await work();
      } finally {
        running -= 1;
      }
    },
    running: () => running,
    capacity,
  };
}
