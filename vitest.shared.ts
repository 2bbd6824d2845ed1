/**
 * Settings every package's vitest config starts from (`mergeConfig(shared, …)`).
 * End-to-end suites build and start real components, hence the generous timeouts.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
