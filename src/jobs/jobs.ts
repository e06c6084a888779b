// Background work of one instance in one place: periodic tasks (idempotency sweep, the
// cross-instance stop poll, the webhook worker) and one-off tasks that must outlive the
// request that started them (a reply stored once the database is back). Shutdown stops the
// timers and waits, for a bounded time, for what is still running.

export interface JobsLog {
  warn(fields: object, message: string): void;
}

export interface Jobs {
  /** Runs `task` every `everyMs` once started (and at start with `atStart`); a failing run is logged and the next one runs. */
  every(name: string, everyMs: number, task: () => Promise<void>, options?: { atStart?: boolean }): void;
  /** Runs the periodic task `name` now rather than at its next tick (once more after the run in progress, if one is). */
  nudge(name: string): void;
  /** Keeps a one-off task in view so shutdown can wait for it. */
  track(name: string, task: Promise<unknown>): void;
  /**
   * Runs `task` in the background until it succeeds: again after each failure `retryIf` accepts
   * (the database away), backing off from 250 ms to 5 s, for at most `forMs`.
   */
  retry(name: string, task: () => Promise<unknown>, options: { retryIf(error: unknown): boolean; forMs: number }): void;
  start(): void;
  /** Stops the timers and waits up to `timeoutMs` for running tasks. */
  drain(timeoutMs: number): Promise<void>;
  running(): number;
}

interface Periodic {
  name: string;
  everyMs: number;
  task: () => Promise<void>;
  atStart: boolean;
  timer: NodeJS.Timeout | null;
  busy: boolean;
  /** Nudged while busy: run again once this run ends. */
  again: boolean;
}

const RETRY_FIRST_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 5_000;

/** `task` until it succeeds, again after each failure `retryIf` accepts, backing off, for at most `forMs`. */
function retrying(task: () => Promise<unknown>, { retryIf, forMs }: { retryIf(error: unknown): boolean; forMs: number }): Promise<void> {
  const until = Date.now() + forMs;
  const attempt = async (delay: number): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    try {
      await task();
    } catch (error) {
      if (retryIf(error) && Date.now() < until) return attempt(Math.min(delay * 2, RETRY_MAX_DELAY_MS));
      throw error;
    }
  };
  return attempt(RETRY_FIRST_DELAY_MS);
}

/** A run of a periodic job, unless one is going (a nudge then asks for one more after it) or `may` says no. */
function runPeriodic(job: Periodic, keep: (name: string, task: Promise<unknown>) => void, may: () => boolean): void {
  // A slow run (database down) is not stacked on by the next tick.
  if (job.busy || !may()) return;
  job.busy = true;
  const done = job.task().finally(() => {
    job.busy = false;
    if (!job.again) return;
    job.again = false;
    runPeriodic(job, keep, may);
  });
  keep(job.name, done);
}

export function createJobs(log: JobsLog): Jobs {
  const periodic: Periodic[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let started = false;
  let stopped = false;

  const keep = (name: string, task: Promise<unknown>) => {
    const settled = task.then(
      () => undefined,
      (error: Error) => log.warn({ job: name, err: { message: error?.message ?? String(error) } }, `${name} failed`),
    );
    inFlight.add(settled);
    void settled.finally(() => inFlight.delete(settled));
  };

  const run = (job: Periodic) => runPeriodic(job, keep, () => started && !stopped);

  const schedule = (job: Periodic) => {
    job.timer = setInterval(() => run(job), job.everyMs);
    job.timer.unref();
    if (job.atStart) run(job);
  };

  return {
    every(name, everyMs, task, options) {
      const job: Periodic = { name, everyMs, task, atStart: options?.atStart ?? false, timer: null, busy: false, again: false };
      periodic.push(job);
      if (started && !stopped) schedule(job);
    },
    nudge(name) {
      const job = periodic.find((candidate) => candidate.name === name);
      if (!job) return;
      if (job.busy) job.again = true;
      else run(job);
    },
    track(name, task) {
      keep(name, task);
    },
    retry(name, task, options) {
      keep(name, retrying(task, options));
    },
    start() {
      if (started) return;
      started = true;
      for (const job of periodic) schedule(job);
    },
    async drain(timeoutMs) {
      stopped = true;
      for (const job of periodic) if (job.timer) clearInterval(job.timer);
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.all([...inFlight]), expired]);
      clearTimeout(timer);
    },
    running: () => inFlight.size,
  };
}
