import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: the addon's thread pool and memory counters are per process.
    pool: 'forks',
    // test/memory.test.ts drives the collector to check the FinalizationRegistry safety net.
    execArgv: ['--expose-gc'],
    testTimeout: 120_000,
    // One temporary folder per run, removed at the end (test/global_tmp.ts).
    globalSetup: ['test/global_tmp.ts'],
  },
});
