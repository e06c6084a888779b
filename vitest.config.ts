import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // One more file at a time than there are cores: the files wait on timers, child processes and
    // the database for part of their time (CPU 14% idle with two workers on two cores). On a 2-core
    // machine three workers took the PGlite pass from 746 s to 637 s and the PostgreSQL pass from
    // 496 s to 375 s; Vitest's default (cores − 1) ran one at a time there (docs/decisions.md).
    maxWorkers: availableParallelism() + 1,
    // Each file imported the whole app again in a fresh process: 292 s of the PGlite pass's worker
    // time. Shared, the pass took 964 s instead of 1,313 s on the same machine (docs/decisions.md).
    // So a test file leaves nothing global behind: real timers back, listeners removed.
    isolate: false,
    // The workers' young generation: with V8's default, scavenges took a share of the in-process
    // tests' time; test/chat took 145–153 s over four runs with 32 or 64 MB, against 158 and 165 s
    // (docs/decisions.md).
    execArgv: ['--max-semi-space-size=32'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
