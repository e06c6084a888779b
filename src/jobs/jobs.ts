// Background work of one instance in one place: periodic tasks (idempotency sweep, the
// cross-instance stop poll, the webhook worker) and one-off tasks that must outlive the
// request that started them (a reply stored once the database is back). Shutdown stops the
// timers and waits, for a bounded time, for what is still running. Tasks that only keep a busy
// instance's database work going may rest while the instance has nothing to do (quiet.ts).

export interface JobsLog {
  warn(fields: object, message: string): void;
}

export interface PeriodicOptions {
  /** Runs once at start too. */
  atStart?: boolean;
  /**
   * Skipped while the jobs rest (`rest()`); with `atWake`, run (and awaited) by `wake()` first. A
   * tick that fell while resting runs once at wake, behind the waking request.
   */
  rests?: boolean;
  atWake?: boolean;
}

export interface Jobs {
  /** Runs `task` every `everyMs` once started (and at start with `atStart`); a failing run is logged and the next one runs. */
  every(name: string, everyMs: number, task: () => Promise<void>, options?: PeriodicOptions): void;
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
  /** Tasks that rest are skipped from now until `wake()`. */
  rest(): void;
  /** Tasks that rest run again; those run at wake have run (or failed) when this resolves. */
  wake(): Promise<void>;
  resting(): boolean;
  /** Stops the timers and waits up to `timeoutMs` for running tasks. */
  drain(timeoutMs: number): Promise<void>;
  /**
   * Work that keeps a quiet instance awake: one-off tasks, and runs of periodic tasks that do not
   * rest. A resting task's run is not counted: once the jobs rest, it ends and no other starts.
   */
  running(): number;
}

interface Periodic {
  name: string;
  everyMs: number;
  task: () => Promise<void>;
  atStart: boolean;
  rests: boolean;
  atWake: boolean;
  timer: NodeJS.Timeout | null;
  /** The run going on, if one is. */
  busy: Promise<void> | null;
  /** Nudged while busy: run again once this run ends. */
  again: boolean;
  /** A tick fell while the jobs rested. */
  missed: boolean;
}

const RETRY_FIRST_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 5_000;

/** `task` until it succeeds, again after each failure `retryIf` accepts, backing off, for at most `forMs`. */
function retrying(task: () => Promise<unknown>, { retryIf, forMs }: { retryIf(error: unknown): boolean; forMs: number }): Promise<void> {
  // The monotonic clock: a wall clock stepped forward meanwhile gave up storing a reply or usage early.
  const until = performance.now() + forMs;
  const attempt = async (delay: number): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    try {
      await task();
    } catch (error) {
      if (retryIf(error) && performance.now() < until) return attempt(Math.min(delay * 2, RETRY_MAX_DELAY_MS));
      throw error;
    }
  };
  return attempt(RETRY_FIRST_DELAY_MS);
}

function periodicJob(name: string, everyMs: number, task: () => Promise<void>, options: PeriodicOptions = {}): Periodic {
  const { atStart = false, rests = false, atWake = false } = options;
  return { name, everyMs, task, atStart, rests, atWake, timer: null, busy: null, again: false, missed: false };
}

/** A run of a periodic job, unless one is going (a nudge then asks for one more after it) or `may` says no. */
function runPeriodic(job: Periodic, keep: (name: string, task: Promise<unknown>, rests?: boolean) => void, may: (job: Periodic) => boolean): void {
  // A slow run (database down) is not stacked on by the next tick.
  if (job.busy || !may(job)) return;
  const done = job.task().finally(() => {
    job.busy = null;
    if (!job.again) return;
    job.again = false;
    runPeriodic(job, keep, may);
  });
  job.busy = done.then(
    () => undefined,
    () => undefined,
  );
  keep(job.name, done, job.rests);
}

/** Tasks in flight, each logged if it fails; `awake`, those that are not a resting task's run. */
function inFlightTasks(log: JobsLog) {
  const inFlight = new Set<Promise<unknown>>();
  const awake = new Set<Promise<unknown>>();
  const keep = (name: string, task: Promise<unknown>, rests = false) => {
    const settled = task.then(
      () => undefined,
      (error: Error) => log.warn({ job: name, err: { message: error?.message ?? String(error) } }, `${name} failed`),
    );
    inFlight.add(settled);
    // The stop poll runs every 500 ms: counted, it kept an instance awake whenever a check fell in
    // its run, and always once a late turn of the loop had lined the check's interval up with it.
    if (!rests) awake.add(settled);
    void settled.finally(() => {
      inFlight.delete(settled);
      awake.delete(settled);
    });
  };
  return { inFlight, awake, keep };
}

/** The jobs run at wake first, awaited; then, in the background, those whose tick fell while resting. */
async function wakeJobs(periodic: Periodic[], run: (job: Periodic) => void): Promise<void> {
  const first = periodic.filter((job) => job.rests && job.atWake);
  for (const job of first) run(job);
  await Promise.all(first.map((job) => job.busy));
  // An hourly sweep's tick lands while a quiet instance rests far more often than not: it would
  // wait days for one that lands while it is awake. Run now, the waking request not waiting.
  for (const job of periodic) {
    if (!job.missed) continue;
    job.missed = false;
    if (!job.atWake) run(job);
  }
}

export function createJobs(log: JobsLog): Jobs {
  const periodic: Periodic[] = [];
  const { inFlight, awake, keep } = inFlightTasks(log);
  let started = false;
  let stopped = false;
  let resting = false;

  const run = (job: Periodic) => runPeriodic(job, keep, (candidate) => started && !stopped && !(resting && candidate.rests));

  const tick = (job: Periodic) => {
    if (resting && job.rests) job.missed = true;
    else run(job);
  };

  const schedule = (job: Periodic) => {
    job.timer = setInterval(() => tick(job), job.everyMs);
    job.timer.unref();
    if (job.atStart) run(job);
  };

  return {
    every(name, everyMs, task, options) {
      const job = periodicJob(name, everyMs, task, options);
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
    rest() {
      resting = true;
    },
    async wake() {
      if (!resting) return;
      resting = false;
      await wakeJobs(periodic, run);
    },
    resting: () => resting,
    async drain(timeoutMs) {
      stopped = true;
      for (const job of periodic) if (job.timer) clearInterval(job.timer);
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.all([...inFlight]), expired]);
      clearTimeout(timer);
    },
    running: () => awake.size,
  };
}
