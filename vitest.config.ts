import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Vitest's default (cores − 1) runs the files one at a time on a 2-core machine; two at a time
    // took the PGlite pass from 1,193 s to 949 s there (docs/decisions.md).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Each file imported the whole app again in a fresh process: 292 s of the PGlite pass's worker
    // time. Shared, the pass took 964 s instead of 1,313 s on the same machine (docs/decisions.md).
    // So a test file leaves nothing global behind: real timers back, listeners removed.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
