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
    // The workers' young generation: with V8's default, scavenges took a share of the in-process
    // tests' time; test/chat took 145–153 s over four runs with 32 or 64 MB, against 158 and 165 s
    // (docs/decisions.md).
    execArgv: ['--max-semi-space-size=32'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
