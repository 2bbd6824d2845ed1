import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the component first when its sources changed (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // Each test starts a real host, which is slower on a busy machine.
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
