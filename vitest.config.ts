import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-tmp.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2-core machine: two workers keep ffmpeg/model tests from starving each other.
    maxWorkers: 2,
  },
});
