// Jobs that rest while the instance has nothing to do (jobs/quiet.ts): skipped until the next
// request wakes them; the heartbeat then runs first, and the request waits for it.
import { describe, expect, it } from 'vitest';
import { createJobs } from '../../src/jobs/jobs.js';

const log = { warn: () => {} };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('resting jobs', () => {
  it('are skipped while the jobs rest, and the others go on', async () => {
    const jobs = createJobs(log);
    const runs = { poll: 0, upkeep: 0 };
    jobs.every('poll', 20, async () => void runs.poll++, { rests: true });
    jobs.every('upkeep', 20, async () => void runs.upkeep++);
    jobs.start();
    jobs.rest();
    await pause(150);
    expect(runs.poll).toBe(0);
    expect(runs.upkeep).toBeGreaterThan(2);
    jobs.nudge('poll');
    expect(runs.poll).toBe(0);
    await jobs.drain(1_000);
  });

  it('wake: the jobs run at wake have finished when it resolves, and the others run again at their interval', async () => {
    const jobs = createJobs(log);
    const order: string[] = [];
    jobs.every('beat', 60_000, async () => {
      await pause(50);
      order.push('beat done');
    }, { rests: true, atWake: true });
    jobs.every('poll', 20, async () => void order.push('poll'), { rests: true });
    jobs.start();
    jobs.rest();
    expect(jobs.resting()).toBe(true);
    await jobs.wake();
    order.push('request');
    expect(jobs.resting()).toBe(false);
    expect(order.filter((entry) => entry !== 'poll')).toEqual(['beat done', 'request']);
    await pause(100);
    expect(order.filter((entry) => entry === 'poll').length).toBeGreaterThan(1);
    await jobs.drain(1_000);
  });

  it('wake: a job whose ticks fell while resting runs once, behind the request; one whose tick did not, waits for it', async () => {
    const jobs = createJobs(log);
    const runs = { sweep: 0, hourly: 0, beat: 0 };
    // An hourly sweep of a quiet instance: its tick lands while it rests far more often than not.
    jobs.every('sweep', 40, async () => void runs.sweep++, { rests: true });
    jobs.every('hourly', 3_600_000, async () => void runs.hourly++, { rests: true });
    jobs.every('beat', 40, async () => void runs.beat++, { rests: true, atWake: true });
    jobs.start();
    jobs.rest();
    await pause(300);
    expect(runs).toEqual({ sweep: 0, hourly: 0, beat: 0 });
    await jobs.wake();
    expect(runs).toEqual({ sweep: 1, hourly: 0, beat: 1 });
    await jobs.drain(1_000);
  });

  it('wake: a failing heartbeat does not hold the request back', async () => {
    const jobs = createJobs(log);
    jobs.every('beat', 60_000, async () => {
      throw new Error('database away');
    }, { rests: true, atWake: true });
    jobs.start();
    jobs.rest();
    await expect(jobs.wake()).resolves.toBeUndefined();
    await jobs.drain(1_000);
  });
});
