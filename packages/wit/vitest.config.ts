import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Several tests spawn the generator or tsc as child processes.
    testTimeout: 60_000,
  },
});
