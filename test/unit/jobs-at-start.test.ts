// A periodic job may run at start as well as every interval: the instance heartbeat's first beat
// is then in the database before the instance takes its first conversation (features/chat/instances.ts).
import { describe, expect, it } from 'vitest';
import { createJobs } from '../../src/jobs/jobs.js';

const log = { warn: () => {} };

describe('a periodic job', () => {
  it('with atStart runs once when the jobs start, and not before', async () => {
    const jobs = createJobs(log);
    let runs = 0;
    jobs.every('beat', 60_000, async () => void runs++, { atStart: true });
    await Promise.resolve();
    expect(runs).toBe(0);
    jobs.start();
    await Promise.resolve();
    expect(runs).toBe(1);
    await jobs.drain(1_000);
    expect(runs).toBe(1);
  });

  it('without it waits for its first interval', async () => {
    const jobs = createJobs(log);
    let runs = 0;
    jobs.every('sweep', 60_000, async () => void runs++);
    jobs.start();
    await Promise.resolve();
    expect(runs).toBe(0);
    await jobs.drain(1_000);
  });

  it('registered after the start runs at once too', async () => {
    const jobs = createJobs(log);
    jobs.start();
    let runs = 0;
    jobs.every('late', 60_000, async () => void runs++, { atStart: true });
    await Promise.resolve();
    expect(runs).toBe(1);
    await jobs.drain(1_000);
  });
});
