// An instance with nothing to do lets its database rest. Its background work polls the database
// (webhook deliveries each second, the instance heartbeat, sweeps): about two transactions a
// second with no user anywhere, which keeps a serverless PostgreSQL such as Neon from ever
// scaling to zero, billed as always on; and it pings Redis five times a second (revocations.ts),
// 13 million commands a month, which a Redis billed by the command charges for. Once no request has come for `afterMs`, nothing runs here
// and no webhook delivery is owed, the tasks that rest are skipped; the next request wakes them
// and waits for the heartbeat first, so no turn takes a hold under a name the others took for gone.
import type { Jobs } from './jobs.js';

export interface QuietLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface QuietWatch {
  /**
   * A request began: the instance is busy until `end()`, and awake first if it rested (the promise,
   * when it was resting or waking).
   */
  begin(): Promise<void> | null;
  /** A request that began ended. */
  end(): void;
  stop(): void;
}

export interface QuietOptions {
  jobs: Pick<Jobs, 'rest' | 'wake' | 'resting' | 'running'>;
  /** No request for this long, and nothing running: rest. */
  afterMs: number;
  /** Replies running here now. */
  replies(): number;
  /** Whether background work is still owed (a webhook delivery pending anywhere); asked once before resting. */
  owes(): Promise<boolean>;
  /** Other work that rests and wakes with the jobs (the Redis subscription's pings). */
  others?: Array<{ rest(): void; wake(): void }>;
  log: QuietLog;
  now?: () => number;
}

export function createQuietWatch(options: QuietOptions): QuietWatch {
  const { jobs, afterMs, log } = options;
  // The monotonic clock: on the wall clock, a step back (NTP, a resumed VM) kept the instance awake for as long as the step.
  const now = options.now ?? (() => performance.now());
  let lastActive = now();
  let inFlight = 0;
  let waking: Promise<void> | null = null;
  let checking = false;

  const idle = () => inFlight === 0 && options.replies() === 0 && jobs.running() === 0 && now() - lastActive >= afterMs;

  async function check() {
    if (checking || jobs.resting() || !idle()) return;
    checking = true;
    try {
      if (await options.owes()) return;
      // A request may have come while the database answered.
      if (!idle()) return;
      jobs.rest();
      for (const other of options.others ?? []) other.rest();
      log.info({ idle_s: Math.round((now() - lastActive) / 1000) }, 'no requests lately: background work against the database rests until the next one (QUIET_AFTER)');
    } catch (error) {
      log.warn({ err: { message: (error as Error).message } }, 'could not tell whether background work is owed; it goes on');
    } finally {
      checking = false;
    }
  }

  const timer = setInterval(() => void check(), Math.max(100, Math.min(afterMs / 4, 15_000)));
  timer.unref();

  function wake(): Promise<void> {
    if (!waking) for (const other of options.others ?? []) other.wake();
    waking ??= jobs.wake().finally(() => {
      waking = null;
      log.info({}, 'a request came: background work against the database goes on');
    });
    return waking;
  }

  return {
    begin() {
      inFlight++;
      lastActive = now();
      return jobs.resting() || waking ? wake() : null;
    },
    end() {
      // Never below none: an end told twice would otherwise hide a request still running.
      if (inFlight > 0) inFlight--;
      lastActive = now();
    },
    stop: () => clearInterval(timer),
  };
}
