// An instance rests once no request has come for QUIET_AFTER (jobs/quiet.ts), even though its own
// polls keep running until then. A late event loop (a loaded machine) lines up intervals of one
// length for good: every check then fell in the same turn as the stop poll's tick, found it
// running, and the instance never rested (test/instances/quiet-instance.test.ts, under load).
import { describe, expect, it } from 'vitest';
import { createJobs } from '../../src/jobs/jobs.js';
import { createQuietWatch } from '../../src/jobs/quiet.js';

const log = { info: () => {}, warn: () => {} };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an instance nobody uses', () => {
  it('rests although a poll that rests is running at every check', async () => {
    const jobs = createJobs(log);
    // The poll's interval is the check's (QUIET_AFTER / 4), and both start in the same turn: their
    // ticks come together, the poll's first, as after a late turn of the loop.
    jobs.every('poll', 100, async () => void (await pause(30)), { rests: true });
    jobs.start();
    const watch = createQuietWatch({ jobs, afterMs: 400, replies: () => 0, owes: async () => false, log });
    try {
      await expect.poll(() => jobs.resting(), { timeout: 5_000 }).toBe(true);
    } finally {
      watch.stop();
      await jobs.drain(1_000);
    }
  });

  it('does not rest while a one-off task runs', async () => {
    const jobs = createJobs(log);
    jobs.start();
    let finish = () => {};
    jobs.track('store reply', new Promise<void>((resolve) => (finish = resolve)));
    const watch = createQuietWatch({ jobs, afterMs: 200, replies: () => 0, owes: async () => false, log });
    try {
      await pause(1_000);
      expect(jobs.resting()).toBe(false);
      finish();
      await expect.poll(() => jobs.resting(), { timeout: 5_000 }).toBe(true);
    } finally {
      watch.stop();
      await jobs.drain(1_000);
    }
  });
});
