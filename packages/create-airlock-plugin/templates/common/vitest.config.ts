import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test starts a real host; the first one may also build the component.
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
